/** Tracked keys before stale windows are swept (the sweep threshold doubles while that many are live). */
const SWEEP_AT = 10_000;

/**
 * Per-contact inbound rate limit: at most `perMinute` messages in any fixed
 * minute window per key. Excess is counted (for the log line and metrics) and
 * dropped before it reaches the store, so one flooding number neither starves
 * others nor fills the disk. Memory stays bounded: stale windows are swept,
 * at most once per doubling of the map, so many senders at once cost
 * amortised constant time per message rather than a full sweep each.
 */
export class InboundLimiter {
  private readonly windows = new Map<string, { start: number; count: number; dropped: number }>();
  private sweepAt = SWEEP_AT;
  /** Messages dropped since start, all contacts. */
  droppedTotal = 0;

  constructor(private readonly windowMs = 60_000) {}

  /** Keys tracked right now (tests, metrics). */
  get size(): number {
    return this.windows.size;
  }

  /**
   * Counts one message for `key`. Returns `ok: false` when over the limit;
   * `firstDrop` is true once per window, so the caller logs once, not per message.
   */
  take(key: string, perMinute: number, now: number): { ok: boolean; firstDrop: boolean; dropped: number } {
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.windowMs) {
      window = { start: now, count: 0, dropped: 0 };
      this.windows.set(key, window);
      if (this.windows.size > this.sweepAt) {
        this.sweep(now);
        this.sweepAt = Math.max(SWEEP_AT, this.windows.size * 2);
      }
    }
    window.count++;
    if (window.count <= perMinute) return { ok: true, firstDrop: false, dropped: 0 };
    window.dropped++;
    this.droppedTotal++;
    return { ok: false, firstDrop: window.dropped === 1, dropped: window.dropped };
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (now - window.start >= this.windowMs) this.windows.delete(key);
  }
}
