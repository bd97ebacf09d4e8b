import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CodedError, ConflictError, ErrorCode } from '../../src/core/errors.js';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../src/storage/sqlite/group-commit.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((c) => c()));

describe('SQLite file store durability', () => {
  it.each([
    ['one write at a time', 'serial', 300],
    ['400 writes at once (killed during large group commits)', 'batch', 3000],
  ])('keeps every acknowledged write after the writer is killed with SIGKILL: %s', async (_what, mode, killAfter) => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/storage/crash-writer.ts', dir.path, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: string[] = [];
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.startsWith('ack ')) acked.push(line.slice(4));
        if (acked.length >= killAfter && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
    });
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    expect(acked.length).toBeGreaterThanOrEqual(killAfter);

    const store = SqliteStore.open({ dataDir: dir.path });
    try {
      const stored = new Set((await store.messages.find()).map((m) => m.id));
      const lost = acked.filter((id) => !stored.has(id));
      expect(lost).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses a second store on the same data dir with a clear message, and allows it after close', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const first = SqliteStore.open({ dataDir: dir.path });
    let error: unknown;
    try {
      SqliteStore.open({ dataDir: dir.path });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CodedError);
    expect((error as CodedError).code).toBe(ErrorCode.DataDirLocked);
    expect((error as Error).message).toMatch(/Another coordinator process \(pid \d+ .*\) is using the data dir .*DATA_DIR/);
    await first.close();
    const second = SqliteStore.open({ dataDir: dir.path });
    await second.close();
  });
});

