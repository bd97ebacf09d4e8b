import type { AnyMessageContent, WAMessage } from '@whiskeysockets/baileys';
import type { Logger } from '../../config/logger.js';
import { isoNow, type Clock, type TimerHandle } from '../../core/clock.js';
import { CodedError, ErrorCode } from '../../core/errors.js';
import { backoffMs } from './disconnect-reason.js';
import { deserialise, serialise, serialiseMessage } from './store-auth-state.js';
import type { OutboundItem, WhatsAppState } from './whatsapp-state.js';

/** Pacing for one number (WhatsApp publishes no rate; bulk sending gets numbers banned). */
export interface GovernorOptions {
  /** Minimum time between two sends. */
  minGapMs: number;
  /** Up to this much random time is added to every gap. */
  jitterMs: number;
  /** At most this many sends in any rolling 24 hours. */
  dailyCap: number;
  /** First pause after a `rate-overlimit` answer; doubles on each one in a row (up to 15 min). */
  rateLimitBackoffMs: number;
  /** Other send errors retry this many times before the message is marked failed. */
  maxAttempts: number;
}

export const DEFAULT_GOVERNOR: GovernorOptions = { minGapMs: 1500, jitterMs: 1000, dailyCap: 1000, rateLimitBackoffMs: 30_000, maxAttempts: 5 };

/** What is queued: the content plus what to remember once it is sent. */
export interface OutboundPayload {
  content: AnyMessageContent;
  /** Quote this earlier message of ours (a follow-up under a prompt). */
  quotedKeyId?: string;
  approvalId?: string;
  approvalCode?: string;
}

/**
 * How one queued message ended for whoever waits on it: `sent`, `failed`
 * (given up after its retries; the failure is also logged), or `released`
 * (the governor stopped first; the message stays queued and goes out later).
 * A value rather than a rejection, so a caller that stopped waiting leaves
 * nothing unhandled behind.
 */
export type SendOutcome = { status: 'sent'; message: WAMessage | undefined } | { status: 'failed'; error: CodedError } | { status: 'released' };

/** How the governor reaches the socket: set while connected, unset while down. */
export type SendFn = (jid: string, content: AnyMessageContent, options: { messageId: string; quoted?: WAMessage }) => Promise<WAMessage | undefined>;

const DAY_MS = 24 * 60 * 60_000;
const MAX_RATE_BACKOFF_MS = 15 * 60_000;
const CAP_RECHECK_MS = 10 * 60_000;
/** Sent messages and queue rows are kept this long (the daily cap needs one day; retries and `getMessage` far less). */
export const KEEP_SENT_MS = 7 * DAY_MS;
/** How long `stop` waits for a send already handed to the socket. */
export const STOP_WAIT_MS = 10_000;
/** WhatsApp's error code for `rate-overlimit`. */
const RATE_OVERLIMIT = 429;

/**
 * WhatsApp's `rate-overlimit`. Baileys throws it from a query's error node as
 * `new Boom(text, {data: +code})`: message `rate-overlimit`, `data` 429 and —
 * Boom's default — `output.statusCode` 500, so the code is in `data`. The text
 * is WhatsApp's protocol token for the same error (some nodes carry no code).
 */
export function isRateLimit(error: unknown): boolean {
  const e = error as { output?: { statusCode?: number }; data?: unknown; message?: string } | undefined;
  return e?.data === RATE_OVERLIMIT || e?.output?.statusCode === RATE_OVERLIMIT || e?.message === 'rate-overlimit';
}

/**
 * The outbound queue of one number: every message is persisted before it is
 * sent, with its WhatsApp message id fixed at that moment; sends are spaced by
 * a minimum gap plus jitter, limited by a rolling daily cap and paused with
 * backoff on `rate-overlimit`. After a crash, an item caught mid-send is marked
 * sent if the sent message was stored, else resent under the same message id
 * (WhatsApp drops a second message with an id it already delivered).
 */
export class OutboundGovernor {
  private send: SendFn | undefined;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private running = false;
  private again = false;
  private stopped = true;
  private nextAt = 0;
  private rateStrikes = 0;
  private pausedUntil = 0;
  private capWarned = false;
  private seq = 0;
  private prunedAt = -Infinity;
  /** The send handed to the socket right now, if any (`stop` waits for it; recovery leaves its row alone). */
  private inflight: { id: string; done: Promise<void> } | undefined;
  private readonly waiters = new Map<string, (outcome: SendOutcome) => void>();

  constructor(
    private readonly deps: { state: WhatsAppState; clock: Clock; logger: Logger; agentId: string; options: GovernorOptions; random?: () => number },
  ) {}

