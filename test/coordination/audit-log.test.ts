import { afterEach, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileAuditAnchor, AUDIT_HEAD_FILE } from '../../src/coordination/audit-anchor.js';
import { loadAuditKey } from '../../src/coordination/audit-key.js';
import { AuditLog, hashEvent, macEvent } from '../../src/coordination/audit-log.js';
import type { AuditEventRecord } from '../../src/storage/records.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { inWriteUnit, unitDurable } from '../../src/storage/write-unit.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A store in a temp data dir, and an audit log over it as the coordinator builds one (key and anchor in the data dir). */
function setup() {
  const dir = tempDir();
  const store = SqliteStore.open({ dataDir: dir.path });
  cleanups.push(dir.cleanup, () => store.close());
  const clock = new ManualClock();
  const { logger, entries } = memoryLogger();
  const open = (parts: { key?: boolean; anchor?: boolean } = {}) =>
    new AuditLog({
      store,
      clock,
      logger,
      key: parts.key === false ? undefined : loadAuditKey({ dataDir: dir.path }),
      anchor: parts.anchor === false ? undefined : new FileAuditAnchor(dir.path),
    });
  const appendMany = async (audit: AuditLog, n: number) => {
    for (let i = 0; i < n; i++) await audit.append({ type: 'test', actor: 'tester', data: { i } });
  };
  const all = () => store.auditEvents.find({ orderBy: { field: 'seq' } });
  return { dir, store, clock, logger, entries, open, appendMany, all };
}

/**
 * What someone with write access to the database (not to the data dir) does:
 * edit event `from`, then recompute the SHA-256 chain of every later event so
 * each `prevHash` and `hash` is consistent again. `mac` is kept or dropped.
 */
async function rehashFrom(store: SqliteStore, from: number, edit: (e: Omit<AuditEventRecord, 'version'>) => void, dropMac: boolean, key?: ReturnType<typeof loadAuditKey>) {
  const events = await store.auditEvents.find({ orderBy: { field: 'seq' } });
  let prevHash = events.find((e) => e.seq === from - 1)?.hash ?? '0'.repeat(64);
  for (const e of events.filter((x) => x.seq >= from)) {
    const { version: _v, mac: _m, keyId: _k, ...rest } = e;
    if (e.seq === from) edit(rest);
    rest.prevHash = prevHash;
    rest.hash = hashEvent(rest);
    const mac = key ? { keyId: key.id, mac: macEvent(key, rest.hash) } : dropMac ? {} : { keyId: e.keyId, mac: e.mac };
    await store.auditEvents.put({ ...rest, ...mac });
    prevHash = rest.hash;
  }
}

