import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The writes of one operation made durable together: an approval's record,
 * its audit event and its prompt jobs; a customer message's contact, message
 * and conversation. On the file store that is one group commit and one fsync
 * for the operation instead of one wait for the disk per write.
 *
 * Inside `run(fn)` a write's promise resolves as soon as the write is applied
 * (every later read sees it, and writes stay in call order); `run` resolves
 * only once every write the unit issued is durable, and rejects if one is not.
 * A unit's work is store writes and reads only: whatever tells the world
 * (a chat message, an HTTP answer, an event) comes after `run`, or after
 * `durable()`, which waits for the unit's writes so far.
 *
 * The unit follows the async context (AsyncLocalStorage), so the writes of
 * the repositories `fn` calls join it without being passed anything. Work
 * that `fn` starts and leaves running (a timer) finds the unit closed after
 * `run` and waits for its own writes as usual.
 */
export class WriteUnits {
  private readonly context = new AsyncLocalStorage<WriteUnit>();

  /** The open unit of the calling code, if any. */
  current(): WriteUnit | undefined {
    const unit = this.context.getStore();
    return unit && !unit.closed ? unit : undefined;
  }

  /** Runs `fn` as one unit (inside another unit, as part of it). */
  async run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.current()) return fn();
    const unit = new WriteUnit();
    try {
      const result = await this.context.run(unit, fn);
      await unit.durable();
      return result;
    } finally {
      unit.closed = true;
    }
  }
}

export class WriteUnit {
  closed = false;
  private pending: Array<Promise<unknown>> = [];

  /** A write of the unit: applied already, `durable` settles when it is on disk. */
  track(durable: Promise<unknown>): void {
    // Its failure is reported by `durable()`, or not at all when the unit failed first.
    durable.catch(() => undefined);
    this.pending.push(durable);
  }

  /** Resolves once every write the unit issued so far is durable; rejects with the first that failed. */
  async durable(): Promise<void> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0));
  }
}

/** The store side: a store that can apply writes at call time offers `units`. */
export interface WithUnits {
  readonly units?: WriteUnits;
}

/** Runs `fn` as one write unit where the store offers units; elsewhere each write waits for itself as always. */
export function inWriteUnit<R>(store: WithUnits, fn: () => Promise<R>): Promise<R> {
  return store.units ? store.units.run(fn) : fn();
}

/** Inside a unit: waits until its writes so far are durable (before anything leaves the process). */
export function unitDurable(store: WithUnits): Promise<void> {
  return store.units?.current()?.durable() ?? Promise.resolve();
}
