import { createHash } from 'node:crypto';
import { COLLECTION_KEYS, type Store } from '../../src/storage/store.js';
import type { AuditEventRecord } from '../../src/storage/records.js';

/** Changes that are the product working, not a request changing state: health history and probe bookkeeping. */
const VOLATILE_COLLECTIONS = new Set(['healthChecks', 'auditEvents']);
const VOLATILE_AGENT_FIELDS = ['status', 'statusSince', 'lastCheck', 'lastCheckAt', 'latencyMs', 'detail', 'version'];

/**
 * A hash of everything the store holds that a request could change, read from
 * every collection the Store declares (a collection added later is covered).
 * The audit log is compared separately: refusals are audited on purpose.
 */
export async function storeDigest(store: Store): Promise<string> {
  const hash = createHash('sha256');
  for (const key of COLLECTION_KEYS) {
    if (VOLATILE_COLLECTIONS.has(key)) continue;
    const docs = (await store[key].find({ orderBy: { field: 'id' } })) as unknown as Array<Record<string, unknown>>;
    for (const doc of docs) {
      const copy = { ...doc };
      if (key === 'agents') for (const f of VOLATILE_AGENT_FIELDS) delete copy[f];
      hash.update(`${key}:${JSON.stringify(copy)}\n`);
    }
  }
  return hash.digest('hex');
}

/** Audit events after `seq`: a refused request may add only refusals. */
export async function auditSince(store: Store, seq: number): Promise<AuditEventRecord[]> {
  return store.auditEvents.find({ where: { seq: { gt: seq } }, orderBy: { field: 'seq' } });
}

export async function auditHead(store: Store): Promise<number> {
  return (await store.auditEvents.find({ orderBy: { field: 'seq', direction: 'desc' }, limit: 1 }))[0]?.seq ?? 0;
}

/** Audit types a refused request may write. */
export const REFUSAL_AUDIT = /(refused|login-failed|\.denied)$/;

/** Waits until the store stops changing (work an accepted request or event started in the background). */
export async function settle(store: Store): Promise<void> {
  let last = await storeDigest(store);
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const now = await storeDigest(store);
    if (now === last) return;
    last = now;
  }
}
