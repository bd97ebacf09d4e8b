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

/** A chat id as given by callers (`+351912345678`, `351912345678` or a JID) as a JID. */
export function toJid(chatId: string): string {
  if (chatId.includes('@')) return chatId;
  return `${chatId.replace(/\D/g, '')}@s.whatsapp.net`;
}

/** The user part (digits for a phone JID) of a JID, without device. */
export function jidUser(jid: string): string {
  return jidDecode(jidNormalizedUser(jid))?.user ?? jid.split('@')[0].split(':')[0];
}