  /** Recovers items a crash left mid-send and starts pacing from the last stored send. */
  async start(): Promise<void> {
    this.stopped = false;
    const { state, clock } = this.deps;
    const last = await state.outbound.lastSentAt();
    if (last) this.nextAt = Math.max(this.nextAt, Date.parse(last) + this.deps.options.minGapMs);
    for (const item of await state.outbound.pending()) {
      // A send of this process that outlived `stop`'s wait settles its own row when it answers.
      if (item.status !== 'sending' || item.id === this.inflight?.id) continue;
      const stored = await state.messages.get(item.keyId, true);
      if (stored) await state.outbound.markSent(item.id, stored.at, item.attempts);
      else await state.outbound.requeue(item.id, isoNow(clock), 'interrupted while sending; resent with the same message id', false, item.attempts);
    }
    this.kick();
  }

  /** Forgets sent rows and stored messages older than `KEEP_SENT_MS` (prompts stay), at most once a day; never fails a send. */
  private prune(): void {
    const { state, clock, logger } = this.deps;
    const now = clock.now();
    if (now - this.prunedAt < DAY_MS) return;
    this.prunedAt = now;
    const before = new Date(now - KEEP_SENT_MS).toISOString();
    void Promise.all([state.outbound.prune(before), state.messages.prune(before)])
      .then(([rows, messages]) => rows + messages > 0 && logger.info('old WhatsApp queue rows and messages pruned', { rows, messages, before }))
      .catch((error: unknown) => {
        this.prunedAt = now - DAY_MS + 60 * 60_000; // again in an hour
        logger.warn('could not prune old WhatsApp queue rows and messages; retried later', { error });
      });
  }

  /**
   * Stops sending; queued messages stay stored and go out after the next start.
   * Waiting senders are released without a message (like a wait that timed
   * out): failing them would make callers fall back to another channel while
   * the queued message still goes out later — a double send. A send already
   * handed to the socket is waited for (up to `STOP_WAIT_MS`), so it is
   * recorded before the socket closes and a restart does not send it again.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.send = undefined;
    this.clearTimer();
    for (const settle of this.waiters.values()) settle({ status: 'released' });
    this.waiters.clear();
    const inflight = this.inflight;
    if (!inflight) return;
    let timer: TimerHandle | undefined;
    const waited = new Promise<'timeout'>((resolve) => (timer = this.deps.clock.setTimeout(() => resolve('timeout'), STOP_WAIT_MS)));
    // A send that failed was already reported by the pump (its error is logged there); here only its end matters.
    const ended = inflight.done.then(
      () => 'ended' as const,
      () => 'ended' as const,
    );
    try {
      if ((await Promise.race([ended, waited])) === 'timeout') {
        this.deps.logger.warn('stopping while a WhatsApp send has not answered; it is recorded when it does', { outboundId: inflight.id });
      }
    } finally {
      if (timer) this.deps.clock.clearTimeout(timer);
    }
  }

  /** The socket to send through (undefined while disconnected: the queue waits). */
  setSender(send: SendFn | undefined): void {
    this.send = send;
    if (send) this.kick();
  }

  /**
   * Persists one message and queues it. `done` tells how it ended (sent,
   * failed after its retries, or released by `stop`); `keyId` is its WhatsApp id already.
   * Refuses at once, with a `rate_limited` error, when the daily cap is used up.
   */
  async enqueue(jid: string, payload: OutboundPayload, keyId: string): Promise<{ item: OutboundItem; done: Promise<SendOutcome> }> {
    const { state, clock, options, agentId } = this.deps;
    const now = clock.now();
    if ((await state.outbound.sentSince(new Date(now - DAY_MS).toISOString())) >= options.dailyCap) {
      throw new CodedError(ErrorCode.RateLimited, `WhatsApp agent ${agentId} reached its daily cap of ${options.dailyCap} messages`, { agentId, dailyCap: options.dailyCap });
    }
    const createdAt = new Date(now).toISOString();
    const id = `${agentId}:${createdAt}:${process.pid}:${String(++this.seq).padStart(6, '0')}:${keyId}`;
    const item = await state.outbound.enqueue({ id, chatId: jid, payload: serialise(payload), createdAt, notBefore: createdAt, keyId });
    const done = new Promise<SendOutcome>((resolve) => this.waiters.set(id, resolve));
    this.kick();
    return { item, done };
  }

