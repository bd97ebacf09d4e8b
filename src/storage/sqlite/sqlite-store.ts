import Database from 'better-sqlite3';
import { closeSync, fdatasync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CodedError, ErrorCode } from '../../core/errors.js';
import { ensurePrivateFile, preparePrivateDataDir, writePrivateFile, type PrivateDataDirOptions } from '../data-dir.js';
import type { CollectionSpec, StoredDoc } from '../collection.js';
import { Namespaces } from '../namespaces.js';
import { COLLECTION_KEYS, COLLECTION_SPECS, type Store, type StoreCollections, type StoreState } from '../store.js';
import { SqliteCollection } from './sqlite-collection.js';
import { GroupCommit } from './group-commit.js';
import { WriteUnits } from '../write-unit.js';

export interface SqliteStoreOptions extends PrivateDataDirOptions {
  dataDir: string;
  /**
   * An fsync of the WAL or a COMMIT failed: the store refuses every write from now on (see GroupCommit.fail)
   * and the owner should stop the process, so that a restart recovers from what is on disk.
   */
  onFailed?: (error: CodedError) => void;
}

/**
 * The embedded default: SQLite at `DATA_DIR/coordinator.db` in WAL mode. An
 * acknowledged write survives `kill -9` and power loss: the writes of one turn
 * of the event loop share one commit (group-commit.ts), and a write's promise
 * resolves once the WAL holding it is fsynced. The fsync is ours, on libuv's
 * thread pool (SQLite runs at `synchronous=NORMAL`, i.e. FULL without the
 * fsync inside each COMMIT), so the event loop does not wait for the disk (except at SQLite's
 * automatic checkpoints, every ~1000 pages of WAL, which sync inside COMMIT).
 * The database is opened in exclusive locking mode: a second process on the
 * same data dir is refused (the OS drops the lock when a process dies, so a
 * crash never leaves a stale lock behind).
 * The data dir is created 0700 and its files 0600; a dir or file open to other
 * users is refused unless `allowInsecure` (see `preparePrivateDataDir`).
 */
export class SqliteStore implements Store {
  declare readonly agents: StoreCollections['agents'];
  declare readonly healthChecks: StoreCollections['healthChecks'];
  declare readonly approvals: StoreCollections['approvals'];
  declare readonly auditEvents: StoreCollections['auditEvents'];
  declare readonly contacts: StoreCollections['contacts'];
  declare readonly messages: StoreCollections['messages'];
  declare readonly conversations: StoreCollections['conversations'];
  declare readonly settings: StoreCollections['settings'];
  declare readonly apiTokens: StoreCollections['apiTokens'];
  declare readonly outbox: StoreCollections['outbox'];
  declare readonly prompts: StoreCollections['prompts'];
  readonly db: Database.Database;
  /** While true, every write is journaled for replay into MongoDB (hybrid fallback). */
  journaling = false;
  readonly path: string;
  private closed = false;
  /** Collections opened by namespace (channels' state), journaled like the core ones. */
  readonly namespaces: Namespaces<SqliteCollection<StoredDoc>>;

  /** Writes of one turn of the event loop share one transaction and one fsync (group-commit.ts). */
  readonly commit: GroupCommit;
  /** A write runs when called (in the open batch, seen by later reads); its promise waits for the commit. */
  readonly appliesWritesAtCall = true;
  /** The writes of one operation made durable together (write-unit.ts). */
  readonly units: WriteUnits;

  private constructor(db: Database.Database, path: string, private readonly walFd: number, commit: GroupCommit, units: WriteUnits, collections: StoreCollections, onWrite: (collection: string, id: string) => void) {
    this.db = db;
    this.path = path;
    this.commit = commit;
    this.units = units;
    Object.assign(this, collections);
    this.namespaces = new Namespaces((spec) => new SqliteCollection<StoredDoc>(db, spec, commit, onWrite, () => this.journaling, this.units));
  }

  namespace(namespace: string, specs: Readonly<Record<string, CollectionSpec>>) {
    return this.namespaces.open(namespace, specs) as ReturnType<Store['namespace']>;
  }

