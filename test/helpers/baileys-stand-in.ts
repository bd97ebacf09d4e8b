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
  assertNodeErrorFree,
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

/**
 * WhatsApp's `rate-overlimit` exactly as Baileys throws it: a query answered
 * with `<error code="429" text="rate-overlimit"/>` goes through Baileys' own
 * `assertNodeErrorFree` (a Boom with message `rate-overlimit`, `data` 429 and
 * `output.statusCode` 500).
 */
export function rateOverlimit(): Error {
  try {
    assertNodeErrorFree({ tag: 'iq', attrs: { type: 'error' }, content: [{ tag: 'error', attrs: { code: '429', text: 'rate-overlimit' } }] });
  } catch (error) {
    return error as Error;
  }
  throw new Error('Baileys did not throw for an error node');
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
  /**
   * What Baileys' handshake sends, decided when the socket is made: a login
   * when the creds know `me`, else a registration (which WhatsApp answers
   * with QR codes).
   */
  readonly loggingIn: boolean;
  private held: Promise<void> | undefined;

  constructor(
    readonly config: UserFacingSocketConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.loggingIn = Boolean(config.auth.creds.me);
  }

  /** Sends wait (as on a slow network) until the returned function is called. */
  hold(): () => void {
    let release: () => void = () => undefined;
    this.held = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.held = undefined;
      release();
    };
  }

  async sendMessage(jid: string, content: AnyMessageContent, options?: MiscMessageGenerationOptions): Promise<WAMessage | undefined> {
    if (this.held) await this.held;
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

  /** Like Baileys: the creds take the code and the bare phone JID as `me`, and `creds.update` asks for them to be saved. */
  async requestPairingCode(phone: string): Promise<string> {
    this.pairingRequests.push(phone);
    const creds = this.config.auth.creds;
    creds.pairingCode = 'K7WQ2M9P';
    creds.me = { id: `${phone}@s.whatsapp.net`, name: '~' };
    this.emitter.emit('creds.update', creds);
    return creds.pairingCode;
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

  /**
   * WhatsApp answers the handshake: a registration gets a QR; the login of a
   * paired device (creds with an `account`) opens; the login of creds that
   * never completed pairing is refused with 401, as WhatsApp does.
   */
  answer(qr = '2@qr'): void {
    if (!this.loggingIn) return this.update({ qr });
    this.open();
  }

  /**
   * The socket logs in and opens; like Baileys on `success`, the creds learn
   * our LID and `creds.update` asks for them to be saved. Creds that never
   * paired are refused (401). As a shortcut, a socket made with fresh creds
   * stands for a number paired before the test: its creds get what pairing
   * would have given them (`me`, `account`), never `registered` (only a
   * pairing code entered on the phone sets that).
   */
  open(): void {
    const creds = this.config.auth.creds;
    if (this.loggingIn && !creds.account) return this.close(401);
    if (!this.loggingIn) Object.assign(creds, pairedCreds());
    this.user = { id: `${OUR_PHONE}:12@s.whatsapp.net`, lid: '90000000000001:12@lid' };
    const me = { ...creds.me, ...this.user };
    creds.me = me;
    this.emitter.emit('creds.update', { me });
    this.update({ connection: 'open' });
  }

  /** The manager typed the pairing code on the phone: like Baileys' `link_code_companion_reg` handler, then pair-success. */
  enterPairingCode(): void {
    this.config.auth.creds.registered = true;
    this.emitter.emit('creds.update', this.config.auth.creds);
    this.pairSuccess();
  }

  /**
   * The phone scanned the QR: like Baileys' `pair-success` handler, the creds
   * learn who we are and get the signed `account` (`creds.update`), a new
   * login is reported, and the server then closes with 515 (restart required).
   */
  pairSuccess(): void {
    const update = pairedCreds();
    Object.assign(this.config.auth.creds, update);
    this.emitter.emit('creds.update', update);
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

/** What Baileys' `configureSuccessfulPairing` adds to the creds (the account's signatures are random bytes here). */
function pairedCreds() {
  return {
    me: { id: `${OUR_PHONE}:12@s.whatsapp.net`, lid: '90000000000001:12@lid' },
    account: { details: randomBytes(40), accountSignatureKey: randomBytes(32), accountSignature: randomBytes(64), deviceSignature: randomBytes(64) },
    platform: 'android',
  };
}

/** A message as it arrives in a chat with disappearing messages on (inside `ephemeralMessage`). */
export function disappearing(m: WAMessage): WAMessage {
  return { ...m, message: { ephemeralMessage: { message: m.message } } };
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