  private clearTimer(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private wakeAt(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.kick();
    }, Math.max(0, at - this.deps.clock.now()));
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pump()
      .catch((error: unknown) => {
        this.deps.logger.error('WhatsApp outbound queue failed; retrying in 5 s', { error });
        this.wakeAt(this.deps.clock.now() + 5000);
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Sends due items one at a time until none is due, then sleeps until the next is. */
  private async pump(): Promise<void> {
    const { state, clock, options } = this.deps;
    this.prune();
    while (!this.stopped && this.send) {
      const now = clock.now();
      const queued = (await state.outbound.pending()).filter((i) => i.status === 'queued');
      if (queued.length === 0) return;
      const due = queued.find((i) => Date.parse(i.notBefore) <= now);
      const earliest = Math.min(...queued.map((i) => Date.parse(i.notBefore)));
      const gate = Math.max(this.nextAt, this.pausedUntil);
      if (!due || gate > now) {
        this.wakeAt(Math.max(gate, due ? now : earliest));
        return;
      }
      if ((await state.outbound.sentSince(new Date(now - DAY_MS).toISOString())) >= options.dailyCap) {
        if (!this.capWarned) this.deps.logger.warn(`daily cap of ${options.dailyCap} messages reached; the queue waits`, { queued: queued.length });
        this.capWarned = true;
        this.wakeAt(now + CAP_RECHECK_MS);
        return;
      }
      this.capWarned = false;
      const claimed = await state.outbound.claim(due.id);
      if (!claimed) continue;
      const done = this.sendOne(claimed, this.send);
      // The same promise, awaited just below (a failure rejects the pump, which logs it and retries); `stop` only waits for its end.
      this.inflight = { id: claimed.id, done };
      try {
        await done;
      } finally {
        this.inflight = undefined;
      }
    }
  }

  private async sendOne(item: OutboundItem, send: SendFn): Promise<void> {
    const { state, clock, options, logger } = this.deps;
    const payload = deserialise<OutboundPayload>(item.payload);
    const random = this.deps.random ?? Math.random;
    let message: WAMessage | undefined;
    try {
      const quoted = payload.quotedKeyId ? await state.messages.get(payload.quotedKeyId, true) : null;
      message = await send(item.chatId, payload.content, { messageId: item.keyId, ...(quoted ? { quoted: deserialise<WAMessage>(quoted.message) } : {}) });
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (isRateLimit(error)) {
        const wait = Math.min(MAX_RATE_BACKOFF_MS, backoffMs(this.rateStrikes++, options.rateLimitBackoffMs, MAX_RATE_BACKOFF_MS, random));
        this.pausedUntil = clock.now() + wait;
        logger.warn(`WhatsApp answered rate-overlimit; pausing sends for ${Math.round(wait / 1000)} s`, { outboundId: item.id });
        await state.outbound.requeue(item.id, new Date(this.pausedUntil).toISOString(), text, false, item.attempts);
        return;
      }
      const failed = item.attempts >= options.maxAttempts;
      const retryAt = new Date(clock.now() + backoffMs(item.attempts - 1, 5000, 5 * 60_000, random)).toISOString();
      if (!(await state.outbound.requeue(item.id, retryAt, text, failed, item.attempts))) return; // a later attempt owns it
      logger.warn(failed ? `WhatsApp send failed ${item.attempts} times; giving up` : 'WhatsApp send failed; will retry', { outboundId: item.id, error });
      if (failed) this.settle(item.id, undefined, new CodedError(ErrorCode.DeliveryFailed, `WhatsApp did not take the message: ${text}`, { outboundId: item.id }));
      return;
    }
    // WhatsApp has it: from here on, nothing may count as a failed send (a retry would be a second message).
    this.rateStrikes = 0;
    this.nextAt = clock.now() + options.minGapMs + Math.round(random() * options.jitterMs);
    const sentAt = isoNow(clock);
    try {
      // Stored before it is marked sent: after a crash in between, recovery finds it and does not resend.
      if (message) {
        await state.messages.save({
          remoteJid: message.key.remoteJid ?? item.chatId,
          keyId: message.key.id ?? item.keyId,
          fromMe: true,
          message: serialiseMessage(message),
          at: sentAt,
          ...(payload.approvalId ? { approvalId: payload.approvalId, approvalCode: payload.approvalCode } : {}),
        });
      }
      if (!(await state.outbound.markSent(item.id, sentAt, item.attempts))) logger.warn('a WhatsApp send answered after its row was taken by a later attempt; left to that attempt', { outboundId: item.id });
    } catch (error) {
      // Left as `sending`: the next start marks it sent if the message was stored, else resends it under the same id.
      logger.error('a WhatsApp message was sent but could not be recorded; it is reconciled on the next start', { outboundId: item.id, keyId: item.keyId, error });
    }
    this.settle(item.id, message);
  }

  private settle(id: string, message: WAMessage | undefined, error?: CodedError): void {
    const waiter = this.waiters.get(id);
    if (!waiter) return;
    this.waiters.delete(id);
    waiter(error ? { status: 'failed', error } : { status: 'sent', message });
  }
}
