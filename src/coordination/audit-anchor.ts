import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writePrivateFile } from '../storage/data-dir.js';

export const AUDIT_HEAD_FILE = 'audit-head';

/** A point of the audit chain: event `seq` has hash `hash` (and so does everything before it, through `prevHash`). */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** What the coordinator remembers outside the database about the log it wrote. */
export interface AnchorState {
  /** The last event this coordinator appended. */
  head: AuditHead;
  /** The first event it signed with the audit key: every later event must carry an HMAC. */
  hmacFrom?: number;
  writtenAt: string;
}

/** Where the head is kept outside the database; `read` throws when the anchor exists but cannot be read. */
export interface AuditAnchor {
  /** Names the anchor for messages (a path). */
  readonly where: string;
  read(): AnchorState | undefined;
  write(state: AnchorState): void;
}

/**
 * `DATA_DIR/audit-head` (0600, replaced atomically): the head this coordinator
 * last wrote. Someone who can change the database but not the data dir (a
 * database login, a restored or copied database) cannot move it.
 */
export class FileAuditAnchor implements AuditAnchor {
  readonly where: string;

  constructor(dataDir: string) {
    this.where = join(resolve(dataDir), AUDIT_HEAD_FILE);
  }

  read(): AnchorState | undefined {
    if (!existsSync(this.where)) return undefined;
    const state = JSON.parse(readFileSync(this.where, 'utf8')) as Partial<AnchorState>;
    const head = state.head;
    if (!head || !Number.isInteger(head.seq) || head.seq < 1 || typeof head.hash !== 'string' || !/^[0-9a-f]{64}$/.test(head.hash)) {
      throw new Error(`${this.where} does not hold an audit head`);
    }
    return { head: { seq: head.seq, hash: head.hash }, hmacFrom: typeof state.hmacFrom === 'number' ? state.hmacFrom : undefined, writtenAt: String(state.writtenAt ?? '') };
  }

  write(state: AnchorState): void {
    writePrivateFile(this.where, `${JSON.stringify(state)}\n`);
  }
}

/** Parses `12:<64 hex>` (the form `GET /api/audit/verify?head=` takes); undefined when malformed. */
export function parseAuditHead(text: string): AuditHead | undefined {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/i.exec(text.trim());
  if (!m) return undefined;
  const seq = Number(m[1]);
  return seq >= 1 ? { seq, hash: m[2].toLowerCase() } : undefined;
}

/** `12:<hash>`: the head as callers keep and pass it back. */
export function formatAuditHead(head: AuditHead): string {
  return `${head.seq}:${head.hash}`;
}
