import {
  Browsers,
  DEFAULT_CONNECTION_CONFIG,
  jidDecode,
  jidNormalizedUser,
  makeWASocket,
  type AnyMessageContent,
  type BaileysEventEmitter,
  type MiscMessageGenerationOptions,
  type UserFacingSocketConfig,
  type WAMessage,
} from '@whiskeysockets/baileys';
import { CodedError, ErrorCode } from '../../core/errors.js';

/**
 * The slice of Baileys' socket the bot uses — all the test stand-in has to
 * provide. Baileys' real `makeWASocket` result satisfies it.
 */
export interface WaSocket {
  ev: Pick<BaileysEventEmitter, 'on' | 'off'>;
  /** Our own account once connected (`id` is the phone JID with device, `lid` the LID). */
  user?: { id: string; lid?: string; name?: string };
  /** The raw WebSocket client: every received frame (keep-alive answers included) counts as activity. */
  ws?: { on(event: 'frame', listener: (...args: unknown[]) => void): unknown };
  sendMessage(jid: string, content: AnyMessageContent, options?: MiscMessageGenerationOptions): Promise<WAMessage | undefined>;
  requestPairingCode(phoneNumber: string): Promise<string>;
  end(error: Error | undefined): unknown;
  signalRepository: { lidMapping: { getPNForLID(lid: string): Promise<string | null> } };
}

export type MakeSocket = (config: UserFacingSocketConfig) => WaSocket;

/** Baileys socket settings a caller may add to the defaults below. */
export type SocketOptions = Pick<UserFacingSocketConfig, 'connectTimeoutMs' | 'keepAliveIntervalMs' | 'defaultQueryTimeoutMs'>;

/** Baileys' own factory (the default). */
export const baileysSocket: MakeSocket = (config) => makeWASocket(config);

/**
 * Socket settings every connection uses. The WhatsApp Web version is Baileys'
 * bundled default: `fetchLatestBaileysVersion` calls GitHub, which may be
 * unreachable, so it is never called at start-up.
 */
export function socketDefaults(): Partial<UserFacingSocketConfig> {
  return {
    version: DEFAULT_CONNECTION_CONFIG.version,
    browser: Browsers.ubuntu('Coordinator'),
    markOnlineOnConnect: false,
    syncFullHistory: false,
    shouldSyncHistoryMessage: () => false,
    generateHighQualityLinkPreview: false,
  };
}

const PHONE_DIGITS = /^[1-9]\d{6,14}$/;

/**
 * A chat id as given by callers as the JID to send to: a phone number
 * (`+351 912 345 678`, `351912345678`), a phone JID (`…@s.whatsapp.net`, a
 * device suffix dropped), a LID (`…@lid`) or a group (`…@g.us`: a staff or
 * ops group; `groups: true` is only about answering customers in groups).
 * Anything else (`status@broadcast`, a newsletter, `abc`) throws a
 * `validation_failed` error, so nothing is queued for an address WhatsApp
 * would never deliver to.
 *
 * @example toJid('+351 912 345 678') // '351912345678@s.whatsapp.net'
 */
export function toJid(chatId: string): string {
  const id = chatId.trim();
  const refuse = (why: string) => new CodedError(ErrorCode.Validation, `not a WhatsApp chat to send to: '${chatId.slice(0, 80)}' (${why})`, { chatId: chatId.slice(0, 80) });
  if (!id.includes('@')) {
    const digits = id.replace(/[\s().-]/g, '').replace(/^\+/, '');
    if (!PHONE_DIGITS.test(digits)) throw refuse('expected an international phone number such as +351912345678, or a JID');
    return `${digits}@s.whatsapp.net`;
  }
  const decoded = jidDecode(id);
  const user = decoded?.user ?? '';
  switch (decoded?.server) {
    case 's.whatsapp.net':
    case 'c.us':
      if (PHONE_DIGITS.test(user)) return `${user}@s.whatsapp.net`;
      throw refuse('a phone JID needs the international number as digits');
    case 'lid':
      if (/^\d{1,20}$/.test(user)) return `${user}@lid`;
      throw refuse('a LID is digits');
    case 'g.us':
      if (/^\d+(-\d+)?$/.test(user)) return `${user}@g.us`;
      throw refuse('not a group id');
    default:
      throw refuse('only phone numbers, phone JIDs, LIDs and groups can be sent to');
  }
}

/** The user part (digits for a phone JID) of a JID, without device. */
export function jidUser(jid: string): string {
  return jidDecode(jidNormalizedUser(jid))?.user ?? jid.split('@')[0].split(':')[0];
}
