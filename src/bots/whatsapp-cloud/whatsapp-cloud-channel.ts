import { z } from 'zod';
import { CodedError, ErrorCode } from '../../core/errors.js';
import { optionalUrlField } from '../channel-fields.js';
import type { ChannelBots, ChannelFactory, ChatLookup, WebhookRoute } from '../channel-factory.js';
import { phoneIdentity } from '../phone-identity.js';
import type { WhatsAppCloudAgentConfig } from './cloud-config.js';
import { CLOUD_STATE_SPECS, cloudState } from './cloud-state.js';
import { readRawBody } from './raw-body.js';

/** The Graph API version used unless an agent sets `graphApiVersion` (the newest Meta listed at the time of writing). */
export const DEFAULT_GRAPH_API_VERSION = 'v26.0';

const ms = (what: string, min: number, max: number) =>
  z.number({ message: `expected ${what} in milliseconds` }).int().min(min, `expected at least ${min} ms`).max(max, `expected at most ${max} ms`);
/** A credential pasted whole: one line of printable characters, surrounding spaces dropped (a line break in it would reach an HTTP header). */
const oneLine = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^[\x21-\x7e]*$/, `expected the ${what} as one line of printable characters (was a line break or a space pasted with it?)`)
    .default('');
const optionalUrl = optionalUrlField('the Graph API base, e.g. https://graph.facebook.com');

/** What the webhook routes need of a bot (the bot module itself is loaded only by `create`). */
interface CloudReceiver {
  verifySubscription(query: Record<string, unknown>): string | null;
  acceptWebhook(raw: Buffer, signature: string | undefined): void;
}
const receiverOf = (bots: ChannelBots, agentId: string): CloudReceiver => {
  const bot = bots.get(agentId) as unknown as Partial<CloudReceiver> | undefined;
  if (!bot?.acceptWebhook || !bot.verifySubscription) throw new CodedError(ErrorCode.NotFound, `No WhatsApp Cloud API agent '${agentId}' runs here`);
  return bot as CloudReceiver;
};

/**
 * Meta's webhook for one agent: `GET` is the subscription check (echo
 * `hub.challenge` when `hub.verify_token` is right), `POST` the signed events.
 * Raw-body routes, since `X-Hub-Signature-256` covers the exact bytes.
 */
const webhooks: WebhookRoute[] = [
  {
    method: 'get',
    path: '/:agentId',
    body: 'raw',
    handle(bots, req, res) {
      const challenge = receiverOf(bots, String(req.params.agentId)).verifySubscription(req.query as Record<string, unknown>);
      if (challenge === null) throw new CodedError(ErrorCode.Unauthorized, 'Wrong hub.verify_token (or hub.mode is not subscribe)');
      res.status(200).type('text/plain').send(challenge);
    },
  },
  {
    method: 'post',
    path: '/:agentId',
    body: 'raw',
    async handle(bots, req, res) {
      const bot = receiverOf(bots, String(req.params.agentId));
      const raw = await readRawBody(req);
      bot.acceptWebhook(raw, req.get('x-hub-signature-256'));
      res.status(200).json({ ok: true });
    },
  },
];

/** A phone number in any form (`+351 912 345 678`, `351912345678`, `…@s.whatsapp.net`) is its digits; a LID or group is not ours. */
export function cloudChatLookup(chatId: string): ChatLookup | null {
  const [user = '', server] = chatId.trim().split('@');
  if (server !== undefined && server !== 's.whatsapp.net' && server !== 'c.us') return null;
  const digits = user.split(':')[0]!.replace(/[\s().+-]/g, '');
  return /^\d{6,15}$/.test(digits) ? { externalId: digits, phone: digits } : null;
}

/**
 * The registry entry for Meta's WhatsApp Business Platform (Cloud API):
 * official, with real Approve/Reject buttons; managers are named by phone
 * under the `whatsapp` key it shares with the linked-device channel.
 */
export const whatsappCloudChannel: ChannelFactory<WhatsAppCloudAgentConfig> = {
  channel: 'whatsapp-cloud',
  label: 'WhatsApp Cloud API',
  agentFields: {
    phoneNumberId: z
      .string()
      .trim()
      .regex(/^\d*$/, 'expected the Phone number ID from WhatsApp Manager / API Setup (digits; not the phone number itself)')
      .default(''),
    accessToken: oneLine('access token'),
    appSecret: oneLine('app secret'),
    verifyToken: oneLine('verify token'),
    graphApiVersion: z.string().regex(/^v\d+\.\d+$/, `expected a Graph API version such as ${DEFAULT_GRAPH_API_VERSION}`).default(DEFAULT_GRAPH_API_VERSION),
    /** An approved template with two quick-reply buttons (Approve, then Reject), for managers outside the 24-hour window. */
    approvalTemplate: z
      .strictObject({
        name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'expected the template name as approved (lowercase letters, digits and _)'),
        language: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2,4})?$/, 'expected the template language code as approved, e.g. en or pt_PT').default('en'),
      })
      .optional(),
    /** Rate limits (130429, 131056): retry this many times, waiting baseMs, doubling, up to maxMs; never more than 2 minutes of waits for one send. */
    retry: z
      .strictObject({
        attempts: z.number({ message: 'expected a number of retries, e.g. 3' }).int().min(0).max(8, 'expected at most 8 retries').default(3),
        baseMs: ms('the first wait', 10, 60_000).default(1000),
        maxMs: ms('the longest wait', 10, 60_000).default(30_000),
      })
      .refine((r) => r.maxMs >= r.baseMs, { message: 'expected maxMs to be at least baseMs', path: ['maxMs'] })
      .default({ attempts: 3, baseMs: 1000, maxMs: 30_000 }),
    requestTimeoutMs: ms('how long one Graph API call may take', 1000, 120_000).default(15_000),
  },
  credentials: { secret: ['accessToken', 'appSecret', 'verifyToken'], required: ['accessToken', 'appSecret', 'verifyToken', 'phoneNumberId'] },
  carries: { customers: true, staff: true },
  identity: phoneIdentity('whatsapp'),
  env: { WHATSAPP_GRAPH_URL: optionalUrl },
  state: CLOUD_STATE_SPECS,
  webhooks,
  chatLookup: cloudChatLookup,
  acceptsGroups: () => false,
  async create(config, context) {
    if (!context.state) {
      throw new CodedError(ErrorCode.Config, `WhatsApp Cloud API agent ${config.id} needs a store for its message statuses and 24-hour windows (BotContext.state is not set)`, { agentId: config.id });
    }
    const state = cloudState(context.state('whatsapp-cloud'), config.id);
    const { WhatsAppCloudBot } = await import('./whatsapp-cloud-bot.js');
    return new WhatsAppCloudBot(config, context, state);
  },
};
