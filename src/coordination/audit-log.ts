import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import type { Clock } from '../core/clock.js';
import { isoNow } from '../core/clock.js';
import { ConflictError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { AuditEventRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';

/** What a caller says about an event; the log adds seq, time and the hash chain. */
export type AuditInput = Pick<AuditEventRecord, 'type' | 'actor' | 'branchId' | 'agentId' | 'approvalId' | 'data'>;

const GENESIS = '0'.repeat(64);

export function hashEvent(e: Omit<AuditEventRecord, 'id' | 'version' | 'hash'>): string {
  const { seq, at, type, actor, branchId, agentId, approvalId, data, prevHash } = e;
  return createHash('sha256').update(canonicalJson({ seq, at, type, actor, branchId, agentId, approvalId, data, prevHash })).digest('hex');
}

/**
 * Append-only, hash-chained audit log: each event stores the previous event's
 * hash, so editing or deleting any row breaks the chain from there on.
 * Appends are serialised in-process; a unique `seq` stops two replicas from
 * forking the chain (the loser retries on the new head).
 */
export class AuditLog {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: { store: Store; clock: Clock }) {}

  append(input: AuditInput): Promise<AuditEventRecord> {
    const next = this.tail.then(() => this.write(input));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async write(input: AuditInput): Promise<AuditEventRecord> {
    for (let attempt = 0; ; attempt++) {
      const head = (await this.deps.store.auditEvents.find({ orderBy: { field: 'seq', direction: 'desc' }, limit: 1 }))[0];
      const base = { seq: (head?.seq ?? 0) + 1, at: isoNow(this.deps.clock), ...input, prevHash: head?.hash ?? GENESIS };
      const event = { id: newId(this.deps.clock.now()), ...base, hash: hashEvent(base) };
      try {
        return await this.deps.store.auditEvents.insert(event);
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= 5) throw error;
      }
    }
  }

  /** Recomputes the chain; reports the first broken link. */
  async verify(): Promise<{ ok: true; events: number } | { ok: false; events: number; brokenAt: number; reason: string }> {
    let prevHash = GENESIS;
    let expectedSeq = 1;
    let count = 0;
    for (let offset = 0; ; offset += 1000) {
      const page = await this.deps.store.auditEvents.find({ orderBy: { field: 'seq' }, offset, limit: 1000 });
      for (const e of page) {
        count++;
        if (e.seq !== expectedSeq) return { ok: false, events: count, brokenAt: expectedSeq, reason: `event ${expectedSeq} is missing` };
        if (e.prevHash !== prevHash) return { ok: false, events: count, brokenAt: e.seq, reason: 'prevHash does not match the previous event' };
        if (hashEvent(e) !== e.hash) return { ok: false, events: count, brokenAt: e.seq, reason: 'content does not match its hash (edited)' };
        prevHash = e.hash;
        expectedSeq++;
      }
      if (page.length < 1000) return { ok: true, events: count };
    }
  }
}
