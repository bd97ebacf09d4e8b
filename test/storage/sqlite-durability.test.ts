import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { CodedError, ConflictError, ErrorCode } from '../../src/core/errors.js';
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
