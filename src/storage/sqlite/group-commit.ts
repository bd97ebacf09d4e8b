import type Database from 'better-sqlite3';
import { CodedError, ErrorCode } from '../../core/errors.js';

/** Writes in one batch at most; the one that fills it commits the batch at once. */
const MAX_BATCH = 512;

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
  /** A `barrier()`: waits with the writes, is not one. */
  barrier?: true;
}

/**
 * Makes everything committed so far durable (an fsync of the WAL file) off
 * the event loop, and calls back when it is on disk or failed.
 */
export type SyncCommitted = (done: (error: Error | null) => void) => void;

/** fsyncs running in this process, over every store (tests let them finish before they look). */
let syncsRunning = 0;
const whenNoneRunning: Array<() => void> = [];

/** Resolves once no fsync of any file store in this process is running (at once if none is). */
export function syncsSettled(): Promise<void> {
  return syncsRunning === 0 ? Promise.resolve() : new Promise((resolve) => whenNoneRunning.push(resolve));
}

/**
 * Group commit for one SQLite connection: writes issued in the same turn of
 * the event loop share one transaction, and one fsync makes all of them
 * durable instead of one fsync each.
 *
 * The first write of a turn opens the transaction (`BEGIN IMMEDIATE`) and
 * schedules its commit for the end of the turn (`setImmediate`), or at once
 * when MAX_BATCH writes have joined. Each write runs at once inside it as a
 * savepoint (better-sqlite3's nested transaction), or bare when it is one
 * statement: one that throws (a unique key; a compare-and-set miss is not an
 * error) is rolled back alone and its caller's promise rejects, the others
 * stay in the batch.
 *
 * Durability: `sync` is an fsync of the WAL file on libuv's thread pool (the
 * file store runs SQLite at `synchronous=NORMAL`, which is FULL without the
 * fsync at each commit), so the COMMIT only writes the WAL and the fsync runs
 * off the event loop; the next batches commit meanwhile and share the fsync
 * after it. A caller's promise resolves only once its write is on disk.
 *
 * A failed fsync is fail-stop, as in PostgreSQL since 2018's "fsyncgate": its
 * writes are committed (reads see them) but maybe not on disk, and after an
 * EIO Linux may report the next fsync as a success without the lost pages ever
 * reaching the disk. So the first failure rejects every write not yet
 * acknowledged and every later one (`store_unavailable`), and `onFailed` tells
 * the owner, which stops the process so that a restart recovers from what is
 * really on disk. A failed COMMIT, or a write whose error rolls the whole batch
 * back (a full disk), is fail-stop too: the batch's writes were already read
 * by the code that made them (an audit event chained on the one before).
 *
 * Reads on the connection see the open batch (they run on the same
 * connection): a read can see a write a few milliseconds before it is
 * durable. A write that depends on it is in the same batch or a later one,
 * and the WAL is synced in order, so it can never be durable without it.
 */
export class GroupCommit {
  private waiters: Waiter[] = [];
  private open = false;
  /** Committed, waiting for the next fsync. */
  private unsynced: Waiter[] = [];
  /** Covered by the fsync running now. */
  private covering: Waiter[] = [];
  private syncing = false;
  private idle: Array<() => void> = [];
  private closing = false;
  /** Set by the first failed fsync: nothing is acknowledged after it. */
  private failure: CodedError | undefined;
  /** Batches committed, writes in them, and fsyncs run for them, since the store opened (for the benchmark and tests). */
  readonly stats = { batches: 0, writes: 0, syncs: 0 };

  constructor(
    private readonly db: Database.Database,
    private readonly sync: SyncCommitted,
    private readonly onFailed: (error: CodedError) => void = () => {},
  ) {}

  /** Why the store refuses writes after a failed fsync (undefined while healthy). */
  get failed(): CodedError | undefined {
    return this.failure;
  }

