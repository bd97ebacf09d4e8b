import { afterEach, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../src/core/clock.js';
import type { StoredDoc } from '../../src/storage/collection.js';
import { HybridStore } from '../../src/storage/hybrid/hybrid-store.js';
import { MongoStore } from '../../src/storage/mongo/mongo-store.js';
import { openStore } from '../../src/storage/open-store.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { switchablePrimary } from '../helpers/switchable-primary.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Note extends StoredDoc {
  text: string;
}

const msg = (id: string, text: string) => ({ id, contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in' as const, text, at: '2026-01-01T00:00:00.000Z' });

describe('hybrid store', () => {
  it('falls back to the file store within a few seconds when MONGODB_URI is unreachable, and says so', async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const { logger, entries } = memoryLogger();
    const started = Date.now();
    const store = await openStore({ dataDir: dir.path, mongodbUri: 'mongodb://127.0.0.1:9/coordinator', mongodbTimeoutMs: 1000, logger, clock: systemClock });
    cleanups.push(() => store.close());
    expect(Date.now() - started).toBeLessThan(5000);
    const state = store.state();
    expect(state).toMatchObject({ backend: 'file', ready: true, fallback: true });
    expect(state.detail).toMatch(/MongoDB unreachable .*using the file store/);
    expect(entries.some((e) => e.level === 'warn' && /MongoDB unreachable, using the file store/.test(String(e.message)))).toBe(true);
    await store.messages.insert(msg('m1', 'olá'));
    expect((await store.messages.get('m1'))?.text).toBe('olá');
    expect(state.pendingSync).toBe(0);
    expect(store.state().pendingSync).toBe(1);
  });

  it('switches to the file store when MongoDB goes away, then replays every write idempotently when it returns', async () => {
    const fileDir = tempDir();
    const mongoDir = tempDir();
    cleanups.push(fileDir.cleanup, mongoDir.cleanup);
    const primary = switchablePrimary(mongoDir.path);
    const { logger } = memoryLogger();
    const hybrid = new HybridStore({ primary, file: SqliteStore.open({ dataDir: fileDir.path }), logger, clock: systemClock, retryMs: 60_000 });
    cleanups.push(() => hybrid.close());
    await hybrid.start();
    expect(hybrid.state()).toMatchObject({ backend: 'mongodb', fallback: false });

    await hybrid.messages.insert(msg('m1', 'before'));
    await hybrid.messages.insert(msg('gone', 'to be deleted'));
    expect((await primary.backing.messages.get('m1'))?.text).toBe('before');

    primary.online = false;
    // Written while MongoDB is down: acknowledged by the file store.
    await hybrid.messages.insert(msg('m2', 'during outage'));
    const updated = await hybrid.messages.update('m1', { text: 'edited during outage' });
    expect(updated?.version).toBe(2);
    expect(await hybrid.messages.delete('gone')).toBe(true);
    expect(hybrid.state()).toMatchObject({ backend: 'file', fallback: true, pendingSync: 3 });
    expect((await hybrid.messages.get('m1'))?.text).toBe('edited during outage');

    await hybrid.tryRecover();
    expect(hybrid.state().fallback).toBe(true); // still down: stays on the file store

    primary.online = true;
    await hybrid.tryRecover();
    expect(hybrid.state()).toMatchObject({ backend: 'mongodb', fallback: false, pendingSync: 0 });
    expect(await primary.backing.messages.get('m2')).toMatchObject({ text: 'during outage', version: 1 });
    expect(await primary.backing.messages.get('m1')).toMatchObject({ text: 'edited during outage', version: 2 });
    expect(await primary.backing.messages.get('gone')).toBeNull();

    // A replay of the same doc again changes nothing (idempotent by version).
    expect(await primary.backing.messages.putIfNewer((await hybrid.messages.get('m1'))!)).toBe(false);
    // Back on MongoDB, reads come from it again.
    await primary.backing.messages.update('m2', { text: 'changed in MongoDB' });
    expect((await hybrid.messages.get('m2'))?.text).toBe('changed in MongoDB');
  });

  it("keeps a channel's namespace writes from an outage journaled until a later process opens it, then replays them", async () => {
    const fileDir = tempDir();
    const mongoDir = tempDir();
    cleanups.push(fileDir.cleanup, mongoDir.cleanup);
    const SPECS = { notes: { name: 'memo_notes', indexes: [] } };
    const { logger } = memoryLogger();

    // First process: the channel writes while MongoDB is down, then the process stops.
    const primary1 = switchablePrimary(mongoDir.path);
    const first = new HybridStore({ primary: primary1, file: SqliteStore.open({ dataDir: fileDir.path }), logger, clock: systemClock, retryMs: 60_000 });
    await first.start();
    const notes1 = first.namespace('memo', SPECS).collection<Note>('notes');
    await notes1.insert({ id: 'n1', text: 'before' });
    primary1.online = false;
    await notes1.update('n1', { text: 'during outage' });
    await notes1.insert({ id: 'n2', text: 'only in the file store' });
    expect(first.state()).toMatchObject({ fallback: true, pendingSync: 2 });
    await first.close();

    // Second process: MongoDB is back; the core replays, but the channel has not started yet.
    const primary2 = switchablePrimary(mongoDir.path);
    const second = new HybridStore({ primary: primary2, file: SqliteStore.open({ dataDir: fileDir.path }), logger, clock: systemClock, retryMs: 60_000 });
    cleanups.push(() => second.close());
    await second.start();
    expect(second.state()).toMatchObject({ backend: 'mongodb', fallback: false, pendingSync: 2 });
    const backingNotes = primary2.backing.namespace('memo', SPECS).collection<Note>('notes');
    expect((await backingNotes.get('n1'))?.text).toBe('before');
    expect(await backingNotes.get('n2')).toBeNull();

    // The channel starts: its reads see the journaled writes at once, and the replay brings MongoDB up to date.
    const notes2 = second.namespace('memo', SPECS).collection<Note>('notes');
    expect((await notes2.get('n1'))?.text).toBe('during outage');
    await until('the journaled namespace writes replayed', () => second.state().pendingSync === 0 && !second.state().fallback);
    expect(await backingNotes.get('n1')).toMatchObject({ text: 'during outage', version: 2 });
    expect((await backingNotes.get('n2'))?.text).toBe('only in the file store');
  });

  it('a MongoStore against a closed port fails an operation within its timeout, not 30 s', async () => {
    const store = MongoStore.create({ uri: 'mongodb://127.0.0.1:9/x', timeoutMs: 500 });
    cleanups.push(() => store.close());
    const started = Date.now();
    await expect(store.connect()).rejects.toThrow();
    await expect(store.agents.get('a')).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