  static open(options: SqliteStoreOptions): SqliteStore {
    const dir = preparePrivateDataDir(options.dataDir, options);
    const path = join(dir, 'coordinator.db');
    // Created 0600 before SQLite opens it: SQLite gives its -wal/-shm files the database file's mode.
    ensurePrivateFile(path);
    const db = new Database(path, { timeout: 0 });
    let walFd: number | undefined;
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      // NORMAL: SQLite syncs the WAL at checkpoints only; the group commit fsyncs it before acknowledging.
      db.pragma('synchronous = NORMAL');
      // Take the exclusive lock now, not at the first write (this also creates the WAL file).
      db.exec('BEGIN IMMEDIATE; COMMIT;');
      // The WAL keeps its inode while the connection is open (a checkpoint rewrites it from the start);
      // SQLite deletes it only at close. Its directory entry is made durable once, as SQLite does for a new WAL.
      walFd = openSync(`${path}-wal`, 'r');
      syncDir(dir);
    } catch (error) {
      if (walFd !== undefined) closeSync(walFd);
      db.close();
      if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
        throw new CodedError(ErrorCode.DataDirLocked, lockedMessage(dir), { dataDir: dir }, { cause: error });
      }
      throw error;
    }
    writePrivateFile(join(dir, 'coordinator.pid'), JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
    db.exec('CREATE TABLE IF NOT EXISTS _sync_journal (collection TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (collection, id))');
    const journalStmt = db.prepare('INSERT OR IGNORE INTO _sync_journal (collection, id) VALUES (?, ?)');
    let store: SqliteStore | undefined = undefined;
    const onWrite = (collection: string, id: string) => {
      if (store?.journaling) journalStmt.run(collection, id);
    };
    const journaling = () => store?.journaling === true;
    const wal = walFd;
    const commit = new GroupCommit(db, (done) => fdatasync(wal, done), (error) => options.onFailed?.(error));
    const units = new WriteUnits();
    const collections = Object.fromEntries(
      COLLECTION_KEYS.map((key) => [key, new SqliteCollection(db, COLLECTION_SPECS[key], commit, onWrite, journaling, units)]),
    ) as unknown as StoreCollections;
    store = new SqliteStore(db, path, wal, commit, units, collections, onWrite);
    return store;
  }

  /** Resolves once every write applied so far is durable (see GroupCommit.barrier). */
  barrier(): Promise<void> {
    return this.commit.barrier();
  }

  state(): StoreState {
    const failed = this.commit.failed;
    if (failed) return { backend: 'file', ready: false, fallback: false, detail: `failed: ${failed.message}` };
    return { backend: 'file', ready: !this.closed, fallback: false, detail: this.closed ? 'closed' : `SQLite at ${this.path}` };
  }

  /** Writes journaled for replay, oldest first; only of these collections when given (the others stay journaled). */
  journalEntries(limit = 500, collections?: readonly string[]): Array<{ collection: string; id: string }> {
    if (!collections) return this.db.prepare('SELECT collection, id FROM _sync_journal ORDER BY rowid LIMIT ?').all(limit) as Array<{ collection: string; id: string }>;
    if (collections.length === 0) return [];
    const list = collections.map(() => '?').join(', ');
    return this.db.prepare(`SELECT collection, id FROM _sync_journal WHERE collection IN (${list}) ORDER BY rowid LIMIT ?`).all(...collections, limit) as Array<{ collection: string; id: string }>;
  }

  journalSize(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM _sync_journal').get() as { n: number }).n;
  }

  /** (Inside an open batch it commits with it; left behind by a crash, the entry is replayed again: replays are idempotent.) */
  clearJournalEntry(collection: string, id: string): void {
    this.db.prepare('DELETE FROM _sync_journal WHERE collection = ? AND id = ?').run(collection, id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The writes of the current turn are committed and synced (and their callers told) before the file closes.
    await this.commit.drain();
    closeSync(this.walFd);
    // After a failure the connection is left open until the process exits: closing it would
    // checkpoint the WAL into the database file, writing what the disk may have lost as if it
    // were sound (and the writes refused to their callers with it). A restart reads the WAL as it is.
    if (!this.commit.failed) this.db.close();
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function lockedMessage(dir: string): string {
  let holder = '';
  try {
    const info = JSON.parse(readFileSync(join(dir, 'coordinator.pid'), 'utf8')) as { pid: number; host: string; since: string };
    holder = ` (pid ${info.pid} on ${info.host}, started ${info.since})`;
  } catch {
    holder = '';
  }
  return `Another coordinator process${holder} is using the data dir ${dir}. Stop it first, or point DATA_DIR at another folder.`;
}
