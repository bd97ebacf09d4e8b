import { describe, expect, it } from '@jest/globals';
import { DueQueue } from '../../src/core/due-queue.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** A clock that counts the timers armed on it. */
class CountingClock extends ManualClock {
  armed = 0;
  override setTimeout(fn: () => void, ms: number) {
    this.armed++;
    return super.setTimeout(fn, ms);
  }
}

describe('DueQueue', () => {
  it('calls each key once at its deadline, earliest first, on one timer', async () => {
    const clock = new CountingClock();
    const fired: Array<[string, number]> = [];
    const q = new DueQueue<string>(clock, (key) => fired.push([key, clock.now() - start]));
    const start = clock.now();
    q.schedule('c', 300);
    q.schedule('a', 100);
    q.schedule('b', 200);
    q.schedule('a2', 100);
    expect(q.size).toBe(4);
    await clock.advance(1000);
    expect(fired).toEqual([['a', 100], ['a2', 100], ['b', 200], ['c', 300]]);
    expect(q.size).toBe(0);
  });

  it('a rescheduled key fires once at its new deadline; a cancelled one never', async () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const q = new DueQueue<string>(clock, (key) => fired.push(key));
    q.schedule('x', 100);
    q.schedule('y', 100);
    q.schedule('x', 500);
    q.cancel('y');
    await clock.advance(400);
    expect(fired).toEqual([]);
    await clock.advance(100);
    expect(fired).toEqual(['x']);
    // Scheduled again from its own callback: fires again.
    const again = new DueQueue<string>(clock, (key) => {
      fired.push(`again-${key}`);
      if (fired.length < 4) again.schedule(key, 10);
    });
    again.schedule('z', 10);
    await clock.advance(100);
    expect(fired).toEqual(['x', 'again-z', 'again-z', 'again-z']);
  });

  it('10,000 keys rescheduled 20 times each keep memory bounded and fire exactly once each', async () => {
    const clock = new CountingClock();
    const counts = new Map<number, number>();
    const q = new DueQueue<number>(clock, (key) => counts.set(key, (counts.get(key) ?? 0) + 1));
    for (let round = 0; round < 20; round++) for (let k = 0; k < 10_000; k++) q.schedule(k, 30_000 + ((k * 7919 + round) % 1000));
    expect((q as unknown as { heap: unknown[] }).heap.length).toBeLessThanOrEqual(20_000 + 1);
    await clock.advance(40_000);
    expect(counts.size).toBe(10_000);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // Far fewer timers than keys: re-armed only when an earlier deadline arrives or one fires.
    expect(clock.armed).toBeLessThan(5_000);
  });

  it('stop drops every deadline and schedules nothing after', async () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const q = new DueQueue<string>(clock, (key) => fired.push(key));
    q.schedule('a', 10);
    q.stop();
    q.schedule('b', 10);
    await clock.advance(100);
    expect(fired).toEqual([]);
    expect(q.size).toBe(0);
  });
});
