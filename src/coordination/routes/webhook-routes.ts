import { Router } from 'express';
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
