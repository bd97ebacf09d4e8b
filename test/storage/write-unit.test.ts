import { afterEach, describe, expect, it } from '@jest/globals';
import { ConflictError, ErrorCode } from '../../src/core/errors.js';
import { EventBus } from '../../src/coordination/event-bus.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { afterUnitDurable, inWriteUnit, outsideWriteUnits, unitDurable } from '../../src/storage/write-unit.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function open(): SqliteStore {
  const dir = tempDir();
  const store = SqliteStore.open({ dataDir: dir.path });
  cleanups.push(dir.cleanup, () => store.close());
  return store;
}

const at = new Date().toISOString();
const message = (id: string) => ({ id, contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in' as const, text: id, at });
const setting = (id: string) => ({ id, value: id, updatedAt: at });

describe('write units on the file store', () => {
  it('makes the writes of one operation durable with one commit and one fsync, answering each write once applied', async () => {
    const store = open();
    const before = { ...store.commit.stats };
    const order: string[] = [];
    const result = await inWriteUnit(store, async () => {
      // Each write awaits the one before, as the repositories do: outside a unit that is a commit and fsync each.
      const m = await store.messages.insert(message('m1'));
      order.push(`insert answered, fsyncs so far ${store.commit.stats.syncs - before.syncs}`);
      await store.messages.update(m.id, { text: 'edited' });
      await store.settings.put(setting('s1'));
      return 'done';
    });
    order.push(`unit answered, fsyncs so far ${store.commit.stats.syncs - before.syncs}`);
    expect(result).toBe('done');
    expect(order).toEqual(['insert answered, fsyncs so far 0', 'unit answered, fsyncs so far 1']);
    expect(store.commit.stats.batches - before.batches).toBe(1);
    expect(store.commit.stats.writes - before.writes).toBe(3);
    expect((await store.messages.get('m1'))?.text).toBe('edited');
  });

  it('a failing write fails alone inside the unit, and the caller may carry on', async () => {
    const store = open();
    await store.messages.insert(message('taken'));
    const outcome = await inWriteUnit(store, async () => {
      await store.messages.insert(message('new'));
      const clash = await store.messages.insert(message('taken')).catch((error: unknown) => error);
      return clash;
    });
    expect(outcome).toBeInstanceOf(ConflictError);
    expect((await store.messages.find()).map((m) => m.id).sort()).toEqual(['new', 'taken']);
  });

  it('unitDurable waits for the writes so far (before anything leaves the process); outside a unit it does not wait', async () => {
    const store = open();
    await expect(unitDurable(store)).resolves.toBeUndefined();
    const seen: number[] = [];
    const before = store.commit.stats.syncs;
    await inWriteUnit(store, async () => {
      await store.messages.insert(message('before-send'));
      seen.push(store.commit.stats.syncs - before);
      await unitDurable(store);
      seen.push(store.commit.stats.syncs - before);
      await store.messages.insert(message('after-send'));
    });
    seen.push(store.commit.stats.syncs - before);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('work a unit leaves running (a callback it registered) finds it closed and waits for its own writes', async () => {
    const store = open();
    let late: Promise<number> | undefined;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await inWriteUnit(store, async () => {
      await store.messages.insert(message('in-unit'));
      // Registered inside the unit, so it runs in the unit's async context, but after the unit has closed.
      void gate.then(() => {
        const issuedAt = store.commit.stats.syncs;
        // Answered after an fsync of its own: in the (closed) unit it would be answered before any.
        late = store.messages.insert(message('late')).then(() => store.commit.stats.syncs - issuedAt);
      });
    });
    release();
    await gate;
    await new Promise((r) => setImmediate(r));
    expect(store.units.current()).toBeUndefined();
    expect(await late).toBeGreaterThanOrEqual(1);
    expect(await store.messages.get('late')).toMatchObject({ id: 'late' });
  });

  it('what leaves the process from inside a unit runs outside it, after the unit is on disk, and its writes wait for themselves', async () => {
    const store = open();
    const before = store.commit.stats.syncs;
    const seen: string[] = [];
    await inWriteUnit(store, async () => {
      await store.messages.insert(message('reply'));
      await afterUnitDurable(store, async () => {
        // A send queue's pump started here writes its own state: not in the caller's unit.
        seen.push(`send: fsyncs ${store.commit.stats.syncs - before}, in a unit ${store.units.current() !== undefined}`);
        const issuedAt = store.commit.stats.syncs;
        await store.settings.put(setting('pump-state'));
        seen.push(`pump write answered after ${store.commit.stats.syncs - issuedAt} fsync`);
      });
      // Listeners of an event emitted in a unit run outside it too.
      outsideWriteUnits(() => seen.push(`listener in a unit ${store.units.current() !== undefined}`));
    });
    expect(seen).toEqual(['send: fsyncs 1, in a unit false', 'pump write answered after 1 fsync', 'listener in a unit false']);
  });

  it('a unit inside a unit is part of it, and returns once the writes so far are durable', async () => {
    const store = open();
    const before = { ...store.commit.stats };
    const seen: number[] = [];
    await inWriteUnit(store, async () => {
      await store.messages.insert(message('outer'));
      await inWriteUnit(store, async () => {
        await store.messages.insert(message('inner'));
        seen.push(store.commit.stats.syncs - before.syncs);
      });
      seen.push(store.commit.stats.syncs - before.syncs);
      await store.messages.insert(message('outer-2'));
    });
    // The inner unit's write joined the outer's batch (answered before any fsync); the inner unit
    // returned only once that batch was on disk; the outer's last write took one more.
    expect(seen).toEqual([0, 1]);
    expect(store.commit.stats.batches - before.batches).toBe(2);
    expect(store.commit.stats.syncs - before.syncs).toBe(2);
  });

  it('an event emitted in a unit reaches listeners once the unit is on disk, and never if it fails', async () => {
    const store = open();
    const { logger } = memoryLogger();
    const bus = new EventBus(logger);
    const heard: string[] = [];
    bus.on('store.state', (state) => {
      heard.push(`${state.detail}: fsyncs ${store.commit.stats.syncs - before}, in a unit ${store.units.current() !== undefined}`);
    });
    const before = store.commit.stats.syncs;
    await inWriteUnit(store, async () => {
      await store.messages.insert(message('m1'));
      bus.emit('store.state', { backend: 'file', ready: true, fallback: false, detail: 'after m1' });
      expect(heard).toEqual([]); // held: m1 is applied, not on disk
    });
    expect(heard).toEqual(['after m1: fsyncs 1, in a unit false']);
    const failed = inWriteUnit(store, async () => {
      await store.messages.insert(message('m2'));
      bus.emit('store.state', { backend: 'file', ready: true, fallback: false, detail: 'after m2' });
      store.commit.fail(new Error('EIO'));
    });
    await expect(failed).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual(['after m1: fsyncs 1, in a unit false']);
  });

  it('held events go out as soon as the writes before them are on disk (mid-unit too), and also when the unit throws after writing', async () => {
    const store = open();
    const bus = new EventBus(memoryLogger().logger);
    const heard: string[] = [];
    bus.on('store.state', (state) => {
      heard.push(state.detail ?? '');
    });
    const emit = (detail: string) => bus.emit('store.state', { backend: 'file', ready: true, fallback: false, detail });
    await inWriteUnit(store, async () => {
      await store.messages.insert(message('in'));
      emit('message in');
      await unitDurable(store); // before the reply is sent
      heard.push('reply sent');
      await store.messages.insert(message('out'));
      emit('message out');
    });
    expect(heard).toEqual(['message in', 'reply sent', 'message out']);
    const thrown = inWriteUnit(store, async () => {
      await store.messages.insert(message('kept'));
      emit('kept');
      throw new Error('a later step failed');
    });
    await expect(thrown).rejects.toThrow('a later step failed');
    expect(await store.messages.get('kept')).toMatchObject({ id: 'kept' });
    expect(heard.at(-1)).toBe('kept');
  });
});
