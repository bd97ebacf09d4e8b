import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sha256 } from '../../src/core/ids.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const YAML = `
business: { name: Cache Test }
branches:
  - id: lisboa
    name: Lisboa
    managers: [{ id: ana, name: Ana, role: owner, telegram: 1001 }]
    agents:
      - { id: lis-wa, channel: whatsapp, waWebSocketUrl: "ws://127.0.0.1:9" }
  - id: porto
    name: Porto
    managers: [{ id: rui, name: Rui, role: owner, telegram: 1002 }]
    agents:
      - { id: por-wa, channel: whatsapp, waWebSocketUrl: "ws://127.0.0.1:9" }
`;

interface Status {
  branches: Array<{ id: string; agents: Array<{ id: string; status: string; reason?: string }> }>;
}
const ids = (body: unknown) => (body as Status).branches.flatMap((b) => b.agents.map((a) => a.id)).sort();

/** The overview is served from memory: these are the ways it could go stale or leak, each checked on the next answer. */
describe('GET /coordination/status from its cache', () => {
  let t: TestCoordinator;
  const ana = 'manager-token-ana-0123456789';
  const rui = 'manager-token-rui-0123456789';
  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML });
    for (const [token, subject] of [[ana, 'ana'], [rui, 'rui']]) {
      await t.running.store.apiTokens.insert({ id: sha256(token!), role: 'manager', subject: subject!, createdAt: new Date().toISOString() });
    }
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 304 to its own ETag, and a write to the agents (by any path) shows in the very next answer', async () => {
    // The first checks (startup) change lastCheck: wait until two answers in a row are the same.
    let etag = '';
    await until('two answers in a row with the same ETag', async () => {
      const previous = etag;
      etag = (await t.call('/coordination/status')).headers.get('etag')!;
      return etag === previous;
    });
    expect(etag).toMatch(/^"/);
    // As fetch sends it: with `Cache-Control: no-cache` added, which asks for validation at the origin (a 304 is that).
    const revalidate = (tag: string) => ({ 'if-none-match': `"other", W/${tag}`, 'cache-control': 'no-cache' });
    const again = await t.call('/coordination/status', { headers: revalidate(etag) });
    expect(again.status).toBe(304);

    // Written straight into the store, as a module or replay would: no event, no route.
    const now = new Date().toISOString();
    await t.running.store.agents.insert({ id: 'lis-new', branchId: 'lisboa', kind: 'action', status: 'up', dependsOn: [], registeredAt: now, source: 'api' });
    const after = await t.call('/coordination/status', { headers: revalidate(etag) });
    expect(after.status).toBe(200);
    expect(ids(after.body)).toContain('lis-new');
    expect(after.headers.get('etag')).not.toBe(etag);

    await t.running.store.agents.update('lis-new', { status: 'maintenance', statusReason: 'maintenance by test' });
    const lisboa = (body: unknown) => (body as Status).branches.find((b) => b.id === 'lisboa')!;
    expect(lisboa((await t.call('/coordination/status')).body).agents.find((a) => a.id === 'lis-new')).toMatchObject({ status: 'maintenance', reason: 'maintenance by test' });

    await t.running.store.agents.delete('lis-new');
    expect(ids((await t.call('/coordination/status')).body)).not.toContain('lis-new');
  });

  it("one token's cached answer is never served to another's scope", async () => {
    // Warm the cache with the admin's whole view, then each manager's.
    expect(ids((await t.call('/coordination/status')).body)).toEqual(['lis-wa', 'por-wa']);
    for (let round = 0; round < 2; round++) {
      const a = await t.call('/coordination/status', { token: ana });
      const r = await t.call('/coordination/status', { token: rui });
      expect((a.body as Status).branches.map((b) => b.id)).toEqual(['lisboa']);
      expect((r.body as Status).branches.map((b) => b.id)).toEqual(['porto']);
      expect(a.headers.get('etag')).not.toBe(r.headers.get('etag'));
    }
    // Another scope's ETag does not get a 304.
    const adminTag = (await t.call('/coordination/status')).headers.get('etag')!;
    expect((await t.call('/coordination/status', { token: ana, headers: { 'if-none-match': adminTag, 'cache-control': 'max-age=0' } })).status).toBe(200);
  });

  it('a config change (PATCH /config) shows in the next answer', async () => {
    const before = await t.call('/coordination/status');
    const res = await t.call('/config', { method: 'PATCH', json: { branches: { lisboa: { autonomy: 'autonomous' } } } });
    expect(res.status).toBe(200);
    const after = await t.call('/coordination/status');
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
    expect((after.body as { branches: Array<{ id: string; autonomy: string }> }).branches.find((b) => b.id === 'lisboa')!.autonomy).toBe('autonomous');
  });
});
