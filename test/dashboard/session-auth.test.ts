import { describe, expect, it } from '@jest/globals';
import { hashPassword, verifyPassword } from '../../src/dashboard/password-hash.js';
import { readCookie, SessionManager } from '../../src/dashboard/session-manager.js';
import { ManualClock } from '../helpers/manual-clock.js';

describe('operator passwords', () => {
  it('hashes with scrypt and verifies only the right password', async () => {
    const hash = await hashPassword('correct horse battery', { N: 1024, r: 8, p: 1 });
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterY', hash)).toBe(false);
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
  });
});

describe('session cookies', () => {
  it('verify while fresh; refuse forged, expired and revoked ones', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const sessions = new SessionManager(Buffer.alloc(32, 7), clock, 60_000);
    const { cookie, session } = sessions.issue({ kind: 'operator', username: 'ana', name: 'Ana' }, 'fp-ana');
    expect(await sessions.verify(cookie)).toMatchObject({ username: 'ana', kind: 'operator', cred: 'fp-ana' });
    const [payload, mac] = cookie.split('.');
    const forged = Buffer.from(JSON.stringify({ ...session, username: 'admin', kind: 'admin' })).toString('base64url');
    expect(await sessions.verify(`${forged}.${mac}`)).toBeNull();
    expect(await sessions.verify(`${payload}.${mac[0] === "x" ? "y" : "x"}${mac.slice(1)}`)).toBeNull(); // one character of the MAC changed
    expect(await new SessionManager(Buffer.alloc(32, 8), clock).verify(cookie)).toBeNull();
    await clock.advance(61_000);
    expect(await sessions.verify(cookie)).toBeNull();
    const second = sessions.issue({ kind: 'admin', username: 'admin', name: 'Administrator' }, 'fp-admin');
    await sessions.revoke(second.session);
    expect(await sessions.verify(second.cookie)).toBeNull();
    expect(readCookie(`a=1; coord_session=${encodeURIComponent(cookie)}; b=2`, 'coord_session')).toBe(cookie);
  });
});

describe('readCookie (a Cookie header is client input)', () => {
  it('never throws: a malformed %-escape is kept as it is (and then fails the signature check)', async () => {
    expect(() => decodeURIComponent('%E0%A4%A')).toThrow(URIError);
    expect(readCookie('coord_session=%E0%A4%A', 'coord_session')).toBe('%E0%A4%A');
    expect(readCookie('a=%; coord_session=%E0%A4%A; b=%%', 'b')).toBe('%%');
    for (const header of ['', ';;;', '=', 'coord_session', 'coord_session=', '\u0000=\u0000', '%E0%A4%A=%E0%A4%A', 'x'.repeat(16_000)]) {
      expect(() => readCookie(header, 'coord_session')).not.toThrow();
    }
    const sessions = new SessionManager(Buffer.alloc(32, 7), new ManualClock(0));
    expect(await sessions.verify(readCookie('coord_session=%E0%A4%A', 'coord_session'))).toBeNull();
  });

  it('refuses a correctly signed session of an older version (no credential fingerprint)', async () => {
    const { createHmac } = await import('node:crypto');
    const secret = Buffer.alloc(32, 9);
    const payload = Buffer.from(JSON.stringify({ sid: 's1', username: 'admin', kind: 'admin', exp: Date.now() + 60_000 })).toString('base64url');
    const mac = createHmac('sha256', secret).update(payload).digest('base64url');
    expect(await new SessionManager(secret, new ManualClock(Date.now())).verify(`${payload}.${mac}`)).toBeNull();
  });
});
