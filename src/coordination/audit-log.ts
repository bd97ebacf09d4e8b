import { createHash, createHmac } from 'node:crypto';
import type { Logger } from '../config/logger.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { isoNow } from '../core/clock.js';
import { ConflictError } from '../core/errors.js';
import { newId, sameDigest } from '../core/ids.js';
import { Semaphore } from '../core/semaphore.js';
import type { AuditEventRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import { unitDurable } from '../storage/write-unit.js';
import { formatAuditHead, type AnchorState, type AuditAnchor, type AuditHead } from './audit-anchor.js';
import type { AuditKey } from './audit-key.js';

/** What a caller says about an event; the log adds seq, time and the hash chain. */
export type AuditInput = Pick<AuditEventRecord, 'type' | 'actor' | 'branchId' | 'agentId' | 'approvalId' | 'data'>;

const GENESIS = '0'.repeat(64);

/** The public SHA-256 link of an event (its content and the previous event's hash); `mac` and `keyId` are not part of it. */
export function hashEvent(e: Omit<AuditEventRecord, 'id' | 'version' | 'hash' | 'mac' | 'keyId'>): string {
  const { seq, at, type, actor, branchId, agentId, approvalId, data, prevHash } = e;
  return createHash('sha256').update(canonicalJson({ seq, at, type, actor, branchId, agentId, approvalId, data, prevHash })).digest('hex');
}

/** HMAC-SHA256 of an event's hash with the audit key: since the hash covers `prevHash`, it vouches for everything up to the event. */
export function macEvent(key: AuditKey, hash: string): string {
  return createHmac('sha256', key.secret).update(hash).digest('hex');
}

/** A known head the chain was checked against, and who knew it. */
export interface CheckedHead extends AuditHead {
  source: 'caller' | 'coordinator';
}

interface VerifyCounts {
  /** Events in the log. */
  events: number;
  /** The last event (`?head=<seq>:<hash>` takes it back later). */
  head: (AuditHead & { ref: string }) | null;
  /** Events whose HMAC was checked with the audit key (`from`: the first of them). */
  hmac: { keyId: string | null; from: number | null; events: number };
  /** Events written before the HMAC chain existed: SHA-256 links only, so anyone with the database could recompute them. */
  sha256Only: number;
  /** Known heads compared with the log. */
  checked: CheckedHead[];
}

export type AuditVerification = ({ ok: true } & VerifyCounts) | ({ ok: false; brokenAt: number; reason: string } & VerifyCounts);

/** The anchor file is rewritten at most this often while events keep coming (and at stop). */
const ANCHOR_WRITE_MS = 200;

export interface AuditLogDeps {
  store: Store;
  clock: Clock;
  logger?: Logger;
  /** Key of the HMAC chain (see `loadAuditKey`); without one events get SHA-256 links only. */
  key?: AuditKey;
  /** Where the head is kept outside the database (see `FileAuditAnchor`). */
  anchor?: AuditAnchor;
  /** A changed head is logged at most this often (default 60 s), and at `stop()`. */
  headLogMs?: number;
}

/**
 * Append-only audit log with three guards:
 * - a SHA-256 chain (each event stores the previous event's hash), so editing or
 *   deleting a row breaks the chain from there on;
 * - an HMAC of each hash with a key kept outside the database, so a rewritten
 *   suffix (edited, then hashes recomputed) no longer verifies;
 * - the head (seq + hash) kept outside the database (the anchor file and a log
 *   line) and returned to callers, so a cut tail is found: `verify({head})`
 *   checks a head the caller kept, and the coordinator checks the one it wrote.
 * Appends are serialised in-process; a unique `seq` stops two replicas from
 * forking the chain (the loser retries on the new head).
 */
export class AuditLog {
  private readonly serial = new Semaphore(1);
  private readonly log: Logger | undefined;
  private anchorState: AnchorState | undefined;
  /** Why the anchor could not be read: every verify fails with it until the file is fixed or removed. */
  private anchorError: string | undefined;
  /** Why the last append found the log disagreeing with the anchor (logged once per reason). */
  private tampered: string | undefined;
  private headTimer: TimerHandle | undefined;
  private loggedHead: string | undefined;
  /** The anchor file's pending write, and the head it holds (real time: it is I/O pacing, not domain time). */
  private anchorTimer: NodeJS.Timeout | undefined;
  private anchorWrittenSeq: number | undefined;

  constructor(private readonly deps: AuditLogDeps) {
    this.log = deps.logger?.child({ module: 'audit' });
    try {
      this.anchorState = deps.anchor?.read();
    } catch (error) {
      this.anchorError = `the audit head anchor ${deps.anchor?.where} cannot be read (${error instanceof Error ? error.message : String(error)}); fix or remove it`;
      this.log?.error(this.anchorError);
    }
  }

  /**
   * Appends one event (one at a time, in call order); a failure reaches this
   * caller and does not block the next append. On a store that applies writes
   * when called (the file store's group commit) the next append chains on this
   * one as soon as it is applied, and both wait for the disk together.
   */
  async append(input: AuditInput): Promise<AuditEventRecord> {
    const staged = await this.serial.run(() => this.write(input));
    return staged.durable;
  }

  /** The head this coordinator last wrote, if it keeps an anchor. */
  lastWritten(): AuditHead | undefined {
    return this.anchorState?.head;
  }

  /** The newest event in the store, as callers keep it. */
  async head(): Promise<(AuditHead & { ref: string }) | null> {
    const e = (await this.deps.store.auditEvents.find({ orderBy: { field: 'seq', direction: 'desc' }, limit: 1 }))[0];
    return e ? { seq: e.seq, hash: e.hash, ref: formatAuditHead(e) } : null;
  }

  /** Logs the head now if it changed since the last line, writes the anchor if it is behind, and stops both timers. */
  stop(): void {
    if (this.headTimer) this.deps.clock.clearTimeout(this.headTimer);
    this.headTimer = undefined;
    this.writeAnchor();
    this.logHead();
  }

  /** Writes the head to the anchor file, if it moved since the last write. */
  private writeAnchor(): void {
    if (this.anchorTimer) clearTimeout(this.anchorTimer);
    this.anchorTimer = undefined;
    const anchor = this.deps.anchor;
    const state = this.anchorState;
    if (!anchor || !state || state.head.seq === this.anchorWrittenSeq) return;
    try {
      anchor.write(state);
      this.anchorWrittenSeq = state.head.seq;
    } catch (error) {
      // The event is stored; only its outside witness is missing. Say so, loudly, and keep going.
      this.log?.error(`could not write the audit head to ${anchor.where}; a cut tail after event ${state.head.seq} may go unnoticed`, { error });
    }
  }

  /**
   * Writes one event on the head it reads; `durable` settles once it is stored.
   * The head read sees events applied and not yet durable (same connection):
   * a batch that fails to commit takes them all back, and the next append reads
   * the head that is really there.
   */
  private async write(input: AuditInput): Promise<{ durable: Promise<AuditEventRecord> }> {
    for (let attempt = 0; ; attempt++) {
      const head = (await this.deps.store.auditEvents.find({ orderBy: { field: 'seq', direction: 'desc' }, limit: 1 }))[0];
      const base = { seq: (head?.seq ?? 0) + 1, at: isoNow(this.deps.clock), ...input, prevHash: head?.hash ?? GENESIS };
      const hash = hashEvent(base);
      const key = this.deps.key;
      const event = { id: newId(this.deps.clock.now()), ...base, hash, ...(key ? { keyId: key.id, mac: macEvent(key, hash) } : {}) };
      const agrees = await this.agreesWithAnchor(head);
      const inserted = this.deps.store.auditEvents.insert(event);
      const anchored = (stored: AuditEventRecord) => {
        if (agrees) this.advance(stored);
        return stored;
      };
      // Durable writes settle in the order they were applied: the anchor advances in seq order. In a
      // write unit the insert answers once applied and the unit waits for the disk; the anchor follows
      // only what is on disk (a crash must never leave it ahead of the log).
      const inUnit = this.deps.store.units?.current() !== undefined;
      const durable = inUnit ? inserted : inserted.then(anchored);
      // (A failed write reaches the caller through `durable`; the anchor just stays where it was.)
      if (inUnit) Promise.all([inserted, unitDurable(this.deps.store)]).then(([stored]) => anchored(stored), () => undefined);
      // Only one process writes a file store (it holds the lock), so no other replica can take this seq meanwhile.
      if (this.deps.store.appliesWritesAtCall) return { durable };
      try {
        await durable;
        return { durable };
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= 5) throw error;
      }
    }
  }

  /**
   * Before appending: does the log still hold the head this coordinator wrote?
   * If not (a cut tail, a rewrite) the anchor is left where it was, so it keeps
   * pointing at the evidence, and the first sighting of each reason is logged.
   */
  private async agreesWithAnchor(head: AuditEventRecord | undefined): Promise<boolean> {
    const anchored = this.anchorState?.head;
    if (this.anchorError) return false;
    if (!anchored) return true;
    let reason: string | undefined;
    if (!head || head.seq < anchored.seq) {
      reason = `the log ends at event ${head?.seq ?? 0} but this coordinator wrote event ${anchored.seq}: events were cut from the end`;
    } else {
      const at = head.seq === anchored.seq ? head : (await this.deps.store.auditEvents.find({ where: { seq: anchored.seq }, limit: 1 }))[0];
      if (at?.hash !== anchored.hash) reason = `event ${anchored.seq} is not the one this coordinator wrote: the log was rewritten`;
    }
    if (reason && reason !== this.tampered) {
      this.log?.error(
        `audit log tampered: ${reason}. New events are still appended and GET /api/audit/verify reports it. If a backup was restored or the database replaced on purpose, remove ${this.deps.anchor?.where} and restart.`,
        { anchoredHead: { seq: anchored.seq, hash: anchored.hash } },
      );
    }
    this.tampered = reason;
    return reason === undefined;
  }

  private advance(event: AuditEventRecord): void {
    // Never back: events become durable in seq order, but a unit's settles when the whole unit is on disk.
    if (this.anchorState && event.seq <= this.anchorState.head.seq) return;
    const firstSigned = this.anchorState?.hmacFrom === undefined && this.deps.key !== undefined;
    const hmacFrom = this.anchorState?.hmacFrom ?? (this.deps.key ? event.seq : undefined);
    this.anchorState = { head: { seq: event.seq, hash: event.hash }, hmacFrom, writtenAt: isoNow(this.deps.clock) };
    // The anchor file follows the head at most every ANCHOR_WRITE_MS (a write is an fsync and a rename): a crash can
    // leave it that far behind, never ahead. Where the HMAC chain starts is written at once.
    if (firstSigned || this.anchorWrittenSeq === undefined) this.writeAnchor();
    else this.anchorTimer ??= setTimeout(() => this.writeAnchor(), ANCHOR_WRITE_MS).unref();
    this.headTimer ??= this.deps.clock.setTimeout(() => {
      this.headTimer = undefined;
      this.logHead();
    }, this.deps.headLogMs ?? 60_000);
  }

  /** The log line that witnesses the head (ship logs elsewhere and it survives a rewrite of the data dir). */
  private logHead(): void {
    const head = this.anchorState?.head;
    if (!head) return;
    const ref = formatAuditHead(head);
    if (ref === this.loggedHead) return;
    this.loggedHead = ref;
    // Not as `seq:hash` in the text: the redactor takes a long `digits:token` for a Telegram bot token.
    this.log?.info(`audit head: seq ${head.seq} hash ${head.hash}`, { auditHead: { seq: head.seq, hash: head.hash } });
  }

  /**
   * Recomputes the chain and checks each HMAC; then compares the log with the
   * head the caller gives (`head`) and the one this coordinator last wrote.
   * Reports the first problem: a missing or edited event, a broken or stripped
   * HMAC, an event signed with another key, a cut tail, a rewritten head.
   */
  async verify(options: { head?: AuditHead } = {}): Promise<AuditVerification> {
    const key = this.deps.key;
    const anchored = this.anchorState;
    const checked: CheckedHead[] = [
      ...(options.head ? [{ source: 'caller' as const, ...options.head }] : []),
      ...(anchored ? [{ source: 'coordinator' as const, ...anchored.head }] : []),
    ];
    const seen = new Map<number, string>();
    let prevHash = GENESIS;
    let count = 0;
    let last: AuditHead | null = null;
    let hmacFrom: number | null = null;
    let hmacEvents = 0;
    const counts = (): VerifyCounts => ({
      events: count,
      head: last ? { ...last, ref: formatAuditHead(last) } : null,
      hmac: { keyId: key?.id ?? null, from: hmacFrom, events: hmacEvents },
      sha256Only: count - hmacEvents,
      checked,
    });
    const broken = (brokenAt: number, reason: string): AuditVerification => ({ ok: false, brokenAt, reason, ...counts() });
    if (this.anchorError) return broken(0, this.anchorError);
    for (let offset = 0; ; offset += 1000) {
      const page = await this.deps.store.auditEvents.find({ orderBy: { field: 'seq' }, offset, limit: 1000 });
      for (const e of page) {
        const expected = count + 1;
        if (e.seq !== expected) return broken(expected, `event ${expected} is missing`);
        count++;
        if (e.prevHash !== prevHash) return broken(e.seq, 'prevHash does not match the previous event');
        if (hashEvent(e) !== e.hash) return broken(e.seq, 'content does not match its hash (edited)');
        if (e.mac !== undefined || e.keyId !== undefined) {
          if (!key) return broken(e.seq, 'the event carries an HMAC but no audit key is configured to check it');
          if (e.keyId !== key.id) return broken(e.seq, `signed with another audit key (key id ${String(e.keyId)}, this coordinator's is ${key.id}): start with the AUDIT_KEY it was written with`);
          if (typeof e.mac !== 'string' || !sameDigest(macEvent(key, e.hash), e.mac)) {
            return broken(e.seq, 'its HMAC does not match: the event was changed and its hash recomputed without the audit key');
          }
          hmacFrom ??= e.seq;
          hmacEvents++;
        } else if (hmacFrom !== null) {
          return broken(e.seq, `the event carries no HMAC although the events from ${hmacFrom} do (HMAC removed)`);
        } else if (anchored?.hmacFrom !== undefined && e.seq >= anchored.hmacFrom) {
          return broken(e.seq, `the event carries no HMAC although this coordinator signed every event from ${anchored.hmacFrom}`);
        }
        if (checked.some((k) => k.seq === e.seq)) seen.set(e.seq, e.hash);
        prevHash = e.hash;
        last = { seq: e.seq, hash: e.hash };
      }
      if (page.length < 1000) break;
    }
    for (const known of checked) {
      const who = known.source === 'caller' ? 'the head you gave' : 'the head this coordinator last wrote';
      if (known.seq > count) {
        return broken(count + 1, `the log ends at event ${count} but ${who} is event ${known.seq}: ${known.seq - count} event(s) were cut from the end`);
      }
      if (seen.get(known.seq) !== known.hash) {
        return broken(known.seq, `event ${known.seq} does not match ${who} (${formatAuditHead(known).slice(0, 24)}…): the log was rewritten at or before it`);
      }
    }
    return { ok: true, ...counts() };
  }
}
