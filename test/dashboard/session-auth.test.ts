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
    const { cookie, session } = sessions.issue({ kind: 'operator', username: 'ana', name: 'Ana' });
    expect(await sessions.verify(cookie)).toMatchObject({ username: 'ana', kind: 'operator' });
    const [payload, mac] = cookie.split('.');
    const forged = Buffer.from(JSON.stringify({ ...session, username: 'admin', kind: 'admin' })).toString('base64url');
    expect(await sessions.verify(`${forged}.${mac}`)).toBeNull();
    expect(await sessions.verify(`${payload}.${mac[0] === "x" ? "y" : "x"}${mac.slice(1)}`)).toBeNull(); // one character of the MAC changed
    expect(await new SessionManager(Buffer.alloc(32, 8), clock).verify(cookie)).toBeNull();
    await clock.advance(61_000);
    expect(await sessions.verify(cookie)).toBeNull();
    const second = sessions.issue({ kind: 'admin', username: 'admin', name: 'Administrator' });
    await sessions.revoke(second.session);
    expect(await sessions.verify(second.cookie)).toBeNull();
    expect(readCookie(`a=1; coord_session=${encodeURIComponent(cookie)}; b=2`, 'coord_session')).toBe(cookie);
  });
});
