import type { Clock, TimerHandle } from '../../core/clock.js';
import { backoffMs } from './disconnect-reason.js';

/** How long a connection must stay open before the backoff starts from scratch again. */
export const STABLE_OPEN_MS = 60_000;

/**
 * The reconnect delays of one number: exponential with jitter, reset only
 * once a connection has stayed open for `stableMs`. Resetting on every open
 * would let a number that opens and is closed at once (a flapping proxy, a
 * server that accepts then drops) reconnect every ~second forever.
 *
 * @example
 * const backoff = new ReconnectBackoff({ clock, baseMs: 1000, maxMs: 60_000 });
 * backoff.next();   // ~1000
 * backoff.opened(); // after 60 s open, the next close waits ~1000 again
 */
export class ReconnectBackoff {
  private attempt = 0;
  private stableTimer: TimerHandle | undefined;

  constructor(private readonly deps: { clock: Clock; baseMs: number; maxMs: number; random?: () => number; stableMs?: number }) {}

  /** The delay before the next attempt (and counts it). */
  next(): number {
    return backoffMs(this.attempt++, this.deps.baseMs, this.deps.maxMs, this.deps.random);
  }

  /** Like `next`, but the first attempt after a reset goes at once (a session reset is worth one immediate try). */
  nextFirstFree(): number {
    if (this.attempt === 0) {
      this.attempt++;
      return 0;
    }
    return backoffMs(this.attempt++ - 1, this.deps.baseMs, this.deps.maxMs, this.deps.random);
  }

  /** A connection opened: reset once it has stayed open long enough. */
  opened(): void {
    this.cancel();
    this.stableTimer = this.deps.clock.setTimeout(() => {
      this.stableTimer = undefined;
      this.attempt = 0;
    }, this.deps.stableMs ?? STABLE_OPEN_MS);
  }

  /** From scratch now (a new start). */
  reset(): void {
    this.cancel();
    this.attempt = 0;
  }

  /** The connection closed (or is stopped) before it proved stable. */
  cancel(): void {
    if (this.stableTimer) this.deps.clock.clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
  }
}
