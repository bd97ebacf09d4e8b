import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CodedError, ErrorCode } from '../core/errors.js';
import { writePrivateFile } from '../storage/data-dir.js';

export const AUDIT_KEY_FILE = 'audit-key';

/** The secret of the audit log's HMAC chain, kept outside the database. */
export interface AuditKey {
  secret: Buffer;
  /** Short public fingerprint stored with each event, so a changed key is named as such (not as an edit). */
  id: string;
  source: 'env' | 'file' | 'generated';
  /** Where the key lives when it is not from the environment. */
  file?: string;
}

/**
 * `AUDIT_KEY` from the environment wins (replicas sharing a database must share
 * it). Without it, a 256-bit key is generated once into `DATA_DIR/audit-key`
 * (0600) and read from there afterwards. Someone holding only the database (a
 * copied file, a backup, a database login) cannot recompute the chain without it.
 */
export function loadAuditKey(options: { envKey?: string; dataDir: string }): AuditKey {
  if (options.envKey) return fromSecret(Buffer.from(options.envKey, 'utf8'), 'env');
  const file = join(resolve(options.dataDir), AUDIT_KEY_FILE);
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(text)) {
      throw new CodedError(ErrorCode.Config, `${file} does not hold an audit key (64 hex characters): restore it from a backup, or set AUDIT_KEY to the key the log was written with`, { file });
    }
    return { ...fromSecret(Buffer.from(text, 'hex'), 'file'), file };
  }
  const secret = randomBytes(32);
  writePrivateFile(file, `${secret.toString('hex')}\n`);
  return { ...fromSecret(secret, 'generated'), file };
}

function fromSecret(secret: Buffer, source: AuditKey['source']): AuditKey {
  const id = createHash('sha256').update('coordinator-audit-key-id:').update(secret).digest('hex').slice(0, 16);
  return { secret, id, source };
}
