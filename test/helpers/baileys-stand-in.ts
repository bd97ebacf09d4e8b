/**
 * Stands in for the slice of Baileys' socket the WhatsApp bot uses (WhatsApp's
 * servers cannot be reached here). Messages are built with Baileys' own
 * `generateWAMessage`, and a phone's poll vote is encrypted the way the phone
 * does it (the inverse of Baileys' `decryptPollVote`), so the bot sees exactly
 * the shapes it would see from WhatsApp.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  aesEncryptGCM,
  generateWAMessage,
  hmacSign,
  jidNormalizedUser,
  proto,
  sha256,
  type AnyMessageContent,
  type BaileysEventMap,
  type ConnectionState,
  type MiscMessageGenerationOptions,
  type UserFacingSocketConfig,
  type WAMessage,
  type WAMessageKey,
} from '@whiskeysockets/baileys';
import type { WaSocket } from '../../src/bots/whatsapp/whatsapp-socket.js';

/** A Boom-shaped error as Baileys closes with (`output.statusCode`). */
export function boom(message: string, statusCode: number): Error {
  return Object.assign(new Error(message), { isBoom: true, output: { statusCode, payload: { statusCode, error: message, message } } });
}

export const OUR_PHONE = '351210000001';
export const OUR_JID = `${OUR_PHONE}@s.whatsapp.net`;
export const OUR_LID = '90000000000001@lid';

export class BaileysStandIn implements WaSocket {
  private readonly emitter = new EventEmitter();
  readonly ev = {
    on: <T extends keyof BaileysEventMap>(event: T, listener: (arg: BaileysEventMap[T]) => void) => void this.emitter.on(event, listener),
    off: <T extends keyof BaileysEventMap>(event: T, listener: (arg: BaileysEventMap[T]) => void) => void this.emitter.off(event, listener),
  };
  user: { id: string; lid?: string } | undefined;
  readonly sent: Array<{ at: number; message: WAMessage }> = [];
  readonly pairingRequests: string[] = [];
  /** LID → phone JID, as Baileys' LID mapping store knows it. */
  readonly lids = new Map<string, string>();
  readonly signalRepository = { lidMapping: { getPNForLID: async (lid: string) => this.lids.get(jidNormalizedUser(lid)) ?? null } };
  /** Errors the next sends throw, in order (e.g. a rate-overlimit). */
  readonly failNext: Error[] = [];
  ended = false;

  constructor(
    readonly config: UserFacingSocketConfig,
    private readonly now: () => number = Date.now,
  ) {}

  async sendMessage(jid: string, content: AnyMessageContent, options?: MiscMessageGenerationOptions): Promise<WAMessage | undefined> {
    const error = this.failNext.shift();
    if (error) throw error;
    const message = await generateWAMessage(jid, content, {
      userJid: this.user?.id ?? OUR_JID,
      ...(options?.messageId ? { messageId: options.messageId } : {}),
      ...(options?.quoted ? { quoted: options.quoted } : {}),
      upload: () => Promise.reject(new Error('media upload is not part of the stand-in')),
    });
    this.sent.push({ at: this.now(), message });
    return message;
  }

  async requestPairingCode(phone: string): Promise<string> {
    this.pairingRequests.push(phone);
    return 'K7WQ2M9P';
  }

  end(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.update({ connection: 'close', lastDisconnect: { error: error ?? boom('Connection Closed', 428), date: new Date() } });
  }

  /** Emits a `connection.update` as Baileys does. */
  update(u: Partial<ConnectionState>): void {
    this.emitter.emit('connection.update', u);
  }

  /** The socket logs in and opens (our account known). */
  open(): void {
    this.user = { id: `${OUR_PHONE}:12@s.whatsapp.net`, lid: '90000000000001:12@lid' };
    // Like Baileys on login: the creds learn who we are, then `creds.update` asks for them to be saved.
    Object.assign(this.config.auth.creds, { me: this.user, registered: true });
    this.emitter.emit('creds.update', { me: this.user });
    this.update({ connection: 'open' });
  }

  /**
   * The phone scanned the QR: like Baileys' `pair-success` handler, the creds
   * learn who we are (`creds.update`), a new login is reported, and the server
   * then closes with 515 (restart required).
   */
  pairSuccess(): void {
    const me = { id: `${OUR_PHONE}:12@s.whatsapp.net`, lid: '90000000000001:12@lid' };
    Object.assign(this.config.auth.creds, { me, platform: 'android' });
    this.emitter.emit('creds.update', { me, platform: 'android' });
    this.update({ isNewLogin: true, qr: undefined });
    this.close(515);
  }