describe('audit log', () => {
  it('chains events by hash and HMAC, keeps order under concurrent appends, and finds an edited or missing row', async () => {
    const { store, open, all } = setup();
    const audit = open();
    await Promise.all(Array.from({ length: 20 }, (_, i) => audit.append({ type: 'test', actor: 'tester', data: { i } })));
    const events = await all();
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(events[1].prevHash).toBe(events[0].hash);
    expect(events.every((e) => typeof e.mac === 'string' && e.keyId)).toBe(true);
    expect(await audit.verify()).toMatchObject({ ok: true, events: 20, sha256Only: 0, hmac: { from: 1, events: 20 }, head: { seq: 20, hash: events[19].hash } });

    // Someone edits event 7 in the database.
    await store.auditEvents.update(events[6].id, { data: { i: 999 } });
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 7, reason: expect.stringMatching(/edited/) });
    await store.auditEvents.update(events[6].id, { data: events[6].data });
    expect((await audit.verify()).ok).toBe(true);

    // Someone deletes event 12.
    await store.auditEvents.delete(events[11].id);
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 12, reason: 'event 12 is missing' });
  });

  it('reports a tail cut by 12 events, from the head it wrote — also after a restart, and when asked to append', async () => {
    const { store, open, appendMany, all, entries } = setup();
    const audit = open();
    await appendMany(audit, 20);
    const events = await all();
    expect(await audit.verify()).toMatchObject({ ok: true, checked: [{ source: 'coordinator', seq: 20, hash: events[19].hash }] });

    for (const e of events.slice(8)) await store.auditEvents.delete(e.id);
    const cut = { ok: false, events: 8, brokenAt: 9, reason: 'the log ends at event 8 but the head this coordinator last wrote is event 20: 12 event(s) were cut from the end' };
    expect(await audit.verify()).toMatchObject(cut);
    // A new process on the same data dir (this one stopped) reads the head from DATA_DIR/audit-head.
    audit.stop();
    expect(await open().verify()).toMatchObject(cut);

    // Appending goes on (the log is evidence too) but the anchor stays on the head it wrote, and the finding is logged.
    await audit.append({ type: 'after-cut', actor: 'tester' });
    expect(entries).toContainEqual(expect.objectContaining({ level: 'error', message: expect.stringMatching(/^audit log tampered: the log ends at event 8 but this coordinator wrote event 20/) }));
    expect(audit.lastWritten()).toEqual({ seq: 20, hash: events[19].hash });
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 10 });
  });

  it('finds an event edited and the following SHA-256 hashes recomputed, whether its HMACs are kept or stripped', async () => {
    const { store, open, appendMany, dir } = setup();
    await appendMany(open(), 20);
    const edit = (e: Omit<AuditEventRecord, 'version'>) => void (e.data = { i: 'forged' });

    await rehashFrom(store, 7, edit, false);
    // Even without the coordinator's own head (another replica, a lost anchor), the HMAC gives it away.
    expect(await open({ anchor: false }).verify()).toMatchObject({ ok: false, brokenAt: 7, reason: expect.stringMatching(/HMAC does not match/) });

    await rehashFrom(store, 7, edit, true);
    expect(await open({ anchor: false }).verify()).toMatchObject({ ok: false, brokenAt: 7, reason: 'the event carries no HMAC although the events from 1 do (HMAC removed)' });

    // Strip every HMAC and rehash from event 1: the anchor remembers that this coordinator signed from event 1.
    await rehashFrom(store, 1, edit, true);
    expect(await open().verify()).toMatchObject({ ok: false, brokenAt: 1, reason: 'the event carries no HMAC although this coordinator signed every event from 1' });
    expect(existsSync(join(dir.path, AUDIT_HEAD_FILE))).toBe(true);
  });

  it('keeps the anchor file at most a moment behind the head while events keep coming, never ahead, and exact after stop', async () => {
    const { dir, open, appendMany } = setup();
    const audit = open();
    const anchored = () => new FileAuditAnchor(dir.path).read()?.head.seq;
    await appendMany(audit, 1);
    // The first event (where the HMAC chain starts) is written at once.
    expect(anchored()).toBe(1);
    await appendMany(audit, 30);
    expect(anchored()).toBeLessThanOrEqual(31);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(anchored()).toBe(31);
    await appendMany(audit, 2);
    audit.stop();
    expect(anchored()).toBe(33);
  });

  it('in a write unit the append answers once applied, and the head it keeps moves only once the unit is on disk', async () => {
    const { store, open } = setup();
    const audit = open();
    await audit.append({ type: 'test', actor: 'tester', data: { i: 0 } });
    const syncsBefore = store.commit.stats.syncs;
    const seen: Array<number | undefined> = [];
    await inWriteUnit(store, async () => {
      const event = await audit.append({ type: 'test', actor: 'tester', data: { i: 1 } });
      expect(event.seq).toBe(2);
      expect(store.commit.stats.syncs).toBe(syncsBefore); // answered before any fsync
      seen.push(audit.lastWritten()?.seq); // not yet on disk: the head stays where it was
      await unitDurable(store);
      await new Promise((r) => setImmediate(r));
      seen.push(audit.lastWritten()?.seq);
    });
    expect(seen).toEqual([1, 2]);
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

  it('checks a head the caller kept: catches a cut tail and a rewrite even by someone holding the audit key', async () => {
    const { store, dir, open, appendMany, all } = setup();
    const writer = open();
    await appendMany(writer, 20);
    writer.stop();
    const kept = { seq: 20, hash: (await all())[19].hash };
    // With the key, every HMAC can be recomputed: only an outside head tells.
    await rehashFrom(store, 7, (e) => void (e.data = { i: 'forged' }), false, loadAuditKey({ dataDir: dir.path }));
    const noAnchor = open({ anchor: false });
    expect((await noAnchor.verify()).ok).toBe(true);
    expect(await noAnchor.verify({ head: kept })).toMatchObject({ ok: false, brokenAt: 20, reason: expect.stringMatching(/^event 20 does not match the head you gave .*: the log was rewritten at or before it$/) });
    expect(await open().verify()).toMatchObject({ ok: false, brokenAt: 20, reason: expect.stringMatching(/does not match the head this coordinator last wrote/) });

    for (const e of (await all()).slice(8)) await store.auditEvents.delete(e.id);
    expect(await noAnchor.verify({ head: kept })).toMatchObject({ ok: false, brokenAt: 9, reason: expect.stringMatching(/the head you gave is event 20: 12 event\(s\) were cut from the end/) });
  });

  it('verifies a log written before the HMAC chain (SHA-256 links only, and says so) and signs what follows', async () => {
    const { store, open, appendMany } = setup();
    await appendMany(open({ key: false, anchor: false }), 5);
    const audit = open();
    await appendMany(audit, 3);
    expect(await audit.verify()).toMatchObject({ ok: true, events: 8, sha256Only: 5, hmac: { from: 6, events: 3 } });
    // The signed events vouch for the old ones: rewriting event 2 breaks the chain at event 6's HMAC.
    await rehashFrom(store, 2, (e) => void (e.actor = 'someone-else'), false);
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 6, reason: expect.stringMatching(/HMAC does not match/) });
  });

  it('names an event signed with another key instead of calling it edited', async () => {
    const { store, clock, open, appendMany } = setup();
    await appendMany(open(), 3);
    const other = new AuditLog({ store, clock, key: loadAuditKey({ envKey: 'x'.repeat(40), dataDir: '/nonexistent' }) });
    expect(await other.verify()).toMatchObject({ ok: false, brokenAt: 1, reason: expect.stringMatching(/^signed with another audit key .*AUDIT_KEY/) });
  });

  it('logs the head once a minute while it changes, and at stop', async () => {
    const { clock, open, appendMany, entries } = setup();
    const audit = open();
    await appendMany(audit, 3);
    const heads = () => entries.filter((e) => String(e.message).startsWith('audit head:'));
    expect(heads()).toHaveLength(0);
    await clock.advance(60_000);
    expect(heads()).toEqual([expect.objectContaining({ level: 'info', auditHead: { seq: 3, hash: expect.stringMatching(/^[0-9a-f]{64}$/) } })]);
    await appendMany(audit, 1);
    audit.stop();
    expect(heads().map((e) => (e.auditHead as { seq: number }).seq)).toEqual([3, 4]);
  });
});
