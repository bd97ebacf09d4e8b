import type { Logger } from '../../config/logger.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { LeaseResult, LeaseStore } from './whatsapp-state.js';

/** Why the lease is no longer ours. */
export interface LeaseLoss {
  /** Words for the health detail and the log. */
  reason: string;
  /** Another owner holds it now (a person must sort it out); false when it merely expired because renewals failed. */
  takenOver: boolean;
}

/**
 * Holds a number's lease in the store while the bot runs: taken on start,
 * renewed every third of its lifetime, released on stop. If another owner
 * took it meanwhile — or renewals kept failing until it expired, so another
 * process may take it — `onLost` is called (the bot must stop driving the
 * number).
 */
export class NumberLease {
  private timer: TimerHandle | undefined;
  private held = false;
  /** Bumped by every take, release and loss: a renewal begun under an older one must not act (nor keep the lease). */
  private epoch = 0;
  /** Until when the last successful take or renewal holds. */
  private validUntil = 0;

  constructor(
    private readonly deps: { store: LeaseStore; owner: string; ttlMs: number; clock: Clock; log: Logger; onLost: (loss: LeaseLoss) => void },
  ) {}

  /** Takes (or renews) the lease; while held it is renewed by one timer, however often this is called. */
  async acquire(): Promise<LeaseResult> {
    const { store, owner, ttlMs, clock } = this.deps;
    const at = clock.now();
    const result = await store.acquire(owner, ttlMs, at);
    this.epoch++;
    this.held = result.ok;
    if (result.ok) {
      this.validUntil = at + ttlMs;
      this.schedule();
    } else this.cancel();
    return result;
  }

  async release(): Promise<void> {
    this.cancel();
    this.epoch++;
    if (!this.held) return;
    this.held = false;
    await this.giveBack();
  }

  private async giveBack(): Promise<void> {
    await this.deps.store.release(this.deps.owner).catch((error: unknown) => this.deps.log.warn('could not release the WhatsApp lease', { error }));
  }

  private cancel(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private lost(loss: LeaseLoss): void {
    this.held = false;
    this.epoch++;
    this.deps.onLost(loss);
  }

  private schedule(): void {
    const { store, owner, ttlMs, clock, log } = this.deps;
    const every = Math.max(1, Math.floor(ttlMs / 3));
    const epoch = this.epoch;
    this.cancel();
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.held || epoch !== this.epoch) return;
      const at = clock.now();
      void store
        .acquire(owner, ttlMs, at)
        .then(async (lease) => {
          if (epoch !== this.epoch) {
            // Released while this renewal ran: it may have taken the lease back after the release was written; give it up again.
            if (lease.ok && !this.held) await this.giveBack();
            return;
          }
          if (!lease.ok) return this.lost({ reason: `the lease on this number was taken by ${lease.holder}`, takenOver: true });
          this.validUntil = at + ttlMs;
          this.schedule();
        })
        .catch((error: unknown) => {
          if (!this.held || epoch !== this.epoch) return;
          // Keep driving only while the lease we hold is still valid: once it may have expired, another process may take the number.
          if (clock.now() + every >= this.validUntil) {
            log.error('could not renew the WhatsApp lease before it expires; stopping to drive the number', { error });
            return this.lost({ reason: `the lease on this number could not be renewed (${error instanceof Error ? error.message : String(error)}) and expires`, takenOver: false });
          }
          log.warn('could not renew the WhatsApp lease; retrying', { error });
          this.schedule();
        });
    }, every);
  }
}
