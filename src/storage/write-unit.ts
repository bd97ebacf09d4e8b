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
 * `run` and waits for its own writes as usual. What leaves the process from
 * inside a unit goes through `afterUnitDurable` (a chat send), and the event
 * bus holds events emitted in a unit until it is durable (`afterWriteUnit`)
 * and runs its listeners outside it, so no work of theirs joins the unit.
 *
 * A unit groups the waits for the disk; it is not a transaction. If `fn`
 * throws halfway, the writes it made before stay (each is applied when made,
 * as outside a unit); if one of its writes does not reach the disk (the store
 * failed), its later writes are refused and `run` rejects.
 */
/** One context for every store's units: `outsideWriteUnits` leaves whichever is open. */
const context = new AsyncLocalStorage<WriteUnit>();

export class WriteUnits {
  /** The open unit of the calling code on this store, if any. */
  current(): WriteUnit | undefined {
    const unit = context.getStore();
    return unit && !unit.closed && unit.owner === this ? unit : undefined;
  }

  /** Runs `fn` as one unit (inside another unit, as part of it); resolves once the unit's writes so far are durable. */
  async run<R>(fn: () => Promise<R>): Promise<R> {
    const outer = this.current();
    if (outer) {
      const result = await fn();
      await outer.durable();
      return result;
    }
    const unit = new WriteUnit(this);
    let result: R;
    try {
      result = await context.run(unit, fn);
    } catch (error) {
      // Not a transaction: what it wrote before the throw stays, and is announced once it is on disk.
      unit.closed = true;
      await unit.durable().catch(() => undefined); // the caller hears of `error`; a failed write of the unit has already stopped the store (fail-stop)
      throw error;
    }
    await unit.durable();
    // Closed first: work started inside the unit and still running (a timer, a listener) now waits
    // for its own writes; then the writes it joined in the last moments are waited for too.
    unit.closed = true;
    await unit.durable();
    return result;
  }
}

export class WriteUnit {
  closed = false;
  /** Run once the unit is durable (`afterWriteUnit`). */
  readonly after: Array<() => void> = [];
  private readonly pending: Array<Promise<unknown>> = [];
  constructor(readonly owner: WriteUnits) {}

  /** A write of the unit: applied already, `durable` settles when it is on disk. */
  track(durable: Promise<unknown>): void {
    // A write that does not reach the disk stops the store (GroupCommit.fail), which refuses the unit's later writes too.
    durable.catch(() => undefined); // not unhandled: its failure is reported by `durable()`, which awaits it
    this.pending.push(durable);
  }

  /**
   * Resolves once every write the unit issued so far is durable, and announces what was held until
   * then (`afterWriteUnit`); rejects with the first write that failed, and announces nothing.
   */
  async durable(): Promise<void> {
    // Every caller waits for every write so far (a unit has a handful), also those another caller is waiting for.
    let waited = -1;
    while (waited !== this.pending.length) {
      waited = this.pending.length;
      await Promise.all(this.pending);
    }
    const due = this.after.splice(0);
    if (due.length > 0) {
      outsideWriteUnits(() => {
        for (const announce of due) announce();
      });
    }
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

/**
 * Inside a unit: waits until its writes so far are durable (before anything leaves the process).
 * Called right after a write is issued, it settles once that write is on disk.
 */
export function unitDurable(store: WithUnits): Promise<void> {
  return store.units?.current()?.durable() ?? Promise.resolve();
}

/**
 * Runs `fn` outside any write unit: what it starts (a send queue's pump, an event's listeners)
 * writes on its own, each write waiting for the disk, instead of joining the caller's unit and
 * being answered before its write is durable.
 */
export function outsideWriteUnits<R>(fn: () => R): R {
  return context.exit(fn);
}

/**
 * Inside an open unit (of any store), `announce` runs once the unit's writes so far are durable
 * (at its next `durable()`, at the latest when it ends), outside it, and never if they fail: an
 * event about the unit's writes is never seen before they are on disk. Outside a unit it runs now.
 */
export function afterWriteUnit(announce: () => void): void {
  const unit = context.getStore();
  if (unit && !unit.closed) unit.after.push(announce);
  else announce();
}

/** Waits for the caller's unit's writes so far to be durable, then runs `fn` outside it: for whatever leaves the process. */
export async function afterUnitDurable<R>(store: WithUnits, fn: () => Promise<R>): Promise<R> {
  await unitDurable(store);
  return outsideWriteUnits(fn);
}
