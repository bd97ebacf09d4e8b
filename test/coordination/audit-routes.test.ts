import { afterEach, describe, expect, it } from '@jest/globals';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

const open: TestCoordinator[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

describe('GET /api/audit/verify', () => {
  it('returns the head to keep, checks a head given back, and reports a tail cut by 12 events — after a restart too', async () => {
    const t = await startTestCoordinator();
    open.push(t);
    for (let i = 0; i < 20; i++) await t.running.coordinator.audit.append({ type: 'test', actor: 'tester', data: { i } });

    const ok = await t.call('/api/audit/verify');
    expect(ok.status).toBe(200);
    const head = ok.body.head as { seq: number; hash: string; ref: string };
    expect(ok.body).toMatchObject({ ok: true, events: head.seq, sha256Only: 0, hmac: { keyId: expect.stringMatching(/^[0-9a-f]{16}$/), from: 1 } });
    expect(head.ref).toBe(`${head.seq}:${head.hash}`);
    expect((await t.call('/api/audit?limit=1')).body.head).toEqual(head);
    const withHead = await t.call(`/api/audit/verify?head=${head.ref}`);
    expect(withHead.body).toMatchObject({ ok: true, checked: [{ source: 'caller', seq: head.seq }, { source: 'coordinator', seq: head.seq }] });
    expect((await t.call(`/api/audit/verify?seq=${head.seq}&hash=${head.hash}`)).status).toBe(200);

    // Someone with the database deletes the last 12 events.
    const events = await t.running.store.auditEvents.find({ orderBy: { field: 'seq', direction: 'desc' }, limit: 12 });
    for (const e of events) await t.running.store.auditEvents.delete(e.id);
    const expected = { ok: false, brokenAt: head.seq - 11, reason: `the log ends at event ${head.seq - 12} but the head this coordinator last wrote is event ${head.seq}: 12 event(s) were cut from the end` };
    const cut = await t.call('/api/audit/verify');
    expect(cut.status).toBe(409);
    expect(cut.body).toMatchObject(expected);
    await t.restart();
    expect((await t.call('/api/audit/verify')).body).toMatchObject(expected);
    expect((await t.call(`/api/audit/verify?head=${head.ref}`)).body).toMatchObject({ ok: false, reason: expect.stringMatching(/the head you gave is event/) });
  });

  it('answers 400 naming the parameter for a malformed head', async () => {
    const t = await startTestCoordinator();
    open.push(t);
    for (const q of ['head=12', 'head=x:y', `head=0:${'a'.repeat(64)}`, 'seq=3&hash=zz', 'seq=3']) {
      const res = await t.call(`/api/audit/verify?${q}`);
      expect({ q, status: res.status, code: res.body.error?.code }).toEqual({ q, status: 400, code: 'validation_failed' });
      expect(res.body.error.details.issues[0]).toMatchObject({ path: q.startsWith('head') ? 'head' : 'seq/hash', message: expect.stringMatching(/<seq>:<64 hex/) });
    }
  });
});
