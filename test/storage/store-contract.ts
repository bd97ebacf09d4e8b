import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ConflictError } from '../../src/core/errors.js';
import type { Store } from '../../src/storage/store.js';
import type { StoredDoc } from '../../src/storage/collection.js';
import type { AgentRecord, ApprovalRecord } from '../../src/storage/records.js';

function agent(id: string, extra: Partial<AgentRecord> = {}): Omit<AgentRecord, 'version'> {
  return { id, branchId: 'lisboa', kind: 'bot', channel: 'telegram', status: 'pending', dependsOn: [], registeredAt: '2026-01-01T00:00:00.000Z', source: 'config', ...extra };
}

/** A namespace's collections for the contract (as a channel declares its state). */
const SPECS = { blobs: { name: 'contract_blobs', indexes: [['owner', 'type']] }, keyed: { name: 'contract_keyed', unique: [['owner', 'type']] } };
interface BlobDoc extends StoredDoc {
  owner: string;
  type: string;
  value: string;
}

/** The behaviour every Store implementation must have; run once per backend. */
export function describeStoreContract(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('inserts with version 1 and reads back the same document', async () => {
      const doc = await store.agents.insert(agent('a1', { lastCheck: { at: '2026-01-01T00:00:01.000Z', ok: true, latencyMs: 12 } }));
      expect(doc.version).toBe(1);
      expect(await store.agents.get('a1')).toEqual(doc);
      expect(await store.agents.get('missing')).toBeNull();
    });

    it('refuses a duplicate id and a duplicate unique key with ConflictError', async () => {
      await store.agents.insert(agent('a1'));
      await expect(store.agents.insert(agent('a1'))).rejects.toBeInstanceOf(ConflictError);
      const approval = (id: string): Omit<ApprovalRecord, 'version'> => ({
        id, code: id.toUpperCase(), branchId: 'lisboa', requesterId: 'bot-1', actionType: 'refund', summary: 's', riskLevel: 'critical',
        status: 'pending', autonomy: 'supervised', deliveries: [], expiresAt: '2026-01-02T00:00:00.000Z', idempotencyKey: 'k-1',
        createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
      });
      await store.approvals.insert(approval('p1'));
      await expect(store.approvals.insert(approval('p2'))).rejects.toBeInstanceOf(ConflictError);
      // Documents without the key do not collide with each other.
      await store.approvals.insert({ ...approval('p3'), idempotencyKey: undefined });
      await store.approvals.insert({ ...approval('p4'), idempotencyKey: undefined });
      expect(await store.approvals.count()).toBe(3);
    });

    it('compare-and-set: update applies only while the expectation holds, exactly once under a race', async () => {
      await store.agents.insert(agent('a1', { status: 'pending' }));
      const results = await Promise.all(
        ['up', 'down', 'maintenance'].map((status) => store.agents.update('a1', { status: status as AgentRecord['status'] }, { status: 'pending' })),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      const stored = await store.agents.get('a1');
      expect(stored?.status).toBe(winners[0]?.status);
      expect(stored?.version).toBe(2);
      expect(await store.agents.update('missing', { status: 'up' })).toBeNull();
      expect(await store.agents.update('a1', { status: 'up' }, { version: 1 })).toBeNull();
    });

    it('update removes fields set to undefined', async () => {
      await store.agents.insert(agent('a1', { statusReason: 'x' }));
      const updated = await store.agents.update('a1', { statusReason: undefined });
      expect(updated && 'statusReason' in updated).toBe(false);
      expect((await store.agents.get('a1'))?.statusReason).toBeUndefined();
    });

    it('finds with equality, in, ne and ranges, ordered and paged', async () => {
      for (let i = 0; i < 10; i++) {
        await store.healthChecks.insert({ id: `h${i}`, agentId: i % 2 ? 'a' : 'b', at: `2026-01-01T00:00:0${i}.000Z`, ok: i % 3 !== 0, latencyMs: i });
      }
      const a = await store.healthChecks.find({ where: { agentId: 'a' }, orderBy: { field: 'at', direction: 'desc' } });
      expect(a.map((c) => c.id)).toEqual(['h9', 'h7', 'h5', 'h3', 'h1']);
      expect(await store.healthChecks.count({ ok: false })).toBe(4);
      expect((await store.healthChecks.find({ where: { ok: true, agentId: 'b' } })).map((c) => c.id)).toEqual(['h2', 'h4', 'h8']);
      const range = await store.healthChecks.find({ where: { at: { gte: '2026-01-01T00:00:03.000Z', lt: '2026-01-01T00:00:06.000Z' } }, orderBy: { field: 'at' } });
      expect(range.map((c) => c.id)).toEqual(['h3', 'h4', 'h5']);
      expect((await store.healthChecks.find({ where: { latencyMs: { in: [1, 2, 42] } } })).map((c) => c.id)).toEqual(['h1', 'h2']);
      expect(await store.healthChecks.count({ agentId: { ne: 'a' } })).toBe(5);
      const page = await store.healthChecks.find({ orderBy: { field: 'at' }, offset: 2, limit: 3 });
      expect(page.map((c) => c.id)).toEqual(['h2', 'h3', 'h4']);
      expect((await store.healthChecks.findOne({ agentId: 'a' }))?.id).toBe('h1');
      expect(await store.healthChecks.deleteWhere({ at: { lt: '2026-01-01T00:00:05.000Z' } })).toBe(5);
      expect(await store.healthChecks.count()).toBe(5);
    });

    it('put creates then replaces, bumping the version', async () => {
      const first = await store.settings.put({ id: 'config.overrides', value: { logLevel: 'debug' }, updatedAt: 't1' });
      expect(first.version).toBe(1);
      const second = await store.settings.put({ id: 'config.overrides', value: {}, updatedAt: 't2' });
      expect(second.version).toBe(2);
      expect(await store.settings.get('config.overrides')).toEqual(second);
    });

    it('putIfNewer is idempotent and never goes back in version', async () => {
      const doc = { ...agent('a1'), version: 3 } as AgentRecord;
      expect(await store.agents.putIfNewer(doc)).toBe(true);
      expect(await store.agents.putIfNewer(doc)).toBe(false);
      expect(await store.agents.putIfNewer({ ...doc, version: 2, status: 'down' })).toBe(false);
      expect((await store.agents.get('a1'))?.status).toBe('pending');
      expect(await store.agents.putIfNewer({ ...doc, version: 4, status: 'up' })).toBe(true);
      expect((await store.agents.get('a1'))?.status).toBe('up');
    });

    it('deletes', async () => {
      await store.agents.insert(agent('a1'));
      expect(await store.agents.delete('a1')).toBe(true);
      expect(await store.agents.delete('a1')).toBe(false);
      expect(await store.agents.get('a1')).toBeNull();
    });

    it('keeps binary state as text byte-for-byte (in a namespace, as a channel keeps its session)', async () => {
      const auth = store.namespace('contract', SPECS).collection<BlobDoc>('blobs');
      const value = JSON.stringify({ type: 'Buffer', data: Buffer.from([0, 1, 2, 250, 255]).toString('base64') });
      await auth.put({ id: 'wa1:creds:', owner: 'wa1', type: 'creds', value });
      expect((await auth.get('wa1:creds:'))?.value).toBe(value);
      expect(await auth.count({ owner: 'wa1', type: 'creds' })).toBe(1);
    });

    it('namespaces: declared collections only, the same object each time, compare-and-set and unique keys as on its own', async () => {
      const ns = store.namespace('contract', SPECS);
      const blobs = ns.collection<BlobDoc>('blobs');
      expect(store.namespace('contract', SPECS).collection('blobs')).toBe(blobs);
      expect(() => ns.collection('other')).toThrow("namespace 'contract' has no collection 'other' (declared: blobs, keyed)");
      const doc = await blobs.insert({ id: 'b1', owner: 'o', type: 't', value: 'v1' });
      expect(await blobs.update('b1', { value: 'v2' }, { version: doc.version + 1 })).toBeNull();
      expect(await blobs.update('b1', { value: 'v2' }, { version: doc.version })).toMatchObject({ value: 'v2', version: doc.version + 1 });
      const keyed = ns.collection<BlobDoc>('keyed');
      await keyed.insert({ id: 'k1', owner: 'o', type: 'same', value: '' });
      await expect(keyed.insert({ id: 'k2', owner: 'o', type: 'same', value: '' })).rejects.toThrow();
    });

    it('namespaces: refuses a core collection name, a name another namespace holds, and a bad name', () => {
      expect(() => store.namespace('evil', { a: { name: 'approvals' } })).toThrow("'approvals' is one of the store's own collections");
      store.namespace('contract', SPECS);
      expect(() => store.namespace('other', { a: { name: 'contract_blobs' } })).toThrow("collection 'contract_blobs' already belongs to namespace 'contract'");
      expect(() => store.namespace('evil', { a: { name: 'x"; DROP TABLE agents; --' } })).toThrow(/must be 1-63 lowercase/);
    });

    it('reports itself ready', () => {
      expect(store.state().ready).toBe(true);
    });
  });
}
