import type { ApiTokenRecord, PrincipalRole } from '../storage/records.js';
import type { Store } from '../storage/store.js';

/** Hex characters of a token's stored SHA-256 that name it in the API (48 bits: unique among a deployment's tokens, useless to guess the secret from). */
export const PUBLIC_TOKEN_ID_LENGTH = 12;
const PUBLIC_ID = new RegExp(`^[0-9a-f]{${PUBLIC_TOKEN_ID_LENGTH}}$`);

/**
 * The public id of a token: the first 12 hex characters of the SHA-256 it is
 * stored under. Stable for the token's life, shown by `GET /api/tokens` and
 * when a token is minted, and what `DELETE /api/tokens/:id` takes — so a
 * token can be listed and revoked without anyone handling its secret again.
 *
 * @example publicTokenId(sha256(token)) // 'a3f09c1d22be'
 */
export function publicTokenId(hash: string): string {
  return hash.slice(0, PUBLIC_TOKEN_ID_LENGTH);
}

/** Whether `id` has the shape of a public token id (12 lowercase hex characters). */
export function isPublicTokenId(id: string): boolean {
  return PUBLIC_ID.test(id);
}

/** What `GET /api/tokens` shows of a stored token: never the hash it is stored under, only its public id. */
export interface TokenView {
  id: string;
  role: PrincipalRole;
  subject: string;
  label?: string;
  scope?: string[];
  createdAt?: string;
  /** False for the admin token: it is rotated with ADMIN_TOKEN, not revoked over the API. */
  revocable: boolean;
}

/** The API's view of a stored token. */
export function tokenView(record: ApiTokenRecord): TokenView {
  return {
    id: publicTokenId(record.id),
    role: record.role,
    subject: record.subject,
    ...(record.label !== undefined ? { label: record.label } : {}),
    ...(record.scope !== undefined ? { scope: record.scope } : {}),
    createdAt: record.createdAt,
    revocable: true,
  };
}

/** The stored tokens whose public id is `id` (one, in practice; two would be a 48-bit collision the caller refuses to guess between). */
export async function tokensByPublicId(store: Store, id: string): Promise<ApiTokenRecord[]> {
  return (await store.apiTokens.find()).filter((t) => t.id.startsWith(id));
}
