import express, { Router } from 'express';
import type { LocalAgentHost } from '../../branches/local-agent-host.js';
import { CodedError, ErrorCode } from '../../core/errors.js';

/**
 * Chat platforms' webhooks. No bearer token here: each channel verifies its own
 * platform's signature (Telegram: the `X-Telegram-Bot-Api-Secret-Token` header).
 */
export function webhookRoutes(deps: { local: LocalAgentHost }): Router {
  const router = Router();
  router.post('/webhooks/telegram/:agentId', async (req, res) => {
    const bot = deps.local.bot(String(req.params.agentId));
    if (!bot || bot.channel !== 'telegram' || !bot.handleWebhook) throw new CodedError(ErrorCode.NotFound, `No Telegram agent '${req.params.agentId}' runs here`);
    const status = await bot.handleWebhook(req.get('x-telegram-bot-api-secret-token'), req.body);
    if (status === 401) throw new CodedError(ErrorCode.Unauthorized, 'Missing or wrong X-Telegram-Bot-Api-Secret-Token');
    if (status === 400) throw new CodedError(ErrorCode.Validation, 'Not a Telegram update', { issues: [{ path: 'update_id', message: 'expected a Telegram Update object' }] });
    res.status(status).json({ ok: status === 200 });
  });
  return router;
}

/**
 * Slack's requests go to the agent's Bolt receiver, which checks the signature
 * and the 5-minute timestamp window itself; they are mounted before the JSON
 * parser because Bolt needs the raw body. `/webhooks/slack` works when only one
 * Slack app is configured.
 */
export function slackWebhookRoutes(deps: { local: LocalAgentHost }): Router {
  const router = Router();
  const dispatch = (agentId: string | undefined): express.RequestHandler => (req, res, next) => {
    const bots = deps.local.botsOf('slack');
    const bot = agentId ? bots.find((b) => b.id === agentId) : bots.length === 1 ? bots[0] : undefined;
    if (!bot?.httpHandler) {
      const why = agentId ? `No Slack agent '${agentId}' runs here` : bots.length === 0 ? 'No Slack agent runs here' : `Several Slack apps run here: use /webhooks/slack/<agent id> (${bots.map((b) => b.id).join(', ')})`;
      return next(new CodedError(ErrorCode.NotFound, why));
    }
    bot.httpHandler(req, res, next);
  };
  router.use('/webhooks/slack/:agentId', (req, res, next) => dispatch(String(req.params.agentId))(req, res, next));
  // `use` strips the mount path, as Bolt's router (listening on '/') expects.
  router.use('/webhooks/slack', (req, res, next) => (req.path === '/' ? dispatch(undefined)(req, res, next) : next()));
  return router;
}
