/**
 * Per-contact inbound rate limit: at most `perMinute` messages in any fixed
 * minute window per key. Excess is counted (for the log line and metrics) and
 * dropped before it reaches the store, so one flooding number neither starves
 * others nor fills the disk. Memory stays bounded: stale windows are swept.
 */
export class InboundLimiter {
  private readonly windows = new Map<string, { start: number; count: number; dropped: number }>();
  /** Messages dropped since start, all contacts. */
  droppedTotal = 0;

  constructor(private readonly windowMs = 60_000) {}

  /**
   * Counts one message for `key`. Returns `ok: false` when over the limit;
   * `firstDrop` is true once per window, so the caller logs once, not per message.
   */
  take(key: string, perMinute: number, now: number): { ok: boolean; firstDrop: boolean; dropped: number } {
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.windowMs) {
      if (window?.dropped) this.windows.delete(key);
      window = { start: now, count: 0, dropped: 0 };
      this.windows.set(key, window);
      if (this.windows.size > 10_000) this.sweep(now);
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
