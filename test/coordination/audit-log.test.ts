import { afterEach, describe, expect, it } from '@jest/globals';
import { AuditLog } from '../../src/coordination/audit-log.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('audit log', () => {
  it('chains events by hash, keeps order under concurrent appends, and finds an edited or missing row', async () => {
    const dir = tempDir();
    const store = SqliteStore.open({ dataDir: dir.path });
    cleanups.push(dir.cleanup, () => store.close());
    const audit = new AuditLog({ store, clock: new ManualClock() });
    await Promise.all(Array.from({ length: 20 }, (_, i) => audit.append({ type: 'test', actor: 'tester', data: { i } })));
    const events = await store.auditEvents.find({ orderBy: { field: 'seq' } });
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(events[1].prevHash).toBe(events[0].hash);
    expect(await audit.verify()).toEqual({ ok: true, events: 20 });

    // Someone edits event 7 in the database.
    await store.auditEvents.update(events[6].id, { data: { i: 999 } });
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 7, reason: expect.stringMatching(/edited/) });
    await store.auditEvents.update(events[6].id, { data: events[6].data });
    expect((await audit.verify()).ok).toBe(true);

    // Someone deletes event 12.
    await store.auditEvents.delete(events[11].id);
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 12, reason: 'event 12 is missing' });
  });
});
