import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Clock } from '../core/clock.js';
import { isoNow } from '../core/clock.js';
import { newToken, sameDigest, sha256 } from '../core/ids.js';
import type { PrincipalRole } from '../storage/records.js';
import { writePrivateFile } from '../storage/data-dir.js';
import type { Store } from '../storage/store.js';

/** Who is calling: resolved from the bearer token. */
export interface Principal {
  role: PrincipalRole;
  subject: string;
  scope?: string[];
}

export const ADMIN_TOKEN_FILE = 'admin-token';
const ADMIN_HASH_KEY = 'auth.adminTokenHash';

export interface AdminTokenInfo {
  /** SHA-256 of the admin token in force. */
  hash: string;
  source: 'env' | 'generated' | 'stored';
  /** The token itself, only when it was generated just now (shown once). */
  token?: string;
  /** Where a generated token was written for the operator to pick up. */
  file?: string;
}

/**
 * `ADMIN_TOKEN` from the environment wins. Without it, a token is generated on
 * the first start, stored hashed, and written once to `DATA_DIR/admin-token`
 * (mode 0600, never readable by others even while written) so the operator
 * can find it after the banner scrolls away.
 *
 * Setting `ADMIN_TOKEN` rotates for good: its hash replaces the stored one and
 * a generated token's file is removed, so unsetting the variable later keeps
 * the last token in force — never brings back an older one.
 */
export async function ensureAdminToken(options: { envToken?: string; store: Store; dataDir: string; clock: Clock }): Promise<AdminTokenInfo> {
  const file = join(resolve(options.dataDir), ADMIN_TOKEN_FILE);
  const stored = await options.store.settings.get(ADMIN_HASH_KEY);
  if (options.envToken) {
    const hash = sha256(options.envToken);
    if (!stored || stored.value !== hash) await options.store.settings.put({ id: ADMIN_HASH_KEY, value: hash, updatedAt: isoNow(options.clock) });
    if (existsSync(file)) rmSync(file, { force: true });
    return { hash, source: 'env' };
  }
  if (stored && typeof stored.value === 'string') return { hash: stored.value, source: 'stored', file: existsSync(file) ? file : undefined };
  const token = newToken('adm');
  const hash = sha256(token);
  writePrivateFile(file, `${token}\n`);
  await options.store.settings.put({ id: ADMIN_HASH_KEY, value: hash, updatedAt: isoNow(options.clock) });
  return { hash, source: 'generated', token, file };
}

/** Resolves a bearer token to a principal: the admin token, or a token stored (hashed) in `apiTokens`. */
export function createAuthenticator(store: Store, adminHash: string) {
  return async (token: string | undefined): Promise<Principal | null> => {
    if (!token) return null;
    const hash = sha256(token);
    if (sameDigest(hash, adminHash)) return { role: 'admin', subject: 'admin' };
    const record = await store.apiTokens.get(hash);
    return record ? { role: record.role, subject: record.subject, scope: record.scope } : null;
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
