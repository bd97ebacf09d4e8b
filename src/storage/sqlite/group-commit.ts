import type Database from 'better-sqlite3';

/** Writes in one batch at most; the one that fills it commits the batch at once. */
const MAX_BATCH = 512;

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Group commit for one SQLite connection: writes issued in the same turn of
 * the event loop share one transaction, so one fsync (`synchronous=FULL`)
 * makes all of them durable instead of one fsync each.
 *
 * The first write of a turn opens the transaction (`BEGIN IMMEDIATE`) and
 * schedules its commit for the end of the turn (`setImmediate`), or at once
 * when MAX_BATCH writes have joined. Each write runs at once inside it as a
 * savepoint (better-sqlite3's nested transaction), or bare when it is one
 * statement: one that throws (a unique key; a compare-and-set miss is not an
 * error) is rolled back alone and its caller's promise rejects, the others
 * stay in the batch. A caller's promise
 * resolves only after the COMMIT returned, i.e. once its write is on disk; a
 * failed COMMIT rejects every write of the batch.
 *
 * Reads on the connection see the open batch (they run on the same
 * connection): a read can see a write a few milliseconds before it is
 * durable. A write that depends on it is in the same batch or a later one,
 * so it can never be durable without it.
 */
export class GroupCommit {
  private waiters: Waiter[] = [];
  private open = false;
  /** Batches committed and writes in them, since the store opened (for the benchmark and tests). */
  readonly stats = { batches: 0, writes: 0 };

  constructor(private readonly db: Database.Database) {}

  /**
   * Runs `fn` in the current batch; resolves with its result once the batch is committed.
   * `savepoint: false` is for a write of one statement (and reads before it): a statement that
   * fails is undone alone by SQLite itself, so the savepoint around it would only cost time.
   */
  run<R>(fn: () => R, options: { savepoint?: boolean } = {}): Promise<R> {
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
      // earlier writes are gone, so their callers are told now, and the next write opens a new batch.
      if (!this.db.inTransaction) this.abandon(error);
      return Promise.reject(error);
    }
    const done = new Promise<R>((resolve, reject) => this.waiters.push({ resolve: () => resolve(result), reject }));
    if (this.waiters.length >= MAX_BATCH) this.flush();
    return done;
  }

  /** The open batch was rolled back under us: every write in it fails with the error that did it. */
  private abandon(error: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    this.open = false;
    for (const w of waiters) w.reject(error);
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
      for (const w of waiters) w.reject(error);
      return;
    }
    this.stats.batches++;
    this.stats.writes += waiters.length;
    for (const w of waiters) w.resolve();
  }
}
