import type { Clock, TimerHandle } from './clock.js';

interface Entry<K> {
  at: number;
  seq: number;
  key: K;
}

/**
 * Many keyed deadlines on one clock timer: `schedule(key, ms)` (re)sets a
 * key's deadline, `cancel(key)` drops it, and when deadlines pass `onDue` is
 * called for each due key, earliest first. Ten thousand health checks cost one
 * armed timer instead of ten thousand.
 *
 * A binary min-heap ordered by (deadline, order of scheduling) with lazy
 * deletion: a rescheduled or cancelled key leaves its old entry in the heap,
 * skipped when it surfaces (the map holds each key's live entry). The heap is
 * rebuilt from the live entries when stale ones outnumber them, so memory
 * stays proportional to the keys. (No dependency for forty lines.)
 */
export class DueQueue<K> {
  private heap: Array<Entry<K>> = [];
  private readonly live = new Map<K, Entry<K>>();
  private seq = 0;
  private timer?: TimerHandle;
  private armedAt = Infinity;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (key: K) => void,
  ) {}

  /** Keys waiting for their deadline. */
  get size(): number {
    return this.live.size;
  }

  schedule(key: K, delayMs: number): void {
    if (this.stopped) return;
    const entry = { at: this.clock.now() + Math.max(0, delayMs), seq: ++this.seq, key };
    this.live.set(key, entry);
    this.push(entry);
    if (this.heap.length > 64 && this.heap.length > 2 * this.live.size) this.compact();
    this.arm();
  }

  cancel(key: K): void {
    this.live.delete(key);
  }

  /** Drops every deadline and the timer; later `schedule` calls do nothing. */
  stop(): void {
    this.stopped = true;
    this.live.clear();
    this.heap = [];
    this.disarm();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.clock.now();
    const due: K[] = [];
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const entry = this.pop();
      if (this.live.get(entry.key) !== entry) continue;
      this.live.delete(entry.key);
      due.push(entry.key);
    }
    this.arm();
    for (const key of due) this.onDue(key);
  }

  /** Keeps the one timer set for the earliest live deadline. */
  private arm(): void {
    while (this.heap.length > 0 && this.live.get(this.heap[0]!.key) !== this.heap[0]) this.pop();
    const next = this.heap[0]?.at ?? Infinity;
    if (next === this.armedAt) return;
    this.disarm();
    if (next === Infinity) return;
    this.armedAt = next;
    this.timer = this.clock.setTimeout(() => this.fire(), next - this.clock.now());
  }

  private disarm(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private compact(): void {
    this.heap = [...this.live.values()].sort(before);
  }

  private push(entry: Entry<K>): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (before(heap[parent]!, entry) <= 0) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): Entry<K> {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) < 0 ? right : left;
      if (before(last, heap[child]!) <= 0) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before<K>(a: Entry<K>, b: Entry<K>): number {
  return a.at - b.at || a.seq - b.seq;
}
