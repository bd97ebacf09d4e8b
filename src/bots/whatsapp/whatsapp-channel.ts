import { z } from 'zod';
import { CodedError, ErrorCode } from '../../core/errors.js';
import type { ChannelFactory, ChatLookup } from '../channel-factory.js';
import { phoneIdentity, phoneSchema } from '../phone-identity.js';
import type { WhatsAppAgentConfig } from './whatsapp-bot.js';
import { WHATSAPP_STATE_SPECS } from './whatsapp-records.js';
import { whatsAppState } from './whatsapp-state-store.js';

/**
 * WhatsApp writes one person many ways: `+351 912 345 678`, `351912345678@c.us`,
 * `…:7@s.whatsapp.net` (a device), `…@lid`. A contact is stored by the phone
 * JID (or the LID), so any of these finds them.
 */
export function whatsappChatLookup(chatId: string): ChatLookup | null {
  const [user = '', server = 's.whatsapp.net'] = chatId.trim().split('@');
  const bare = user.split(':')[0]!;
  if (server === 'lid') return /^\d{1,20}$/.test(bare) ? { externalId: `${bare}@lid` } : null;
  const digits = bare.replace(/[\s().+-]/g, '');
  if ((server !== 's.whatsapp.net' && server !== 'c.us') || !/^\d{6,15}$/.test(digits)) return null;
  return { externalId: `${digits}@s.whatsapp.net`, phone: digits };
}

/**
 * The registry entry for WhatsApp as a linked device (Baileys). The bot keeps
 * its session, lease, sent messages and outbound queue in its state namespace
 * (`wa_auth`, `wa_messages`, `wa_outbound`); without a store it cannot run.
 */
export const whatsappChannel: ChannelFactory<WhatsAppAgentConfig> = {
  channel: 'whatsapp',
  label: 'WhatsApp (linked device)',
  agentFields: {
    /** The branch's number: with it the agent also asks for a pairing code (besides the QR). */
    phone: phoneSchema.optional(),
    /** Answer group chats too (default: one-to-one chats only). */
    groups: z.boolean().default(false),
    /** Outbound governor: minimum ms between two sends (default 1500) ... */
    minGapMs: z.number({ message: 'expected milliseconds between two sends, e.g. 1500' }).int().min(200, 'expected at least 200 ms: faster sending gets numbers banned').max(600_000).default(1500),
    /** ... plus up to this much random ms (default 1000) ... */
    jitterMs: z.number({ message: 'expected milliseconds of random extra gap, e.g. 1000' }).int().min(0).max(600_000).default(1000),
    /** ... and at most this many messages in any 24 hours (default 1000). */
    dailyCap: z.number({ message: 'expected a number of messages per 24 hours, e.g. 1000' }).int().min(1).max(100_000).default(1000),
    /** Another WhatsApp WebSocket endpoint (self-hosted proxies, tests); default: WhatsApp's own. */
    waWebSocketUrl: z.string().regex(/^wss?:\/\/\S+$/, 'expected a ws:// or wss:// URL').optional(),
    /** Reconnect backoff: first delay and cap in ms (defaults 1000 and 60000). */
    reconnectBaseMs: z.number().int().min(10).max(600_000).default(1000),
    reconnectMaxMs: z.number().int().min(10).max(3_600_000).default(60_000),
    /** The health probe fails when an open socket received nothing for this long (default 90000 ms; WhatsApp pings every 30 s). */
    activityWindowMs: z.number().int().min(1000).max(3_600_000).default(90_000),
    /** How long send() waits for the queue before answering with the still-queued message's ref (default 60000 ms). */
    sendWaitMs: z.number().int().min(100).max(600_000).optional(),
  },
  credentials: { secret: [], required: [] },
  carries: { customers: true, staff: true },
  identity: phoneIdentity('whatsapp'),
  state: WHATSAPP_STATE_SPECS,
  chatLookup: whatsappChatLookup,
  acceptsGroups: (config) => config.groups === true,
  async create(config, context) {
    if (!context.state) {
      throw new CodedError(ErrorCode.Config, `WhatsApp agent ${config.id} needs a store for its session and outbound queue (BotContext.state is not set)`, { agentId: config.id });
    }
    const state = whatsAppState(context.state('whatsapp'), config.id);
    const { WhatsAppBot } = await import('./whatsapp-bot.js');
    return new WhatsAppBot(config, context, { state, clock: context.clock });
  },
};