  /** The server closes the connection with this code. */
  close(statusCode: number): void {
    this.ended = true;
    this.update({ connection: 'close', lastDisconnect: { error: boom('Stream Errored', statusCode), date: new Date() } });
  }

  /** Delivers messages as `messages.upsert` (type `notify`, like live messages). */
  receive(...messages: WAMessage[]): void {
    this.emitter.emit('messages.upsert', { messages, type: 'notify' });
  }

  /** The last sent message whose content has this field (e.g. `pollCreationMessageV3`). */
  lastSent(field: keyof proto.IMessage): WAMessage | undefined {
    return [...this.sent].reverse().find((s) => s.message.message?.[field])?.message;
  }

  texts(jid?: string): string[] {
    return this.sent
      .filter((s) => !jid || s.message.key.remoteJid === jid)
      .map((s) => s.message.message?.extendedTextMessage?.text ?? s.message.message?.conversation ?? '')
      .filter(Boolean);
  }
}

/** A `makeSocket` that records every socket the bot creates. */
export function standInSockets(options: { autoOpen?: boolean; now?: () => number } = {}) {
  const sockets: BaileysStandIn[] = [];
  return {
    sockets,
    latest: () => sockets[sockets.length - 1],
    makeSocket: (config: UserFacingSocketConfig) => {
      const sock = new BaileysStandIn(config, options.now);
      sockets.push(sock);
      if (options.autoOpen) setImmediate(() => sock.open());
      return sock;
    },
  };
}

let seq = 0;
const timestamp = () => Math.floor(Date.now() / 1000);

/** Who sends a message from a phone: the chat JID (phone JID or LID) and, as WhatsApp 7 adds it, the other form. */
export interface PhoneSender {
  jid: string;
  alt?: string;
  pushName?: string;
}

function keyFrom(sender: PhoneSender): WAMessageKey {
  return { remoteJid: sender.jid, fromMe: false, id: `3A${(++seq).toString(16).padStart(6, '0')}${randomBytes(6).toString('hex').toUpperCase()}`, ...(sender.alt ? { remoteJidAlt: sender.alt } : {}) };
}

/** A text as a phone sends it: `conversation`, or `extendedTextMessage` with `contextInfo` when quoting. */
export function phoneText(sender: PhoneSender, text: string, quoted?: WAMessage): WAMessage {
  const message: proto.IMessage = quoted
    ? { extendedTextMessage: { text, contextInfo: { stanzaId: quoted.key.id, participant: OUR_JID, quotedMessage: quoted.message } } }
    : { conversation: text };
  return { key: keyFrom(sender), message, messageTimestamp: timestamp(), ...(sender.pushName ? { pushName: sender.pushName } : {}) };
}

/**
 * A vote on our poll, encrypted as a phone does: AES-256-GCM under a key
 * derived by HMAC from the poll's message secret, the poll id, its creator's
 * JID and the voter's JID (the inverse of Baileys' `decryptPollVote`).
 */
export function phoneVote(sender: PhoneSender, poll: WAMessage, option: string, ids: { voterJid?: string; creatorJid?: string } = {}): WAMessage {
  const secret = poll.message!.messageContextInfo!.messageSecret!;
  const pollMsgId = poll.key.id!;
  const voterJid = ids.voterJid ?? sender.jid;
  const creatorJid = ids.creatorJid ?? OUR_JID;
  const plain = proto.Message.PollVoteMessage.encode({ selectedOptions: option ? [sha256(Buffer.from(option))] : [] }).finish();
  const sign = Buffer.concat([Buffer.from(pollMsgId), Buffer.from(creatorJid), Buffer.from(voterJid), Buffer.from('Poll Vote'), new Uint8Array([1])]);
  const key0 = hmacSign(secret, new Uint8Array(32), 'sha256');
  const decKey = hmacSign(sign, key0, 'sha256');
  const encIv = randomBytes(12);
  const encPayload = aesEncryptGCM(plain, decKey, encIv, Buffer.from(`${pollMsgId}\u0000${voterJid}`));
  return {
    key: keyFrom(sender),
    message: {
      pollUpdateMessage: {
        pollCreationMessageKey: { remoteJid: poll.key.remoteJid, fromMe: true, id: pollMsgId },
        vote: { encPayload, encIv },
        senderTimestampMs: Date.now(),
      },
    },
    messageTimestamp: timestamp(),
    ...(sender.pushName ? { pushName: sender.pushName } : {}),
  };
}
