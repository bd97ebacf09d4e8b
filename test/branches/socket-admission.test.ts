import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { get } from 'node:http';
import { io as connectTo } from 'socket.io-client';
import { WebSocket } from 'ws';
import { ADMIN, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';
import { connected, runnerSocket } from '../helpers/runner-socket.js';

const YAML = `
branches:
  - id: porto
    name: Porto
    host: remote
    agents:
      - { id: porto-tg, channel: telegram, token: t }
`;

describe("the API port's Socket.IO admits only authenticated runners and agents, within caps", () => {
  let t: TestCoordinator;
  let token = '';
  let port = 0;

  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, env: { SOCKET_MAX_PER_ADDRESS: '5', SOCKET_MAX_CONNECTIONS: '50' } });
    port = Number(new URL(t.url).port);
    const res = await t.call('/api/runners', { method: 'POST', json: { name: 'r-porto', branches: ['porto'] } });
    token = res.body.token;
  });
  afterAll(async () => {
    await t.close();
  });

  /** One WebSocket handshake straight to engine.io: resolves with the HTTP status it got (101 when a connection is kept). */
  const handshake = (headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { headers });
      ws.on('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      ws.on('open', () => {
        resolve(101);
        ws.terminate();
      });
      // After a refusal `ws` reports the destroyed request; anything before it is the test's failure.
      ws.on('error', (error) => reject(error));
    });
  /** GET /health on a fresh TCP connection: its status and how long it took. */
  const health = () =>
    new Promise<{ status: number; ms: number }>((resolve, reject) => {
      const started = Date.now();
      get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
      }).on('error', reject);
    });
  const polling = (headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`, { headers: { connection: 'close', ...headers } });
  const openConnections = () => new Promise<number>((resolve, reject) => t.running.api.server.getConnections((error, n) => (error ? reject(error) : resolve(n))));

  it('refuses hundreds of unauthenticated handshakes, keeping none, while /health answers quickly', async () => {
    const statuses: number[] = [];
    const checks: Array<{ status: number; ms: number }> = [];
    for (let round = 0; round < 4; round++) {
      const [batch, during] = await Promise.all([
        Promise.all(Array.from({ length: 100 }, (_, i) => handshake(i % 3 === 0 ? { authorization: 'Bearer not-a-token' } : i % 3 === 1 ? { authorization: 'garbage' } : {}))),
        health(),
      ]);
      statuses.push(...batch);
      checks.push(during);
    }
    expect(statuses).toHaveLength(400);
    // engine.io answers a refused WebSocket upgrade with 400; not one was upgraded (101).
    expect(new Set(statuses)).toEqual(new Set([400]));
    for (const check of checks) {
      expect(check.status).toBe(200);
      expect(check.ms).toBeLessThan(2000);
    }
    const refused = await polling();
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ message: expect.stringMatching(/^unauthorized/) });
    await until('no connection kept', async () => (await openConnections()) === 0, 10_000);
  }, 60_000);

  it('caps connections per address: the sixth authenticated handshake is refused while five are open; idle ones are dropped', async () => {
    const bearer = { authorization: `Bearer ${token}` };
    // Five engine connections that never join a namespace.
    const idle = await Promise.all(
      Array.from({ length: 5 }, () => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { headers: bearer });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      })),
    );
    const closed = Promise.all(idle.map((ws) => new Promise<number>((resolve) => ws.once('close', () => resolve(Date.now())))));
    const sixth = await polling(bearer);
    expect(sixth.status).toBe(403);
    expect(await sixth.json()).toMatchObject({ message: expect.stringMatching(/too many connections from this address/) });
    // engine.io drops them after the connect timeout (5 s), freeing the slots.
    const started = Date.now();
    for (const at of await closed) expect(at - started).toBeLessThan(8000);
    const runner = runnerSocket(t.url, token);
    await connected(runner);
    expect(await runner.emitWithAck('register', { runner: 'r-porto', agents: ['porto-tg'] })).toEqual({ ok: true, value: { accepted: ['porto-tg'] } });
    runner.disconnect();
  }, 30_000);

  it('refuses the "/" namespace and unknown ones even with a valid token', async () => {
    for (const [namespace, message] of [['/', /nothing is served on "\/"/], ['/admin', /Invalid namespace/]] as const) {
      const socket = runnerSocket(t.url, ADMIN, namespace);
      await expect(connected(socket)).rejects.toThrow(message);
      socket.disconnect();
    }
  });

  it('an authenticated runner connects (header at the handshake, auth.token for the namespace)', async () => {
    const socket = runnerSocket(t.url, token);
    await connected(socket);
    expect(await socket.emitWithAck('register', { runner: 'r-porto', agents: ['porto-tg'] })).toEqual({ ok: true, value: { accepted: ['porto-tg'] } });
    socket.disconnect();
    // Two different tokens in one handshake are refused.
    const mixed = connectTo(`${t.url}/agents`, { auth: { token }, extraHeaders: { authorization: `Bearer ${ADMIN}` }, transports: ['websocket'], reconnection: false, forceNew: true });
    await expect(connected(mixed)).rejects.toThrow(/different tokens/);
    mixed.disconnect();
  });
});
