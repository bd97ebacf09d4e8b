import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseCookie } from 'cookie';
import type { Clock } from '../core/clock.js';
import { isoNow } from '../core/clock.js';
import type { Store } from '../storage/store.js';

/** Who is signed in to the dashboard. `managerId` is set only for operators linked to a manager. */
export interface DashboardUser {
  kind: 'admin' | 'operator';
  username: string;
  name: string;
  managerId?: string;
}

export interface Session {
  sid: string;
  username: string;
  kind: DashboardUser['kind'];
  /**
   * Fingerprint of the credential the session was signed in with (the admin
   * token's hash, or the operator's password hash): when that credential
   * changes, the session ends (`OperatorDirectory.resolve` refuses it).
   */
  cred: string;
  /** Expiry, epoch ms. */
  exp: number;
}

export const SESSION_COOKIE = 'coord_session';
const SECRET_KEY = 'dashboard.sessionSecret';

/** The HMAC key for session cookies: generated once and kept in the store, so sessions survive restarts and work across replicas. */
export async function ensureSessionSecret(store: Store, clock: Clock): Promise<Buffer> {
  const existing = await store.settings.get(SECRET_KEY);
  if (existing && typeof existing.value === 'string') return Buffer.from(existing.value, 'base64url');
  const value = randomBytes(32).toString('base64url');
  try {
    await store.settings.insert({ id: SECRET_KEY, value, updatedAt: isoNow(clock) });
  } catch (error) {
    // Another replica made it first: use theirs. Anything else (the store refused the write) is not hidden:
    // a key kept only in memory would sign sessions no restart or other replica accepts.
    const theirs = await store.settings.get(SECRET_KEY);
    if (theirs && typeof theirs.value === 'string') return Buffer.from(theirs.value, 'base64url');
    throw error;
  }
  return Buffer.from(value, 'base64url');
}

const REVOKED_PREFIX = 'dashboard.revoked.';

/**
 * Signed, expiring session cookies (`<payload>.<hmac>`). Stateless so any
 * replica can check the signature; a logout is written to the store
 * (`settings`, one small document per revoked session, dropped once past the
 * session lifetime), so it holds across restarts and on every replica.
 */
export class SessionManager {
  /** Sessions known to be revoked (a cache of the store's list: only ever grows until expiry). */
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly secret: Buffer,
    private readonly clock: Clock,
    readonly ttlMs = 12 * 3600_000,
    private readonly store?: Pick<Store, 'settings'>,
  ) {}

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }

  /** A new session for `user`, bound to `credential` (a fingerprint, see `Session.cred`); returns the cookie value. */
  issue(user: DashboardUser, credential: string): { session: Session; cookie: string } {
    const session: Session = { sid: randomBytes(16).toString('base64url'), username: user.username, kind: user.kind, cred: credential, exp: this.clock.now() + this.ttlMs };
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return { session, cookie: `${payload}.${this.sign(payload)}` };
  }

  /** The session in a cookie value if its signature and expiry are good (revocation not checked). */
  private decode(value: string | undefined): Session | null {
    if (!value) return null;
    const [payload, mac] = value.split('.');
    if (!payload || !mac) return null;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    try {
      const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Session> | null;
      // Signed by us, but possibly by an older version (sessions from before `cred` existed end here).
      if (!session || typeof session.sid !== 'string' || typeof session.username !== 'string' || (session.kind !== 'admin' && session.kind !== 'operator')) return null;
      if (typeof session.cred !== 'string' || typeof session.exp !== 'number' || session.exp <= this.clock.now()) return null;
      return session as Session;
    } catch {
      return null;
    }
  }

  /** The session in a cookie value, or null if forged, expired or revoked (here or by another replica). */
  async verify(value: string | undefined): Promise<Session | null> {
    const session = this.decode(value);
    if (!session || this.revoked.has(session.sid)) return null;
    if (this.store && (await this.store.settings.get(REVOKED_PREFIX + session.sid))) {
      this.revoked.set(session.sid, session.exp);
      return null;
    }
    return session;
  }

  /** Revokes a session everywhere (this process at once, other replicas and later restarts through the store). */
  async revoke(session: Session): Promise<void> {
    const now = this.clock.now();
    for (const [sid, exp] of this.revoked) if (exp <= now) this.revoked.delete(sid);
    this.revoked.set(session.sid, session.exp);
    if (!this.store) return;
    await this.store.settings.put({ id: REVOKED_PREFIX + session.sid, value: { exp: session.exp }, updatedAt: isoNow(this.clock) });
    // Revocations older than a session's lifetime outlive every session they could stop.
    await this.store.settings.deleteWhere({ id: { gte: REVOKED_PREFIX, lt: `${REVOKED_PREFIX}~` }, updatedAt: { lt: new Date(now - this.ttlMs).toISOString() } });
  }
}

/**
 * The value of one cookie in a `Cookie` header. A header is client input: the
 * `cookie` package's parser leaves a value with a malformed `%`-escape as it
 * is (which then fails the signature check) instead of throwing.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  return parseCookie(header)[name];
}
