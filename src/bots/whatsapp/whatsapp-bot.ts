import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { generateMessageID, isLidUser, isPnUser, jidNormalizedUser, type WAMessage } from '@whiskeysockets/baileys';
import type { Logger } from '../../config/logger.js';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { CodedError, ErrorCode } from '../../core/errors.js';
import { Listeners } from '../../core/listeners.js';
import type { ApprovalOutcome, ApprovalPrompt, BotAgent, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bot-agent.js';
import type { BotContext } from '../channel-registry.js';
import { pollContent, renderPromptText } from './approval-poll.js';
import { NumberLease, type LeaseLoss } from './number-lease.js';
import { DEFAULT_GOVERNOR, OutboundGovernor, type OutboundPayload } from './outbound-governor.js';
import { WhatsAppConnection } from './whatsapp-connection.js';
import { WhatsAppDecisions } from './whatsapp-decisions.js';
import { readInbound } from './whatsapp-inbound.js';
import { jidUser, toJid, type MakeSocket, type SocketOptions } from './whatsapp-socket.js';

/** A phone number as the rest of the coordinator expects it (digits with country code), or nothing. */
const digitsOnly = (user: string): string | undefined => (/^[0-9]{6,15}$/.test(user) ? user : undefined);
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
  /** Extra Baileys socket settings (tests shorten `connectTimeoutMs`, whose timers outlive a closed socket). */
  socketOptions?: SocketOptions;
  clock?: Clock;
  random?: () => number;
  /** The lease owner name (default: host, pid and a random part). */
  owner?: string;
  leaseTtlMs?: number;
}

/**
 * One WhatsApp number (Baileys 7) as a BotAgent: pairing by QR or code, auth
 * state in the store under a lease, reconnects by disconnect reason, a probe on
 * socket state and activity, a persisted outbound governor, approvals as a text
 * plus a poll, and customer messages as events. The socket's lifecycle lives in
 * `WhatsAppConnection`; this class ties it to the lease, the outbound queue and
 * the approval decisions.
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
  private readonly connection: WhatsAppConnection;
  private starting: Promise<void> | undefined;

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
    this.connection = new WhatsAppConnection({
      agentId: config.id,
      options: config,
      state: deps.state,
      log: this.log,
      clock: this.clock,
      makeSocket: deps.makeSocket,
      socketOptions: deps.socketOptions,
      random: deps.random,
      emit: (event) => this.listeners.emit(event),
      setSender: (send) => this.governor.setSender(send),
      onMessages: (messages) => this.onMessages(messages),
    });
    this.decisions = new WhatsAppDecisions({
      agentId: config.id,
      state: deps.state,
      context,
      log: this.log,
      // Persisted and queued is enough: waiting for delivery would hold the approval engine (which updates every prompt) or the inbound batch.
      reply: async (jid, text, quotedKeyId) => void (await this.queue(jid, { content: { text }, ...(quotedKeyId ? { quotedKeyId } : {}) }, { requireOpen: false, wait: false })),
      phoneOf: (jids) => this.phoneOf(jids),
      meIds: () => this.connection.meIds(),
    });
  }

  /** Takes the lease and connects; a second call while one runs shares it (two starts must not open two sockets). */
  start(): Promise<void> {
    this.starting ??= this.startOnce().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    if (this.connection.started) return;
    const lease = await this.lease.acquire();
    if (!lease.ok) {
      const why = `WhatsApp agent ${this.id} is already driven by another process (${lease.holder}, lease until ${lease.expiresAt}); stop that one first — two processes must never drive the same number`;
      // Not "needs a person": after a crash the old lease simply expires, and the health monitor's restart then succeeds.
      this.connection.markHalted({ detail: why, needsHuman: false });
      throw new CodedError(ErrorCode.Conflict, why, { agentId: this.id, holder: lease.holder });
    }
    this.connection.activate();
    try {
      await this.governor.start();
      await this.connection.connect();
    } catch (error) {
      // A store that fails now must not leave a half-started bot holding the lease (a restart would find it "running").
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (!this.connection.started) return;
    await this.governor.stop();
    await this.connection.deactivate();
    await this.lease.release();
  }

  async probe(): Promise<ProbeResult> {
    return this.connection.health();
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
    if ((how.requireOpen ?? true) && !this.connection.connected) {
      const reason = this.connection.closeReason;
      throw new CodedError(ErrorCode.DeliveryFailed, `WhatsApp agent ${this.id} is not connected${reason ? ` (${reason})` : ''}`, { agentId: this.id });
    }
    const keyId = generateMessageID();
    const { done } = await this.governor.enqueue(jid, payload, keyId);
    if (how.wait === false) return keyId;
    let timer: TimerHandle | undefined;
    const waited = new Promise<'timeout'>((resolve) => (timer = this.clock.setTimeout(() => resolve('timeout'), this.config.sendWaitMs ?? 60_000)));
    try {
      const result = await Promise.race([done, waited]);
      if (result !== 'timeout' && result.status === 'failed') throw result.error;
      if (result === 'timeout' || result.status === 'released') this.log.info('message still queued; it will go out when the queue reaches it', { keyId });
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
    return keyId;
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
    if (pn) return digitsOnly(jidUser(pn));
    for (const lid of list.filter((j) => isLidUser(j))) {
      let mapped: string | null | undefined;
      try {
        mapped = await this.connection.socket?.signalRepository.lidMapping.getPNForLID(lid);
      } catch (error) {
        // The phone stays unknown (the message is still handled, as from an unknown number).
        this.log.warn('could not map a WhatsApp LID to its phone number', { error, lid });
      }
      if (mapped) return digitsOnly(jidUser(mapped));
    }
    return undefined;
  }

  /** The lease is not ours any more (taken over, or expired while renewals failed): stop driving the number at once. */
  private onLeaseLost(loss: LeaseLoss): void {
    if (!this.connection.started) return;
    this.connection.halt({ needsHuman: loss.takenOver, detail: `stopped: ${loss.reason}; two processes must never drive the same number` });
    void this.connection.dropSocket();
  }
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}