  /**
   * Runs `fn` in the current batch; resolves with its result once the batch is durable.
   * `savepoint: false` is for a write of one statement (and reads before it): a statement that
   * fails is undone alone by SQLite itself, so the savepoint around it would only cost time.
   */
  run<R>(fn: () => R, options: { savepoint?: boolean } = {}): Promise<R> {
    let applied: { result: R; durable: Promise<void> };
    try {
      applied = this.apply(fn, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return applied.durable.then(() => applied.result);
  }

  /**
   * Runs `fn` in the current batch now: returns its result (or throws its error) at once, with a
   * promise that settles when the batch is durable. A write unit (write-unit.ts) answers its
   * caller with the result and waits for `durable` once for the whole unit.
   */
  apply<R>(fn: () => R, options: { savepoint?: boolean } = {}): { result: R; durable: Promise<void> } {
    if (this.failure) throw this.failure;
    if (this.closing) throw new Error('the file store is closed');
    if (!this.open) {
      this.db.exec('BEGIN IMMEDIATE');
      this.open = true;
      setImmediate(() => this.flush());
    }
    let result: R;
    try {
      // Inside the open transaction, better-sqlite3 makes this a SAVEPOINT, rolled back alone if fn throws.
      result = options.savepoint === false ? fn() : this.db.transaction(fn)();
    } catch (error) {
      // Some errors (a full disk, I/O) make SQLite roll the whole transaction back: the batch's
      // earlier writes are gone, after their callers (and later code) may have read them.
      if (!this.db.inTransaction) {
        this.open = false;
        this.fail(error, 'a write rolled back the whole batch');
      }
      throw error;
    }
    const durable = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.waiters.length >= MAX_BATCH) this.flush();
    return { result, durable };
  }

  /** Commits the open batch now (end of the turn, a full batch, or closing the store). */
  flush(): void {
    if (!this.open) return;
    const waiters = this.waiters;
    this.waiters = [];
    this.open = false;
    try {
      this.db.exec('COMMIT');
    } catch (error) {
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        // The COMMIT's own error is the one to report.
      }
      // Fail-stop as for an fsync: the batch's writes were read (an audit event's successor chained
      // on it, a reply sent from it) before they were lost, so nothing this process holds is sure.
      this.fail(error, 'the COMMIT failed');
      for (const w of waiters) w.reject(this.failure);
      return;
    }
    this.stats.batches++;
    for (const w of waiters) if (!w.barrier) this.stats.writes++;
    this.unsynced.push(...waiters);
    this.startSync();
  }

  /** One fsync at a time; it covers every batch committed before it started. */
  private startSync(): void {
    if (this.syncing) return;
    if (this.unsynced.length === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    const covered = this.unsynced;
    this.unsynced = [];
    this.covering = covered;
    this.syncing = true;
    syncsRunning++;
    this.sync((error) => {
      this.syncing = false;
      this.covering = [];
      this.stats.syncs++;
      if (--syncsRunning === 0) for (const resolve of whenNoneRunning.splice(0)) resolve();
      if (error) this.fail(error, 'fsync of the WAL failed', covered);
      if (this.failure) {
        for (const w of covered) w.reject(this.failure);
        for (const resolve of this.idle.splice(0)) resolve();
        return;
      }
      for (const w of covered) w.resolve();
      this.startSync();
    });
  }

  /**
   * The disk lost writes (a failed fsync, a failed COMMIT, a batch rolled back): every write not yet
   * acknowledged fails, the open batch is rolled back, and every later write is refused. The first
   * call counts; later ones do nothing. The owner hears of it last, once every waiter is told.
   */
  fail(cause: unknown, what = 'fsync of the WAL failed', covered: readonly Waiter[] = []): void {
    if (this.failure) return;
    // (Not `instanceof Error`: the native addon's errors may come from another realm.)
    const message = (cause as { message?: unknown } | null)?.message;
    const reason = typeof message === 'string' ? message : String(cause);
    this.failure = new CodedError(
      ErrorCode.StoreUnavailable,
      `The file store could not make its writes durable (${what}: ${reason}). It accepts no more writes: check the disk, then restart the coordinator, which recovers from what is on disk.`,
      undefined,
      { cause },
    );
    const open = this.waiters;
    this.waiters = [];
    if (this.open) {
      this.open = false;
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        // The first error is the one to report.
      }
    }
    const unsynced = this.unsynced;
    this.unsynced = [];
    for (const w of [...covered, ...unsynced, ...open]) w.reject(this.failure);
    if (!this.syncing) for (const resolve of this.idle.splice(0)) resolve();
    try {
      this.onFailed(this.failure);
    } catch {
      // The owner's reaction (log, exit) must not keep the rest from being told.
    }
  }

  /**
   * Resolves once every write applied so far is durable (at once when all are), and rejects if the
   * store failed: for an answer built from a read, which can see writes of others not yet on disk
   * (an idempotent replay of a request still being stored, a decision another manager just made).
   */
  barrier(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const queue = this.open ? this.waiters : this.unsynced.length > 0 ? this.unsynced : this.syncing ? this.covering : undefined;
    if (!queue) return Promise.resolve();
    return new Promise<void>((resolve, reject) => queue.push({ resolve, reject, barrier: true }));
  }

  /** Closing the store: commits the open batch, refuses new writes, and resolves once every committed write is durable. */
  async drain(): Promise<void> {
    this.closing = true;
    this.flush();
    if (!this.syncing && (this.failure || this.unsynced.length === 0)) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
