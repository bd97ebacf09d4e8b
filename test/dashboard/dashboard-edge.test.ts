import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { io as connectSocket, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { boot } from '../../src/boot.js';
import { REFUSAL_MESSAGES } from '../../src/core/connection-gate.js';
import { hashPassword } from '../../src/dashboard/password-hash.js';
import { fakeChannels } from '../helpers/fake-channel.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { spawnCoordinator, type Spawned } from '../helpers/spawn-coordinator.js';
import { stopChild } from '../helpers/stop-child.js';
import { tempDir } from '../helpers/temp-dir.js';
import { ADMIN, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';
import { dashboardPost, PASSWORDS, startDashboardCoordinator, startSecondDashboard } from './dashboard-setup.js';

const LONG = 90_000;
const BAD_COOKIE = 'coord_session=%E0%A4%A';
const sockets: Socket[] = [];

/** A Socket.IO client of a dashboard (no reconnection); resolves once connected or refused (or unanswered after 10 s). */
function openSocket(url: string, headers: Record<string, string>, options: { transports?: Array<'websocket' | 'polling'> } = {}) {
  const socket = connectSocket(url, { transports: options.transports ?? ['websocket'], reconnection: false, forceNew: true, extraHeaders: headers });
  sockets.push(socket);
  return new Promise<{ ok: boolean; socket: Socket; message?: string; body?: string }>((resolve) => {
    setTimeout(() => resolve({ ok: false, socket, message: 'no answer within 10 s' }), 10_000).unref();
    socket.once('connect_error', (error: Error & { context?: { responseText?: string } }) => resolve({ ok: false, socket, message: error.message, body: error.context?.responseText }));
    socket.once('connect', () => resolve({ ok: true, socket }));
  });
}

/** A raw engine.io WebSocket handshake (what a flood would send); resolves with the HTTP status and body of a refusal, or 101. */
function rawUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.on('error', () => undefined); // the outcome is reported by 'unexpected-response' or 'open'
  });
}

/** A raw engine.io polling handshake; resolves with the status and body. */
async function rawPolling(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers });
  return { status: res.status, body: await res.text() };
}

/** Status and time of a GET. */
async function timed(url: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  return { status: res.status, ms: Date.now() - started };
}

afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe('dashboard: a malformed cookie on the live socket does not stop the process (issue 14 #1)', () => {
  let child: Spawned;
  const dir = tempDir();
  afterAll(async () => {
    if (child) await stopChild(child.child);
    dir.cleanup();
  });

  it(
    'refuses the handshake; the process, /health and the dashboard keep answering',
    async () => {
      child = spawnCoordinator({ PORT: '0', DASHBOARD_PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir.path, 'data'), LOG_DIR: join(dir.path, 'logs'), COORDINATOR_CONFIG: join(dir.path, 'none.yaml'), ADMIN_TOKEN: ADMIN });
      const api = await child.ready;
      const dashboard = await until('the dashboard URL in the banner', () => /Dashboard:\s+(http:\/\/\S+)/.exec(child.stdout())?.[1]);
      for (const transports of [['websocket'], ['polling']] as const) {
        for (const cookie of [BAD_COOKIE, 'coord_session=%FF.%FF', `${BAD_COOKIE}; coord_session=%`, 'coord_session=eyJ9.%E0%A4%A']) {
          const refused = await openSocket(dashboard, { cookie }, { transports: [...transports] });
          // Refused by engine.io at the handshake: the transport fails at once (old code: the process died, or no answer).
          expect({ cookie, ...refused, socket: undefined }).toMatchObject({ ok: false, message: transports[0] === 'websocket' ? 'websocket error' : 'xhr poll error' });
        }
      }
      expect((await rawUpgrade(dashboard, { cookie: BAD_COOKIE })).status).toBe(400);
      expect(await rawPolling(dashboard, { cookie: BAD_COOKIE })).toEqual({ status: 403, body: expect.stringContaining(REFUSAL_MESSAGES.unauthorized) });
      expect((await timed(`${api}/health`)).status).toBe(200);
      expect((await timed(`${dashboard}/`)).status).toBe(200);
      const me = await fetch(`${dashboard}/api/me`, { headers: { cookie: BAD_COOKIE } });
      expect(me.status).toBe(401);
      expect(await me.json()).toMatchObject({ error: { code: 'unauthorized' } });
      expect(child.child.exitCode).toBeNull();
      expect(child.stderr()).not.toMatch(/URI malformed|unhandled/i);
    },
    LONG,
  );
});

