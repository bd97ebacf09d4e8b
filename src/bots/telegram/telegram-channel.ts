import { z } from 'zod';
import { CodedError, ErrorCode } from '../../core/errors.js';
import { credentialField, optionalUrlField } from '../channel-fields.js';
import type { ChannelFactory, WebhookRoute } from '../channel-factory.js';
import type { TelegramAgentConfig } from './telegram-bot.js';

const credential = credentialField();
const optionalUrl = optionalUrlField('a self-hosted Telegram Bot API server, e.g. http://127.0.0.1:8081');

type WebhookHandler = (secretHeader: string | undefined, body: unknown) => Promise<number>;

/** Telegram's webhook: the bot checks the `X-Telegram-Bot-Api-Secret-Token` header and answers a status. */
const webhook: WebhookRoute = {
  method: 'post',
  path: '/:agentId',
  body: 'json',
  async handle(bots, req, res) {
    const bot = bots.get(String(req.params.agentId)) as { handleWebhook?: WebhookHandler } | undefined;
    if (!bot?.handleWebhook) throw new CodedError(ErrorCode.NotFound, `No Telegram agent '${req.params.agentId}' runs here`);
    const status = await bot.handleWebhook(req.get('x-telegram-bot-api-secret-token'), req.body);
    if (status === 401) throw new CodedError(ErrorCode.Unauthorized, 'Missing or wrong X-Telegram-Bot-Api-Secret-Token');
    if (status === 400) throw new CodedError(ErrorCode.Validation, 'Not a Telegram update', { issues: [{ path: 'update_id', message: 'expected a Telegram Update object' }] });
    res.status(status).json({ ok: status === 200 });
  },
};

/** The registry entry for Telegram (grammY): customers and managers alike. */
export const telegramChannel: ChannelFactory<TelegramAgentConfig> = {
  channel: 'telegram',
  label: 'Telegram',
  agentFields: {
    token: credential,
    /** Public HTTPS base URL; when set the bot uses a webhook instead of long polling. */
    webhookUrl: z.url().optional(),
    webhookSecret: credential,
    /** Minimum ms between two getUpdates calls (default 250). */
    pollMinIntervalMs: z.number().int().min(0).max(60_000).optional(),
  },
  credentials: { secret: ['token', 'webhookSecret'], required: ['token'] },
  carries: { customers: true, staff: true },
  identity: {
    key: 'telegram',
    schema: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)], { message: 'expected a numeric Telegram user id' }).transform(String),
    matches: (configured, userId) => configured === userId,
  },
  env: { TELEGRAM_API_ROOT: optionalUrl },
  webhooks: [webhook],
  async create(config, context) {
    const { TelegramBot } = await import('./telegram-bot.js');
    return new TelegramBot(config, context);
  },
};
