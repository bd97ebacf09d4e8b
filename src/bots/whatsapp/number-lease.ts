import type { Logger } from '../../config/logger.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { LeaseResult, LeaseStore } from './whatsapp-state.js';

/**
 * Holds a number's lease in the store while the bot runs: taken on start,
 * renewed every third of its lifetime, released on stop. If another owner
 * took it meanwhile, `onLost` is called (the bot must stop driving the number).
 */
export class NumberLease {
  private timer: TimerHandle | undefined;
  private held = false;

  constructor(
    private readonly deps: { store: LeaseStore; owner: string; ttlMs: number; clock: Clock; log: Logger; onLost: (holder: string) => void },
  ) {}

  async acquire(): Promise<LeaseResult> {
    const result = await this.deps.store.acquire(this.deps.owner, this.deps.ttlMs, this.deps.clock.now());
    this.held = result.ok;
    if (result.ok) this.schedule();
    return result;
  }

  async release(): Promise<void> {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.held) return;
    this.held = false;
    await this.deps.store.release(this.deps.owner).catch((error: unknown) => this.deps.log.warn('could not release the WhatsApp lease', { error }));
  }

  private schedule(): void {
    const { store, owner, ttlMs, clock, log } = this.deps;
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      void store
        .acquire(owner, ttlMs, clock.now())
        .then((lease) => {
          if (!this.held) return;
          if (lease.ok) return this.schedule();
          this.held = false;
          this.deps.onLost(lease.holder);
        })
        .catch((error: unknown) => {
          log.warn('could not renew the WhatsApp lease; retrying', { error });
          if (this.held) this.schedule();
        });
    }, Math.floor(ttlMs / 3));
  }
}
