import type { Clock, TimerHandle } from '../../src/core/clock.js';
import { syncsSettled } from '../../src/storage/sqlite/group-commit.js';

/**
 * Lets pending promise chains (store writes, probes, alerts) settle: each round
 * is a turn of the event loop, and waits for the file store's fsyncs (they run
 * on the thread pool, so a turn alone can be too short for one).
 */
export async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setImmediate(r));
    await syncsSettled();
  }
}

/**
 * A clock that moves only when told to. `advance(ms)` fires due timers in time
 * order, letting async work settle after each, so 30-second health intervals
 * run in milliseconds of real time.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.parse('2026-03-02T10:00:00.000Z')) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle.id as number);
  }

  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[0] < next[0]))) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.current = next[1].at;
      next[1].fn();
      await settle();
    }
    this.current = target;
    await settle();
  }
}
