import type { Clock } from '../core/clock.js';
import type { EventBus } from '../coordination/event-bus.js';
import type { AgentStatus, ApprovalRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import { countMessage, factsOf, HOUR, MAX_METRIC_ROWS, MINUTE, readMetricFacts, summarise, type ApprovalFacts, type MetricsSnapshot } from './dashboard-metrics.js';

/** Counts are read again from the store this often while pages watch (rows deleted by retention, agents removed). */
export const RESEED_MS = 5 * MINUTE;
/** How long after a read its messages are not counted again from their events. */
const SEEN_MS = MINUTE;

/**
 * The Activity panel's numbers kept up to date from the bus instead of
 * recomputed from the store at every change: read once from the store (the
 * first time a page asks), then every approval, message and agent status
 * event moves them, and a snapshot is computed from memory (the last 24 h of
 * approvals as small facts, messages as counts per second, agents' statuses).
 * Read again from the store every RESEED_MS, which also drops what left the
 * store without an event (retention, an agent removed). Events that arrive
 * while the store is being read are applied after it, once.
 */
export class LiveMetrics {
  private approvals = new Map<string, ApprovalFacts>();
  /** Messages per second since the epoch (second -> count), the last 60 minutes. */
  private perSecond = new Map<number, number>();
  private agents = new Map<string, AgentStatus>();
  private seededAt = -Infinity;
  private seeding: Promise<void> | undefined;
  /** Events heard while the store is being read, applied after it (messages it already counted are skipped). */
  private heldWhileSeeding: Array<() => void> | undefined;
  /**
   * The messages the last read counted, kept for a minute after it: an event emitted in a write
   * unit comes once the unit is on disk, after the read may have seen the row already.
   */
  private seenInSeed: Set<string> | undefined;
  private seenUntil = -Infinity;
  private readonly offs: Array<() => void>;

  constructor(private readonly deps: { store: Store; clock: Clock; bus: EventBus }) {
    const { bus } = deps;
    this.offs = [
      bus.on('approval.updated', (a) => this.apply(() => this.approval(a))),
      bus.on('message.recorded', (m) => this.apply(() => this.message(m.id, Date.parse(m.at)))),
      bus.on('agent.status', (e) => this.apply(() => this.agents.set(e.agentId, e.to))),
    ];
  }

  /** The numbers now; the first call (and one every RESEED_MS) reads the store. */
  async snapshot(): Promise<MetricsSnapshot> {
    const now = this.deps.clock.now();
    if (now - this.seededAt >= RESEED_MS) await this.seed(now);
    return this.summary(this.deps.clock.now());
  }

  stop(): void {
    for (const off of this.offs) off();
  }

  private apply(change: () => void): void {
    if (this.seededAt === -Infinity && !this.seeding) return; // nobody has asked yet: the first snapshot reads the store
    if (this.heldWhileSeeding) this.heldWhileSeeding.push(change);
    else change();
  }

  private seed(now: number): Promise<void> {
    this.seeding ??= (async () => {
      this.heldWhileSeeding = [];
      try {
        const facts = await readMetricFacts(this.deps.store, now);
        this.approvals = new Map(facts.approvals.map((f) => [f.id, f]));
        this.perSecond = facts.perSecond;
        this.agents = facts.agents;
        this.seenInSeed = new Set(facts.messageIds);
        this.seenUntil = now + SEEN_MS;
        this.seededAt = now;
        for (const change of this.heldWhileSeeding) change();
      } finally {
        this.heldWhileSeeding = undefined;
        this.seeding = undefined;
      }
    })();
    return this.seeding;
  }

  private approval(a: ApprovalRecord): void {
    this.approvals.set(a.id, factsOf(a));
    // Bounded as the store's read is: beyond, the oldest requests (first in the map) go.
    for (const id of this.approvals.keys()) {
      if (this.approvals.size <= MAX_METRIC_ROWS) break;
      this.approvals.delete(id);
    }
  }

  private message(id: string, at: number): void {
    if (this.seenInSeed && this.deps.clock.now() >= this.seenUntil) this.seenInSeed = undefined;
    if (this.seenInSeed?.has(id)) return;
    countMessage(this.perSecond, at);
  }

  private summary(now: number): MetricsSnapshot {
    const dayAgo = now - 24 * HOUR;
    for (const [id, f] of this.approvals) if (f.createdAt < dayAgo) this.approvals.delete(id);
    const oldest = Math.floor((now - 60 * MINUTE) / 1000);
    for (const second of this.perSecond.keys()) if (second < oldest) this.perSecond.delete(second);
    return summarise(now, { approvals: [...this.approvals.values()], perSecond: this.perSecond, agents: this.agents });
  }
}
