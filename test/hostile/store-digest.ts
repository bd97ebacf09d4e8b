import { createHash } from 'node:crypto';
import { COLLECTION_KEYS, type Store } from '../../src/storage/store.js';
import type { AuditEventRecord } from '../../src/storage/records.js';

/** Changes that are the product working, not a request changing state: health history and probe bookkeeping. */
const VOLATILE_COLLECTIONS = new Set(['healthChecks', 'auditEvents']);
const VOLATILE_AGENT_FIELDS = ['status', 'statusSince', 'statusReason', 'lastCheck', 'lastCheckAt', 'latencyMs', 'detail', 'version'];

/**
 * A hash of everything the store holds that a request could change, read from
 * every collection the Store declares (a collection added later is covered).
 * The audit log is compared separately: refusals are audited on purpose.
 */
export async function storeDigest(store: Store): Promise<string> {
  const parts = await collectionDigests(store);
  return Object.entries(parts)
    .map(([k, v]) => `${k}:${v}`)
    .join(',');
}

/** The digest per collection, so a failure can name what changed (`changedCollections`). */
export async function collectionDigests(store: Store): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of COLLECTION_KEYS) {
    if (VOLATILE_COLLECTIONS.has(key)) continue;
    const hash = createHash('sha256');
    const docs = (await store[key].find({ orderBy: { field: 'id' } })) as unknown as Array<Record<string, unknown>>;
    for (const doc of docs) {
      const copy = { ...doc };
      if (key === 'agents') for (const f of VOLATILE_AGENT_FIELDS) delete copy[f];
      hash.update(`${JSON.stringify(copy)}\n`);
    }
    out[key] = hash.digest('hex').slice(0, 16);
  }
  return out;
}

/** Which collections differ between two `storeDigest` values ([] when none). */
export function changedCollections(before: string, after: string): string[] {
  const parse = (d: string) => Object.fromEntries(d.split(',').map((p) => p.split(':')));
  const a = parse(before);
  const b = parse(after);
  return Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]);
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

/** Waits until the store stops changing (work an accepted request or event started in the background): unchanged for 200 ms, or 3 s. */
export async function settle(store: Store): Promise<void> {
  let last = await storeDigest(store);
  let quiet = 0;
  for (let i = 0; i < 75 && quiet < 5; i++) {
    await new Promise((r) => setTimeout(r, 40));
    const now = await storeDigest(store);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}