describe('SQLite file store indexes', () => {
  it('drops an index an earlier version declared and this one does not (health checks had one on `at`), and keeps the declared ones', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const first = SqliteStore.open({ dataDir: dir.path });
    first.db.exec(`CREATE INDEX "health_checks_at_id" ON "health_checks" (json_extract(doc, '$.at'), id)`);
    await first.close();
    const again = SqliteStore.open({ dataDir: dir.path });
    try {
      const names = (again.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'health_checks' AND sql IS NOT NULL`).all() as Array<{ name: string }>).map((r) => r.name);
      expect(names).toEqual(['health_checks_agentId_at_id']);
    } finally {
      await again.close();
    }
  });
});

describe('SQLite group commit', () => {
  it('commits the writes of one turn together; a failing write fails alone and the others are stored', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const store = SqliteStore.open({ dataDir: dir.path });
    try {
      const at = new Date().toISOString();
      const msg = (id: string) => ({ id, contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in' as const, text: id, at });
      await store.messages.insert(msg('taken'));
      const before = { ...store.commit.stats };
      const results = await Promise.allSettled([
        store.messages.insert(msg('a')),
        store.messages.insert(msg('taken')), // the id exists: this one fails, alone
        store.messages.insert(msg('b')),
        store.messages.update('a', { text: 'changed' }, { text: 'not what it is' }), // a compare-and-set miss: null, not an error
        store.messages.update('b', { text: 'b2' }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      expect((results[3] as PromiseFulfilledResult<unknown>).value).toBeNull();
      // One batch, one commit, for the four writes that stayed in it.
      expect(store.commit.stats.batches - before.batches).toBe(1);
      expect(store.commit.stats.writes - before.writes).toBe(4);
      expect((await store.messages.find({ orderBy: { field: 'id' } })).map((m) => [m.id, m.text])).toEqual([
        ['a', 'a'],
        ['b', 'b2'],
        ['taken', 'taken'],
      ]);
      // Writes still in the open batch are committed (and their callers answered) when the store closes.
      const last = store.messages.insert(msg('at-close'));
      await store.close();
      await expect(last).resolves.toMatchObject({ id: 'at-close' });
    } finally {
      await store.close();
    }
    const again = SqliteStore.open({ dataDir: dir.path });
    try {
      expect(await again.messages.get('at-close')).toMatchObject({ id: 'at-close' });
    } finally {
      await again.close();
    }
  });
});

describe('SQLite group commit with the fsync off the event loop', () => {
  type Done = (error: Error | null) => void;
  const setup = () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY)');
    const syncs: Done[] = [];
    const commit = new GroupCommit(db, (done) => syncs.push(done));
    const insert = (id: string) => commit.run(() => db.prepare('INSERT INTO t (id) VALUES (?)').run(id), { savepoint: false });
    return { db, syncs, commit, insert };
  };
  const settled = async (promise: Promise<unknown>) => {
    let state = 'pending';
    promise.then(() => (state = 'resolved'), () => (state = 'rejected'));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    return state;
  };

  it('answers a write only after the fsync that covers it, and batches committed meanwhile share the next fsync', async () => {
    const { db, syncs, commit, insert } = setup();
    const first = insert('a');
    await new Promise((r) => setImmediate(r)); // the batch commits at the end of the turn; its fsync starts
    expect(syncs).toHaveLength(1);
    // Committed (a read sees it) but not yet durable: the caller is not answered.
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
    expect(await settled(first)).toBe('pending');
    // Two more batches commit while that fsync runs; they wait for one fsync after it.
    const second = insert('b');
    await new Promise((r) => setImmediate(r));
    const third = insert('c');
    await new Promise((r) => setImmediate(r));
    expect(commit.stats.batches).toBe(3);
    expect(syncs).toHaveLength(1);
    syncs[0]!(null);
    expect(await settled(first)).toBe('resolved');
    expect(await settled(second)).toBe('pending');
    expect(syncs).toHaveLength(2);
    syncs[1]!(null);
    expect(await settled(second)).toBe('resolved');
    expect(await settled(third)).toBe('resolved');
    expect(commit.stats.syncs).toBe(2);
    db.close();
  });

  it('a failed fsync is fail-stop: it rejects what it covered, what committed meanwhile, the open batch and every later write', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY)');
    const syncs: Done[] = [];
    const failures: CodedError[] = [];
    const commit = new GroupCommit(db, (done) => syncs.push(done), (error) => failures.push(error));
    const insert = (id: string) => commit.run(() => db.prepare('INSERT INTO t (id) VALUES (?)').run(id), { savepoint: false });
    const covered = insert('a');
    await new Promise((r) => setImmediate(r)); // committed; its fsync runs
    const committedMeanwhile = insert('b');
    await new Promise((r) => setImmediate(r)); // committed, waiting for the next fsync
    const open = insert('c'); // in the open batch when the fsync fails
    expect(syncs).toHaveLength(1);
    syncs[0]!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    for (const write of [covered, committedMeanwhile, open]) {
      await expect(write).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable, message: expect.stringMatching(/fsync of the WAL failed: EIO.*restart the coordinator/) });
    }
    // The open batch was rolled back; nothing is acknowledged any more, even if a later fsync would succeed.
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT id FROM t ORDER BY id').all()).toEqual([{ id: 'a' }, { id: 'b' }]);
    await expect(insert('d')).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
    expect(syncs).toHaveLength(1);
    expect(failures).toHaveLength(1);
    expect(commit.failed).toBe(failures[0]);
    await commit.drain(); // closing a failed store does not wait for anything
    db.close();
  });

  it('the file store reports itself not ready after a failed fsync and tells its owner once', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const failures: CodedError[] = [];
    const store = SqliteStore.open({ dataDir: dir.path, onFailed: (error) => failures.push(error) });
    try {
      const at = new Date().toISOString();
      const msg = (id: string) => ({ id, contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in' as const, text: id, at });
      await store.messages.insert(msg('before'));
      const pending = store.messages.insert(msg('pending'));
      store.commit.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      store.commit.fail(new Error('a second failure is not reported again'));
      await expect(pending).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
      await expect(store.messages.insert(msg('after'))).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
      expect(store.state()).toMatchObject({ backend: 'file', ready: false, detail: expect.stringMatching(/^failed: .*EIO/) });
      expect(failures).toHaveLength(1);
    } finally {
      await store.close();
    }
    // Closing a failed store does not checkpoint the WAL into the database (that would write what the
    // disk may have lost as if it were sound): the WAL stays for the restart to read as it is.
    expect(existsSync(join(dir.path, 'coordinator.db-wal'))).toBe(true);
  });

  it('a COMMIT that fails is fail-stop too: its writes were already read by the code that made them', async () => {
    const db = new Database(':memory:');
    // A deferred foreign key is checked at COMMIT: an orphan makes the batch's COMMIT fail.
    db.exec('PRAGMA foreign_keys = ON; CREATE TABLE p (id TEXT PRIMARY KEY); CREATE TABLE c (id TEXT PRIMARY KEY, p TEXT REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED)');
    const failures: CodedError[] = [];
    const commit = new GroupCommit(db, (done) => done(null), (error) => failures.push(error));
    const fine = commit.run(() => db.prepare('INSERT INTO p (id) VALUES (?)').run('p1'));
    const orphan = commit.run(() => db.prepare('INSERT INTO c (id, p) VALUES (?, ?)').run('c1', 'missing'));
    await expect(fine).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable, message: expect.stringMatching(/the COMMIT failed: FOREIGN KEY/) });
    await expect(orphan).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
    await expect(commit.run(() => db.prepare('INSERT INTO p (id) VALUES (?)').run('p2'))).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
    expect(db.prepare('SELECT count(*) AS n FROM p').get()).toEqual({ n: 0 });
    expect(failures).toHaveLength(1);
    db.close();
  });

  it('an owner that throws when told keeps no waiter waiting (and its error does not escape the fsync callback)', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY)');
    const syncs: Done[] = [];
    const commit = new GroupCommit(db, (done) => syncs.push(done), () => {
      throw new Error('the owner failed too');
    });
    const covered = commit.run(() => db.prepare('INSERT INTO t (id) VALUES (?)').run('a'), { savepoint: false });
    await new Promise((r) => setImmediate(r));
    const open = commit.run(() => db.prepare('INSERT INTO t (id) VALUES (?)').run('b'), { savepoint: false });
    expect(() => syncs[0]!(new Error('EIO'))).not.toThrow();
    await expect(covered).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
    await expect(open).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
    db.close();
  });

  it('a barrier resolves once every write applied before it is durable: open batch, committed, or being synced', async () => {
    const { db, syncs, commit, insert } = setup();
    await expect(commit.barrier()).resolves.toBeUndefined(); // nothing applied: at once
    const first = insert('a');
    const inOpenBatch = commit.barrier();
    await new Promise((r) => setImmediate(r)); // committed, its fsync running
    const whileSyncing = commit.barrier();
    insert('b');
    await new Promise((r) => setImmediate(r)); // committed, waiting for the next fsync
    const whileUnsynced = commit.barrier();
    expect(await settled(inOpenBatch)).toBe('pending');
    expect(await settled(whileSyncing)).toBe('pending');
    syncs[0]!(null);
    await first;
    expect(await settled(inOpenBatch)).toBe('resolved');
    expect(await settled(whileSyncing)).toBe('resolved');
    expect(await settled(whileUnsynced)).toBe('pending');
    syncs[1]!(null);
    expect(await settled(whileUnsynced)).toBe('resolved');
    expect(commit.stats.writes).toBe(2); // barriers wait with the writes, they are not writes
    db.close();
  });

  it('closing waits for the fsync in flight and refuses writes after it', async () => {
    const { db, syncs, commit, insert } = setup();
    const write = insert('a');
    const closing = commit.drain();
    expect(syncs).toHaveLength(1);
    expect(await settled(closing)).toBe('pending');
    await expect(insert('b')).rejects.toThrow(/closed/);
    syncs[0]!(null);
    await closing;
    await expect(write).resolves.toBeDefined();
    db.close();
  });

  it('the file store fsyncs the WAL itself: every batch it acknowledges went through an fsync', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const store = SqliteStore.open({ dataDir: dir.path });
    try {
      expect(store.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL: no fsync inside COMMIT
      const at = new Date().toISOString();
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.messages.insert({ id: `m${round}-${i}`, contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: 'x', at })));
      }
      expect(store.commit.stats.writes).toBe(100);
      expect(store.commit.stats.syncs).toBeGreaterThanOrEqual(1);
      expect(store.commit.stats.syncs).toBeLessThanOrEqual(store.commit.stats.batches);
    } finally {
      await store.close();
    }
  });
});