describe('dashboard edge: input, proxies, connections, credential rotation', () => {
  let t: TestCoordinator;
  let url: string;
  let second: Awaited<ReturnType<typeof startSecondDashboard>>;

  beforeAll(async () => {
    ({ t, dashboardUrl: url } = await startDashboardCoordinator());
    second = await startSecondDashboard(t, { socketLimits: { maxConnections: 1000, maxPerAddress: 3 }, live: { connectTimeoutMs: 1000 } });
  }, LONG);
  afterAll(async () => {
    await second?.close();
    await t?.close();
  });

  const login = async (at: string, body: unknown = { username: 'ana', password: PASSWORDS.ana }) => {
    const res = await dashboardPost(at, '/login', '', body);
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.cookie;
  };

  it('answers a malformed session cookie on every HTTP route with 401 JSON, not 500 (#1)', async () => {
    for (const [method, path] of [
      ['GET', '/api/me'],
      ['GET', '/api/snapshot'],
      ['GET', '/api/conversations/x/messages'],
      ['POST', '/logout'],
      ['POST', '/api/approvals/x/decision'],
      ['POST', '/api/agents/lis-tg/maintenance'],
      ['POST', '/api/rules/x/accept'],
    ]) {
      for (const cookie of [BAD_COOKIE, 'coord_session=%', `a=%E0%A4%A; ${BAD_COOKIE}`]) {
        const res = await fetch(`${url}${path}`, { method, headers: { cookie, 'content-type': 'application/json', 'x-requested-with': 'dashboard' }, body: method === 'POST' ? '{"decision":"approve","enabled":true}' : undefined });
        expect({ path, cookie, status: res.status, body: await res.json() }).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
      }
    }
    expect((await t.running.store.agents.get('lis-tg'))!.status).not.toBe('maintenance');
  });

  it('answers malformed path escapes and over-deep JSON on the dashboard with 400 JSON', async () => {
    const cookie = await login(url);
    const headers = { cookie, 'content-type': 'application/json', 'x-requested-with': 'dashboard' };
    for (const [method, path] of [
      ['POST', '/api/approvals/%E0%A4%A/decision'],
      ['POST', '/api/agents/%E0%A4%A/maintenance'],
      ['GET', '/api/conversations/%E0%A4%A/messages'],
      ['POST', '/api/rules/%E0%A4%A/revoke'],
    ]) {
      const res = await fetch(`${url}${path}`, { method, headers, body: method === 'POST' ? '{"decision":"approve","enabled":true}' : undefined });
      expect({ path, status: res.status, body: await res.json() }).toMatchObject({ path, status: 400, body: { error: { code: expect.any(String) } } });
    }
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const res = await fetch(`${url}/api/approvals/x/decision`, { method: 'POST', headers, body: deep });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: expect.any(String) } });
  });

  it('counts X-Forwarded-For only from a trusted proxy: a local process cannot dodge the sign-in limit (#13)', async () => {
    const fresh = await startSecondDashboard(t); // its own sign-in limiter, TRUST_PROXY unset
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) {
        statuses.push((await dashboardPost(fresh.url, '/login', '', { username: 'ana', password: 'guess' }, { 'x-forwarded-for': `203.0.113.${i + 1}` })).status);
      }
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses[10]).toBe(429);
      // The failed logins were audited under the real peer, not the address the header claimed.
      const failed = await t.running.store.auditEvents.find({ where: { type: 'dashboard.login-failed' } });
      expect(failed.some((e) => JSON.stringify(e.data).includes('203.0.113.'))).toBe(false);
    } finally {
      await fresh.close();
    }
  });

  it('with TRUST_PROXY (loopback) the proxy-forwarded client address and host are honoured', async () => {
    const behindProxy = await startSecondDashboard(t, { trustProxy: ['loopback'] });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) {
        statuses.push((await dashboardPost(behindProxy.url, '/login', '', { username: 'ana', password: 'guess' }, { 'x-forwarded-for': `203.0.113.${i + 1}` })).status);
      }
      expect(statuses).toEqual(Array(11).fill(401)); // eleven clients, one failure each
      for (let i = 0; i < 10; i++) await dashboardPost(behindProxy.url, '/login', '', { username: 'ana', password: 'guess' }, { 'x-forwarded-for': '198.51.100.7' });
      expect((await dashboardPost(behindProxy.url, '/login', '', { username: 'ana', password: 'guess' }, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(429);
      const cookie = await login(behindProxy.url);
      const viaProxy = { cookie, origin: 'https://dash.example.com', 'x-forwarded-host': 'dash.example.com', 'x-forwarded-proto': 'https' };
      expect((await openSocket(behindProxy.url, viaProxy)).ok).toBe(true);
      // The same forwarded host from an untrusted peer (the first dashboard trusts nobody) is another origin.
      const direct = await login(second.url);
      expect((await openSocket(second.url, { ...viaProxy, cookie: direct })).ok).toBe(false);
      expect(second.dashboard.connections().refusedCrossOrigin).toBeGreaterThanOrEqual(1);
      expect((await dashboardPost(second.url, '/api/agents/lis-tg/maintenance', direct, { enabled: true }, viaProxy)).status).toBe(403);
      // X-Forwarded-Proto from the trusted proxy makes the cookie Secure.
      const proxied = await fetch(`${behindProxy.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard', 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.8' }, body: JSON.stringify({ username: 'ana', password: PASSWORDS.ana }) });
      expect(proxied.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
    } finally {
      await behindProxy.close();
    }
  });

  it(
    'keeps no unauthenticated connection: 300 handshakes are refused at engine.io while /health and the login page answer fast (#16)',
    async () => {
      const before = second.dashboard.connections().refused.unauthorized;
      const flood = Promise.all([
        ...Array.from({ length: 150 }, (_, i) => rawPolling(second.url, i % 2 ? { cookie: BAD_COOKIE } : {})),
        ...Array.from({ length: 150 }, (_, i) => rawUpgrade(second.url, i % 2 ? { cookie: BAD_COOKIE } : {})),
      ]);
      const probes = await Promise.all([timed(`${t.url}/health`), timed(`${second.url}/`), timed(`${url}/`)]);
      const results = await flood;
      for (const p of probes) expect(p).toMatchObject({ status: 200 });
      for (const p of probes) expect(p.ms).toBeLessThan(3000);
      expect(results.filter((r) => r.status === 403 || r.status === 400)).toHaveLength(300);
      for (const r of results) expect(r.body).toContain(REFUSAL_MESSAGES.unauthorized);
      const stats = second.dashboard.connections();
      expect(stats.refused.unauthorized - before).toBe(300);
      expect(stats.engineClients).toBe(0);
      expect(stats.open).toBe(0);
    },
    LONG,
  );

  it('caps connections per address with a clear reason, serves only the page namespace, and drops a connection that never joins (#16)', async () => {
    const cookie = await login(second.url);
    const kept = await Promise.all([openSocket(second.url, { cookie }), openSocket(second.url, { cookie }), openSocket(second.url, { cookie })]);
    expect(kept.map((k) => k.ok)).toEqual([true, true, true]);
    const fourth = await openSocket(second.url, { cookie }, { transports: ['polling'] });
    expect(fourth.ok).toBe(false);
    expect(fourth.body).toContain(REFUSAL_MESSAGES.too_many_from_address);
    expect(second.dashboard.connections()).toMatchObject({ open: 3, perAddress: { '127.0.0.1': 3 } });
    expect(second.dashboard.connections().refused.too_many_from_address).toBeGreaterThanOrEqual(1);
    for (const k of kept) k.socket.close();
    await until('the three connections released', () => second.dashboard.connections().open === 0);

    const other = await openSocket(`${second.url}/agents`, { cookie });
    expect(other).toMatchObject({ ok: false, message: 'Invalid namespace' });
    other.socket.close();

    // An engine.io connection with a valid session that never joins a namespace is dropped after connectTimeoutMs (1 s here).
    await until('the namespace refusal released', () => second.dashboard.connections().open === 0);
    const idle = new WebSocket(`${second.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers: { cookie } });
    const opened = Date.now();
    await new Promise((resolve) => idle.once('open', resolve));
    expect(second.dashboard.connections().engineClients).toBe(1);
    await new Promise((resolve) => idle.once('close', resolve));
    expect(Date.now() - opened).toBeLessThan(4000);
    await until('the idle connection released', () => second.dashboard.connections().open === 0);
  });

  it(
    'ends admin-token sessions when ADMIN_TOKEN rotates and operator sessions when the password changes; the live socket is refused (#11)',
    async () => {
      const admin = await login(url, { token: ADMIN });
      const viewer = await login(url, { username: 'viewer', password: PASSWORDS.viewer });
      const ana = await login(url);
      const live = await openSocket(url, { cookie: admin });
      expect(live.ok).toBe(true);
      const dropped = new Promise<string>((resolve) => live.socket.once('disconnect', resolve));

      // Restart on the same data dir and ports, with a new admin token and a new password for 'viewer'.
      const apiPort = new URL(t.url).port;
      const dashboardPort = new URL(url).port;
      const yamlPath = join(t.dir, 'coordinator.yaml');
      const { readFileSync } = await import('node:fs');
      const newHash = await hashPassword('a-new-viewer-password', { N: 1024, r: 8, p: 1 });
      const yaml = readFileSync(yamlPath, 'utf8').replace(/(username: viewer, passwordHash: ")[^"]+/, (_m, head: string) => `${head}${newHash}`);
      writeFileSync(yamlPath, yaml);
      await t.running.stop();
      const NEW_ADMIN = 'rotated-admin-token-9876543210';
      t.running = await boot({
        environment: {
          PORT: apiPort,
          DASHBOARD_PORT: dashboardPort,
          HOST: '127.0.0.1',
          DATA_DIR: join(t.dir, 'data'),
          LOG_DIR: join(t.dir, 'logs'),
          COORDINATOR_CONFIG: yamlPath,
          ADMIN_TOKEN: NEW_ADMIN,
          TELEGRAM_API_ROOT: 'http://127.0.0.1:9',
          SLACK_API_URL: 'http://127.0.0.1:9/',
          HEALTH_INTERVAL_MS: '1000',
          TRUST_PROXY: 'loopback',
        },
        logger: memoryLogger().logger,
        channels: fakeChannels().registry,
      });
      expect(t.running.dashboard.url).toBe(url);

      const me = (cookie: string) => fetch(`${url}/api/me`, { headers: { cookie } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
      expect(await me(admin)).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
      expect((await me(viewer)).status).toBe(401);
      expect((await me(ana)).status).toBe(200); // her password did not change
      // The open page was disconnected by the stop and, as the page does, connects again: refused.
      expect(await dropped).toBe('io server disconnect');
      const again = new Promise<string>((resolve) => live.socket.once('connect_error', (error) => resolve(error.message)));
      live.socket.connect();
      expect(await again).toBe('websocket error');
      expect((await openSocket(url, { cookie: admin })).ok).toBe(false);
      expect(t.running.coordinator.dashboard.connections().refused.unauthorized).toBeGreaterThanOrEqual(2);
      expect((await openSocket(url, { cookie: await login(url, { token: NEW_ADMIN }) })).ok).toBe(true);

      // The restart was wired with TRUST_PROXY=loopback: a forwarded client address counts as the client's.
      for (let i = 0; i < 11; i++) expect((await dashboardPost(url, '/login', '', { token: `wrong-token-${i}-0123456789` }, { 'x-forwarded-for': `192.0.2.${i + 1}` })).status).toBe(401);
    },
    LONG,
  );
});
