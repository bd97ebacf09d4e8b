import { createHmac } from 'node:crypto';
import type { Logger } from '../../config/logger.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { newId } from '../../core/ids.js';
import type { OutboxRecord } from '../../storage/records.js';
import type { Store } from '../../storage/store.js';
import { OutboundPolicy, OutboundRefusedError, sendOutbound, type Resolver } from './outbound-guard.js';

export const MAX_ATTEMPTS = 12;

/** `sha256=<hex HMAC-SHA256 of the raw body>` with the agent's callback secret. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * The stored body with its signed `sentAt` set to this attempt's time: receivers refuse old
 * bodies (replays), so a retry an hour after the first attempt must not carry the first one's
 * time. The same event keeps its `deliveryId` (signed, and in `x-coordinator-delivery`), by which a receiver takes it once.
 */
function restamped(body: string, now: string, deliveryId: string): string {
  try {
    const event = JSON.parse(body) as unknown;
    if (event && typeof event === 'object' && !Array.isArray(event) && typeof (event as { sentAt?: unknown }).sentAt === 'string') {
      // The delivery id inside the signed body too: a receiver takes each one once, and a replay cannot carry a new one.
      return JSON.stringify({ ...event, deliveryId, sentAt: now });
    }
  } catch {
    // Not ours to fix: sent as stored.
  }
  return body;
}

export interface WebhookOutboxDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  timeoutMs?: number;
  /** WEBHOOK_ALLOWLIST: internal addresses/ranges that may be called (default none). */
  allowlist?: readonly string[];
  /** The coordinator's one outbound policy (wins over `allowlist` / `resolve`). */
  policy?: OutboundPolicy;
  /** DNS for the send-time check (tests play a rebinding server); default the system resolver. */
  resolve?: Resolver;
}

/**
 * Outcome webhooks to requesters, persisted before the first attempt so a
 * restart loses none. Retries back off 1 s, 2 s, 4 s ... up to 10 minutes,
 * for at most MAX_ATTEMPTS attempts. A URL that reaches an internal address
 * (see OutboundPolicy) fails at once with the reason, never retried.
 */
export class WebhookOutbox {
  private readonly timers = new Map<string, TimerHandle>();
  private stopped = false;
  /** Attempts under way (stop waits for them). */
  private readonly attempting = new Set<Promise<void>>();
  private readonly policy: OutboundPolicy;

  constructor(private readonly deps: WebhookOutboxDeps) {
    this.policy = deps.policy ?? new OutboundPolicy(deps.allowlist ?? [], { resolve: deps.resolve });
  }

  async enqueue(agentId: string, url: string, payload: unknown, approvalId?: string): Promise<OutboxRecord> {
    const now = isoNow(this.deps.clock);
    const item = await this.deps.store.outbox.insert({ id: newId(this.deps.clock.now()), url, body: JSON.stringify(payload), agentId, approvalId, status: 'pending', attempts: 0, nextAttemptAt: now, createdAt: now });
    this.schedule(item);
    return item;
  }

  /** Schedules every pending webhook (those due while we were down go at once). */
  async resume(): Promise<void> {
    for (const item of await this.deps.store.outbox.find({ where: { status: 'pending' } })) this.schedule(item);
  }

  /**
   * Stops the timers and waits for the attempts under way (at most their time limit): a webhook
   * delivered during shutdown is recorded as delivered, not sent again after the restart.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) this.deps.clock.clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.attempting);
  }

  private schedule(item: OutboxRecord): void {
    if (this.stopped) return;
    const existing = this.timers.get(item.id);
    if (existing) this.deps.clock.clearTimeout(existing);
    const delay = Math.max(0, Date.parse(item.nextAttemptAt) - this.deps.clock.now());
    this.timers.set(
      item.id,
      this.deps.clock.setTimeout(() => {
        this.timers.delete(item.id);
        const attempt = this.attempt(item.id).catch((error: unknown) => {
          this.deps.logger.error('webhook attempt failed to run', { module: 'outbox', outboxId: item.id, error });
        });
        this.attempting.add(attempt);
        void attempt.finally(() => this.attempting.delete(attempt));
      }, Math.min(delay, 2 ** 31 - 1)),
    );
  }

  /** One delivery attempt; exposed for tests. */
  async attempt(id: string): Promise<void> {
    const item = await this.deps.store.outbox.get(id);
    if (!item || item.status !== 'pending') return;
    const agent = await this.deps.store.agents.get(item.agentId);
    const secret = agent?.callbackSecret ?? '';
    const timestamp = String(Math.floor(this.deps.clock.now() / 1000));
    const body = restamped(item.body, isoNow(this.deps.clock), item.id);
    let error: string | undefined;
    let refused: string | undefined;
    try {
      const res = await sendOutbound(this.policy, item.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-coordinator-signature': signBody(secret, body), 'x-coordinator-timestamp': timestamp, 'x-coordinator-delivery': item.id },
        body,
        signal: AbortSignal.timeout(this.deps.timeoutMs ?? 10_000),
      });
      if (res.status < 200 || res.status > 299) error = `HTTP ${res.status}`;
    } catch (e) {
      if (e instanceof OutboundRefusedError) refused = e.reason;
      error = e instanceof Error ? e.message : String(e);
    }
    const attempts = item.attempts + 1;
    if (!error) {
      await this.deps.store.outbox.update(id, { status: 'delivered', attempts, lastError: undefined });
      return;
    }
    if (refused) {
      await this.deps.store.outbox.update(id, { attempts, lastError: `refused: ${refused}`, status: 'failed' });
      this.deps.logger.warn(`webhook to ${item.url} refused: ${refused}; not retried`, { module: 'outbox', approvalId: item.approvalId, outboxId: id });
      return;
    }
    const failed = attempts >= MAX_ATTEMPTS;
    const next = new Date(this.deps.clock.now() + Math.min(600_000, 1000 * 2 ** (attempts - 1))).toISOString();
    const updated = await this.deps.store.outbox.update(id, { attempts, lastError: error, status: failed ? 'failed' : 'pending', nextAttemptAt: next });
    this.deps.logger.warn(`webhook to ${item.url} failed (${error}); ${failed ? 'giving up' : `attempt ${attempts + 1} at ${next}`}`, { module: 'outbox', approvalId: item.approvalId });
    if (updated && !failed) this.schedule(updated);
  }
}
