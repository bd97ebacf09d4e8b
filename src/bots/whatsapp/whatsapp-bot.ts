import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  generateMessageID,
  isLidUser,
  isPnUser,
  jidNormalizedUser,
  type AnyMessageContent,
  type ConnectionState,
  type proto,
  type WAMessage,
  type WAMessageKey,
} from '@whiskeysockets/baileys';
import type { Logger } from '../../config/logger.js';
import { isoNow, systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { CodedError, ErrorCode } from '../../core/errors.js';
import { Listeners } from '../../core/listeners.js';
import type { ApprovalOutcome, ApprovalPrompt, BotAgent, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bot-agent.js';
import type { BotContext } from '../channel-registry.js';
import { pollContent, renderPromptText } from './approval-poll.js';
import { baileysLogger } from './baileys-logger.js';
import { NumberLease, type LeaseLoss } from './number-lease.js';
import { backoffMs, classifyDisconnect, type DisconnectInfo } from './disconnect-reason.js';
import { DEFAULT_GOVERNOR, OutboundGovernor, type OutboundPayload } from './outbound-governor.js';
import { deserialise, loadAuthState, type StoredAuthState } from './store-auth-state.js';
import { WhatsAppDecisions } from './whatsapp-decisions.js';
import { readInbound } from './whatsapp-inbound.js';
import { baileysSocket, jidUser, socketDefaults, toJid, type MakeSocket, type WaSocket } from './whatsapp-socket.js';
import type { WhatsAppState } from './whatsapp-state.js';

/** A WhatsApp agent as configured (see the whatsapp branch of `agentConfigSchema`). */
export interface WhatsAppAgentConfig {
  id: string;
  /** The branch's number: with it, a pairing code is requested besides the QR. */
  phone?: string;
  /** Answer group chats too (default: one-to-one chats only). */
  groups?: boolean;
  minGapMs?: number;
  jitterMs?: number;
  dailyCap?: number;
  /** Another WhatsApp WebSocket endpoint (self-hosted proxies, tests). */
  waWebSocketUrl?: string;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** The probe fails when nothing was received on an open socket for this long. */
  activityWindowMs?: number;
  /** How long `send` waits for the queue before answering with the queued message's ref. */
  sendWaitMs?: number;
}

/** What the bot needs besides its config; tests pass a socket stand-in and a manual clock. */
export interface WhatsAppBotDeps {
  state: WhatsAppState;
  makeSocket?: MakeSocket;
  clock?: Clock;
  random?: () => number;
  /** The lease owner name (default: host, pid and a random part). */
  owner?: string;
  leaseTtlMs?: number;
}

type Halt = { detail: string; needsHuman: boolean };

/**
 * One WhatsApp number (Baileys 7) as a BotAgent: pairing by QR or code, auth
 * state in the store under a lease, reconnects by disconnect reason, a probe on
 * socket state and activity, a persisted outbound governor, approvals as a text
 * plus a poll, and customer messages as events.
 */
export class WhatsAppBot implements BotAgent {
  readonly channel = 'whatsapp';
  readonly id: string;
  private readonly listeners = new Listeners<BotEvent>();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly lease: NumberLease;
  private readonly governor: OutboundGovernor;
  private readonly decisions: WhatsAppDecisions;
  private sock: WaSocket | undefined;
  private auth: StoredAuthState | undefined;
  private running = false;
  private open = false;
  private attempt = 0;
  private lastActivity = 0;
  private lastClose: (DisconnectInfo & { at: string }) | undefined;
  private halted: Halt | undefined;
  private pairing: { qr?: string; code?: string } | undefined;
  private newLogin = false;
  /** Reconnecting after the 515 that follows a pairing: the next open reports `paired`. */
  private justPaired = false;
  /** The stored session must be cleared before the next connection (after 401/403/411/500). */
  private resetSession = false;
  private pairingRequested = false;
  private reconnectTimer: TimerHandle | undefined;
  /** Bumped by every start and stop: work begun under an older one must not open a socket. */
  private generation = 0;

  constructor(
    private readonly config: WhatsAppAgentConfig,
    private readonly context: BotContext,
    private readonly deps: WhatsAppBotDeps,
  ) {
    this.id = config.id;
    this.log = context.logger.child({ module: 'whatsapp', agentId: config.id });
    this.clock = deps.clock ?? systemClock;
    this.governor = new OutboundGovernor({
      state: deps.state,
      clock: this.clock,
      logger: this.log,
      agentId: config.id,
      random: deps.random,
      options: { ...DEFAULT_GOVERNOR, ...pick(config, ['minGapMs', 'jitterMs', 'dailyCap']) },
    });
    this.lease = new NumberLease({
      store: deps.state.lease,
      owner: deps.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      ttlMs: deps.leaseTtlMs ?? 60_000,
      clock: this.clock,
      log: this.log,
      onLost: (loss) => this.onLeaseLost(loss),
    });
    this.decisions = new WhatsAppDecisions({
      agentId: config.id,
      state: deps.state,
      context,
      log: this.log,
      reply: async (jid, text, quotedKeyId) => void (await this.queue(jid, { content: { text }, ...(quotedKeyId ? { quotedKeyId } : {}) }, { requireOpen: false })),
      phoneOf: (jids) => this.phoneOf(jids),
      meIds: () => [this.sock?.user?.id, this.sock?.user?.lid, this.auth?.state.creds.me?.id, this.auth?.state.creds.me?.lid].filter((j): j is string => Boolean(j)),
    });
  }

  async start(): Promise<void> {
    if (this.running) return;
    const lease = await this.lease.acquire();
    if (!lease.ok) {
      const why = `WhatsApp agent ${this.id} is already driven by another process (${lease.holder}, lease until ${lease.expiresAt}); stop that one first — two processes must never drive the same number`;
      // Not "needs a person": after a crash the old lease simply expires, and the health monitor's restart then succeeds.
      this.halted = { detail: why, needsHuman: false };
      throw new CodedError(ErrorCode.Conflict, why, { agentId: this.id, holder: lease.holder });
    }
    this.running = true;
    this.generation++;
    this.halted = undefined;
    this.attempt = 0;
    try {
      await this.governor.start();
      await this.connect();
    } catch (error) {
      // A store that fails now must not leave a half-started bot holding the lease (a restart would find it "running").
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.generation++;
    this.clearTimers();
    this.governor.stop();
    await this.dropSocket();
    await this.auth?.flush();
    this.auth = undefined;
    await this.lease.release();
  }

  async probe(): Promise<ProbeResult> {
    if (this.halted) return { ok: false, needsHuman: this.halted.needsHuman, detail: this.halted.detail };
    if (!this.running) return { ok: false, detail: 'not started' };
    if (this.pairing) {
      const how = this.pairing.code ? `enter the pairing code ${this.pairing.code} on the phone, or scan the QR on the dashboard` : 'scan the QR on the dashboard with WhatsApp > Linked devices';
      return { ok: false, needsHuman: true, detail: `needs pairing: ${how}` };
    }
    // Reconnecting with its own backoff: the health monitor must not restart it over that.
    if (!this.open) return this.lastClose ? { ok: false, reconnecting: true, detail: `disconnected: ${this.lastClose.reason} at ${this.lastClose.at}; reconnecting` } : { ok: false, detail: 'connecting' };
    const idleMs = this.clock.now() - this.lastActivity;
    const window = this.config.activityWindowMs ?? 90_000;
    if (idleMs > window) return { ok: false, detail: `socket open but nothing received for ${Math.round(idleMs / 1000)} s` };
    return { ok: true, latencyMs: 0, detail: `connected as +${this.sock?.user ? jidUser(this.sock.user.id) : '?'}` };
  }

  async send(chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    const jid = toJid(chatId);
    const keyId = await this.queue(jid, { content: { text }, ...(options?.replyTo ? { quotedKeyId: options.replyTo } : {}) });
    return { chatId: jid, messageId: keyId };
  }

  /** The text then the poll, queued back to back; answers once the poll went out (its id is the prompt's ref). */
  async promptApproval(chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    const jid = toJid(chatId);
    const tag = { approvalId: prompt.approvalId, approvalCode: prompt.code };
    await this.queue(jid, { content: { text: renderPromptText(prompt) }, ...tag }, { wait: false });
    const pollId = await this.queue(jid, { content: pollContent(prompt, randomBytes(32)), ...tag }, { requireOpen: false });
    return { chatId: jid, messageId: pollId };
  }

  async updateApproval(ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    await this.decisions.onOutcome(ref, outcome);
  }

  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  /**
   * Persists and queues one message; waits (up to `sendWaitMs`) until it is
   * sent and returns its message id — also when the wait ends first or the
   * agent stops meanwhile: the message stays queued and goes out later, so
   * failing would make a caller fall back and send it twice. Refuses while
   * the number is not connected (unless `requireOpen` is false), so callers
   * can fall back to another channel.
   */
  private async queue(jid: string, payload: OutboundPayload, how: { requireOpen?: boolean; wait?: boolean } = {}): Promise<string> {
    if ((how.requireOpen ?? true) && !this.open) throw new CodedError(ErrorCode.DeliveryFailed, `WhatsApp agent ${this.id} is not connected${this.lastClose ? ` (${this.lastClose.reason})` : ''}`, { agentId: this.id });
    const keyId = generateMessageID();
    const { done } = await this.governor.enqueue(jid, payload, keyId);
    if (how.wait === false) return keyId;
    let timer: TimerHandle | undefined;
    const waited = new Promise<'timeout'>((resolve) => (timer = this.clock.setTimeout(() => resolve('timeout'), this.config.sendWaitMs ?? 60_000)));
    try {
      const result = await Promise.race([done, waited]);
      if (result === 'timeout' || result === undefined) this.log.info('message still queued; it will go out when the queue reaches it', { keyId });
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
    return keyId;
  }

  private async connect(): Promise<void> {
    const generation = this.generation;
    const current = () => this.running && !this.halted && generation === this.generation;
    if (!current()) return;
    if (this.resetSession) {
      await this.auth?.flush();
      this.auth = undefined;
      await this.deps.state.auth.clear();
      this.resetSession = false;
    }
    // Reused across reconnects (Baileys keeps the creds it updates in this object): the 515 right after pairing
    // must not read the creds back from the store before `saveCreds` has reached it.
    const auth = this.auth ?? (await loadAuthState(this.deps.state.auth, baileysLogger(this.log)));
    if (!current()) return;
    this.auth = auth;
    const sock = (this.deps.makeSocket ?? baileysSocket)({
      ...socketDefaults(),
      auth: auth.state,
      logger: baileysLogger(this.log),
      ...(this.config.waWebSocketUrl ? { waWebSocketUrl: this.config.waWebSocketUrl } : {}),
      getMessage: (key) => this.getMessage(key),
    });
    this.sock = sock;
    this.pairingRequested = false;
    const mine = <T>(fn: (arg: T) => unknown) => (arg: T) => {
      if (this.sock !== sock) return;
      this.touch();
      const failed = (error: unknown) => this.log.error('WhatsApp event handling failed', { error });
      try {
        // Called at once (a close must mark the number down before anything else runs); async failures are logged too.
        void Promise.resolve(fn(arg)).catch(failed);
      } catch (error) {
        failed(error);
      }
    };
    sock.ev.on('creds.update', mine(() => auth.saveCreds()));
    sock.ev.on('connection.update', mine((u: Partial<ConnectionState>) => this.onConnection(sock, u)));
    sock.ev.on('messages.upsert', mine(({ messages, type }: { messages: WAMessage[]; type: string }) => (type === 'notify' && Array.isArray(messages) ? this.onMessages(messages) : undefined)));
    sock.ws?.on('frame', () => this.sock === sock && this.touch());
  }

  /** Connects after `delay` ms; a connect that fails (the store, say) is retried with backoff instead of leaving the number down. */
  private reconnect(delay: number): void {
    this.clearTimers();
    const attempt = () =>
      void this.connect().catch((error: unknown) => {
        const next = this.backoff();
        this.log.error(`WhatsApp could not connect; retrying in ${next} ms`, { error });
        this.reconnect(next);
      });
    if (delay <= 0) return attempt();
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      attempt();
    }, delay);
  }

  private backoff(): number {
    return backoffMs(this.attempt++, this.config.reconnectBaseMs ?? 1000, this.config.reconnectMaxMs ?? 60_000, this.deps.random);
  }

  private async onConnection(sock: WaSocket, u: Partial<ConnectionState>): Promise<void> {
    if (u.qr) {
      this.pairing = { ...this.pairing, qr: u.qr };
      this.listeners.emit({ type: 'pairing', agentId: this.id, qr: u.qr });
      this.log.warn(`WhatsApp agent ${this.id} needs pairing: scan the QR on the dashboard (WhatsApp > Linked devices > Link a device)`);
      if (this.config.phone && !this.pairingRequested && !this.auth?.state.creds.registered) {
        this.pairingRequested = true;
        const code = await sock.requestPairingCode(this.config.phone.replace(/\D/g, ''));
        this.pairing = { ...this.pairing, code };
        this.listeners.emit({ type: 'pairing', agentId: this.id, pairingCode: code });
        this.log.warn(`WhatsApp agent ${this.id} pairing code: ${code} (WhatsApp > Linked devices > Link with phone number)`);
      }
    }
    if (u.isNewLogin) this.newLogin = true;
    if (u.connection === 'open') {
      this.open = true;
      this.attempt = 0;
      this.lastClose = undefined;
      const paired = this.newLogin || this.justPaired || Boolean(this.pairing);
      this.pairing = undefined;
      this.newLogin = false;
      this.justPaired = false;
      this.governor.setSender((jid, content: AnyMessageContent, options) => sock.sendMessage(jid, content, options));
      this.listeners.emit({ type: 'connection', agentId: this.id, state: 'open', detail: sock.user ? `+${jidUser(sock.user.id)}` : undefined });
      if (paired) this.listeners.emit({ type: 'pairing', agentId: this.id, paired: true });
      this.log.info(`WhatsApp connected${sock.user ? ` as +${jidUser(sock.user.id)}` : ''}`);
    }
    if (u.connection === 'close') await this.onClose(u.lastDisconnect?.error);
  }

  private async onClose(error: unknown): Promise<void> {
    const info = classifyDisconnect(error);
    this.open = false;
    this.sock = undefined;
    this.governor.setSender(undefined);
    this.lastClose = { ...info, at: isoNow(this.clock) };
    this.listeners.emit({ type: 'connection', agentId: this.id, state: 'closed', detail: info.reason });
    if (!this.running || this.halted) return;
    if (info.kind === 'transient') {
      if (info.code === 515 && this.newLogin) {
        // Expected right after pairing: reconnect at once with the same (just registered) creds, quietly.
        this.newLogin = false;
        this.justPaired = true;
        this.log.debug('restart required after pairing; reconnecting');
        return this.reconnect(0);
      }
      const delay = this.backoff();
      this.log.warn(`WhatsApp disconnected: ${info.reason}; reconnecting in ${delay} ms`);
      return this.reconnect(delay);
    }
    if (info.kind === 'replaced') {
      this.halt({ needsHuman: true, detail: `stopped: ${info.reason} — another WhatsApp session took over this number; close it, then restart this agent` });
      return;
    }
    // The session is dead: forget it (now, and again before the next connection if the store fails now).
    this.resetSession = true;
    if (info.kind === 'logged_out') {
      this.halt({ needsHuman: true, detail: `needs pairing: ${info.reason}; the stored session was cleared — restart the agent (dashboard, or POST /api/agents/${this.id}/restart) and scan the new QR` });
      await this.auth?.flush();
      this.auth = undefined;
      await this.deps.state.auth.clear();
      this.resetSession = false;
      return;
    }
    // Bad session or mismatch: pair again at once the first time; if it keeps happening, with backoff (no tight loop).
    const delay = this.attempt === 0 ? 0 : backoffMs(this.attempt - 1, this.config.reconnectBaseMs ?? 1000, this.config.reconnectMaxMs ?? 60_000, this.deps.random);
    this.attempt++;
    this.log.warn(`WhatsApp ${info.reason}: session keys reset; pair the number again${delay ? ` (in ${delay} ms)` : ''}`);
    this.pairing = {};
    this.reconnect(delay);
  }

  /** Stops reconnecting (a person must act) but keeps the lease, so nobody else fights for the number meanwhile. */
  private halt(halt: Halt): void {
    this.halted = halt;
    this.clearTimers();
    this.log.error(`WhatsApp agent ${this.id} ${halt.detail}`);
  }

  private async onMessages(messages: WAMessage[]): Promise<void> {
    for (const m of messages) {
      // One malformed message must not drop the rest of the batch.
      await this.onMessage(m).catch((error: unknown) => this.log.error('a received WhatsApp message could not be handled; skipped', { error, messageId: m?.key?.id }));
    }
  }

  private async onMessage(m: WAMessage): Promise<void> {
    const inbound = readInbound(m, { groups: Boolean(this.config.groups) });
    if (!inbound) return;
    if (inbound.kind === 'vote') return this.decisions.onVote(m);
    const { chatJid, group, text, quotedId } = inbound;
    const phone = await this.phoneOf(inbound.phoneJids);
    if (!group && (await this.decisions.onText(chatJid, text, phone, quotedId))) return;
    this.listeners.emit({
      type: 'message',
      message: {
        agentId: this.id,
        channel: 'whatsapp',
        chatId: chatJid,
        senderId: jidNormalizedUser(inbound.senderJid),
        ...(inbound.pushName ? { senderName: inbound.pushName } : {}),
        text,
        at: new Date(inbound.atMs ?? this.clock.now()).toISOString(),
        ...(inbound.messageId ? { messageId: inbound.messageId } : {}),
        ...(quotedId ? { replyToMessageId: quotedId } : {}),
        ...(phone ? { senderPhone: phone } : {}),
        ...(group ? { group } : {}),
      },
    });
  }

  /** Phone digits behind JIDs: a phone JID directly, a LID through Baileys' LID→phone mapping. */
  private async phoneOf(jids: Array<string | null | undefined>): Promise<string | undefined> {
    const list = jids.filter((j): j is string => Boolean(j));
    const pn = list.find((j) => isPnUser(j));
    if (pn) return jidUser(pn);
    for (const lid of list.filter((j) => isLidUser(j))) {
      const mapped = await this.sock?.signalRepository.lidMapping.getPNForLID(lid).catch(() => null);
      if (mapped) return jidUser(mapped);
    }
    return undefined;
  }

  /** Baileys' `getMessage`: our sent messages from the store (retries and polls need them). */
  private async getMessage(key: WAMessageKey): Promise<proto.IMessage | undefined> {
    if (!key.id) return undefined;
    const stored = await this.deps.state.messages.get(key.id, key.fromMe ?? true);
    return stored ? (deserialise<WAMessage>(stored.message).message ?? undefined) : undefined;
  }

  private touch(): void {
    this.lastActivity = this.clock.now();
  }

  /** The lease is not ours any more (taken over, or expired while renewals failed): stop driving the number at once. */
  private onLeaseLost(loss: LeaseLoss): void {
    if (!this.running) return;
    this.halt({ needsHuman: loss.takenOver, detail: `stopped: ${loss.reason}; two processes must never drive the same number` });
    void this.dropSocket();
  }

  /** Forgets the current socket (its late events are ignored) and closes it. */
  private async dropSocket(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    this.open = false;
    this.governor.setSender(undefined);
    if (sock) await Promise.resolve().then(() => sock.end(undefined)).catch(() => undefined);
  }

  private clearTimers(): void {
    if (this.reconnectTimer) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}
