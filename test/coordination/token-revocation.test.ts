import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'socket.io-client';
import { AgentHosts } from '../../src/branches/agent-host.js';
import { attachRunnerGateway, type RunnerGateway } from '../../src/branches/runner-gateway.js';
import { coordinatorConfigSchema } from '../../src/config/config-schema.js';
import { systemClock } from '../../src/core/clock.js';
import { sha256 } from '../../src/core/ids.js';
import { createAuthenticator } from '../../src/coordination/auth.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { fakeChannels } from '../helpers/fake-channel.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { connected, runnerSocket } from '../helpers/runner-socket.js';
import { ADMIN, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

// Red-team finding A on issue 14: manager, operator and runner tokens could never be revoked,
// and a revoked or removed agent's socket on /agents stayed open (and kept receiving approval pushes).
const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: t }
  - id: porto
    name: Porto
    host: remote
    agents:
      - { id: porto-tg, channel: telegram, token: t2 }
`;

/** Resolves with the reason once the server closes `socket`. */
const closedByServer = (socket: Socket) => new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(String(reason))));

describe('tokens are listed and revoked by the admin (GET/DELETE /api/tokens)', () => {
  let t: TestCoordinator;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, channels: fakeChannels().registry });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists every token by a public id (never its secret or stored hash), and the admin token as not revocable', async () => {
    const manager = await t.call('/api/tokens', { method: 'POST', json: { role: 'manager', subject: 'ana', label: 'Ana laptop' } });
    const operator = await t.call('/api/tokens', { method: 'POST', json: { role: 'operator', subject: 'olga-list' } });
    const runner = await t.call('/api/runners', { method: 'POST', json: { name: 'r-list', branches: ['porto'] } });
    expect([manager.status, operator.status, runner.status]).toEqual([201, 201, 201]);
    expect(manager.body.id).toBe(sha256(manager.body.token).slice(0, 12));
    expect(runner.body.tokenId).toBe(sha256(runner.body.token).slice(0, 12));

    const list = await t.call('/api/tokens');
    expect(list.status).toBe(200);
    expect(list.body.tokens).toEqual(
      expect.arrayContaining([
        { id: sha256(ADMIN).slice(0, 12), role: 'admin', subject: 'admin', label: 'admin token (ADMIN_TOKEN)', revocable: false },
        { id: manager.body.id, role: 'manager', subject: 'ana', label: 'Ana laptop', createdAt: expect.any(String), revocable: true },
        { id: operator.body.id, role: 'operator', subject: 'olga-list', createdAt: expect.any(String), revocable: true },
        { id: runner.body.tokenId, role: 'runner', subject: 'r-list', label: 'runner r-list', scope: ['porto'], createdAt: expect.any(String), revocable: true },
      ]),
    );
    const text = JSON.stringify(list.body);
    for (const secret of [ADMIN, manager.body.token, operator.body.token, runner.body.token]) {
      expect(text.includes(secret)).toBe(false);
      expect(text.includes(sha256(secret))).toBe(false);
    }
    // Only the admin lists or revokes tokens.
    expect((await t.call('/api/tokens', { token: operator.body.token })).status).toBe(403);
    expect((await t.call(`/api/tokens/${manager.body.id}`, { method: 'DELETE', token: operator.body.token })).status).toBe(403);
  });

  it('revokes manager and operator tokens: 204, audited, 401 from then on; unknown ids 404, malformed 400, the admin token 409', async () => {
    const manager = await t.call('/api/tokens', { method: 'POST', json: { role: 'manager', subject: 'ana' } });
    const operator = await t.call('/api/tokens', { method: 'POST', json: { role: 'operator', subject: 'olga-revoke' } });
    expect((await t.call('/api/approvals', { token: manager.body.token })).status).toBe(200);
    expect((await t.call('/api/approvals', { token: operator.body.token })).status).toBe(200);

    for (const issued of [manager.body, operator.body]) {
      expect((await t.call(`/api/tokens/${issued.id}`, { method: 'DELETE' })).status).toBe(204);
      expect((await t.call('/api/approvals', { token: issued.token })).status).toBe(401);
      const again = await t.call(`/api/tokens/${issued.id}`, { method: 'DELETE' });
      expect([again.status, again.body.error.code]).toEqual([404, 'not_found']);
    }
    const audited = await t.running.store.auditEvents.find({ where: { type: 'token.revoked' } });
    expect(audited.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        { tokenId: manager.body.id, role: 'manager', subject: 'ana' },
        { tokenId: operator.body.id, role: 'operator', subject: 'olga-revoke' },
      ]),
    );
    expect(audited.every((e) => e.actor === 'admin')).toBe(true);
    expect((await t.call('/api/tokens')).body.tokens.map((x: { id: string }) => x.id)).not.toEqual(expect.arrayContaining([manager.body.id]));

    expect((await t.call('/api/tokens/0123456789ab', { method: 'DELETE' })).status).toBe(404);
    const malformed = await t.call(`/api/tokens/${sha256(manager.body.token)}`, { method: 'DELETE' });
    expect([malformed.status, malformed.body.error.details.issues[0].path]).toEqual([400, 'id']);
    const admin = await t.call(`/api/tokens/${sha256(ADMIN).slice(0, 12)}`, { method: 'DELETE' });
    expect(admin.status).toBe(409);
    expect(admin.body.error.message).toMatch(/ADMIN_TOKEN/);
    expect((await t.call('/api/tokens')).status).toBe(200);
  });

  it("revoking a runner's token closes its live connection at once, and it cannot connect again", async () => {
    const runner = await t.call('/api/runners', { method: 'POST', json: { name: 'r-porto', branches: ['porto'] } });
    const socket = runnerSocket(t.url, runner.body.token);
    sockets.push(socket);
    await connected(socket);
    expect(await socket.emitWithAck('register', { runner: 'r-porto', agents: ['porto-tg'] })).toEqual({ ok: true, value: { accepted: ['porto-tg'] } });
    const closed = closedByServer(socket);

    expect((await t.call(`/api/tokens/${runner.body.tokenId}`, { method: 'DELETE' })).status).toBe(204);
    expect(await closed).toBe('io server disconnect');
    await until('the closing logged', () => t.logs.find((l) => /closing the connection of runner r-porto: its token no longer authenticates/.test(String(l.message))));
    const retry = runnerSocket(t.url, runner.body.token);
    sockets.push(retry);
    await expect(connected(retry)).rejects.toThrow();
  });

  it("removing an agent closes its socket: it receives no more approval pushes", async () => {
    const created = await t.call('/api/agents', { method: 'POST', json: { id: 'refunds-gone', branchId: 'lisboa' } });
    expect(created.status).toBe(201);
    const socket = runnerSocket(t.url, created.body.token);
    sockets.push(socket);
    await connected(socket);
    const closed = closedByServer(socket);
    expect((await t.call('/api/agents/refunds-gone', { method: 'DELETE' })).status).toBe(204);
    expect(await closed).toBe('io server disconnect');
  });

  it("revoking an agent's token over /api/tokens closes its socket too", async () => {
    const created = await t.call('/api/agents', { method: 'POST', json: { id: 'refunds-revoked', branchId: 'lisboa' } });
    const listed = (await t.call('/api/tokens')).body.tokens.find((x: { subject: string }) => x.subject === 'refunds-revoked');
    expect(listed).toMatchObject({ role: 'agent', id: sha256(created.body.token).slice(0, 12) });
    const socket = runnerSocket(t.url, created.body.token);
    sockets.push(socket);
    await connected(socket);
    const closed = closedByServer(socket);
    expect((await t.call(`/api/tokens/${listed.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await closed).toBe('io server disconnect');
    expect((await t.call('/api/approvals', { token: created.body.token })).status).toBe(401);
  });
});

describe('the /agents gateway re-checks every connection’s token periodically', () => {
  let server: Server;
  let gateway: RunnerGateway;
  let store: Store;
  let url = '';
  const dir = tempDir();
  const { logger, entries } = memoryLogger();
  const sockets: Socket[] = [];

  beforeAll(async () => {
    store = await openStore({ dataDir: dir.path, logger, clock: systemClock });
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = coordinatorConfigSchema.parse({ branches: [{ id: 'lisboa', name: 'Lisboa' }] });
    gateway = attachRunnerGateway({ server, hosts: new AgentHosts(), authenticate: createAuthenticator(store, sha256(ADMIN)), config: () => config, logger, recheckIntervalMs: 200 });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await gateway.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    dir.cleanup();
  });

  it('a token deleted from the store by anyone (another replica, a script) loses its connection within the interval; a valid one keeps it', async () => {
    const now = new Date().toISOString();
    await store.apiTokens.insert({ id: sha256('agent-token-kept-000000001'), role: 'agent', subject: 'kept', createdAt: now });
    await store.apiTokens.insert({ id: sha256('agent-token-gone-000000001'), role: 'agent', subject: 'gone', createdAt: now });
    const kept = runnerSocket(url, 'agent-token-kept-000000001');
    const gone = runnerSocket(url, 'agent-token-gone-000000001');
    sockets.push(kept, gone);
    await Promise.all([connected(kept), connected(gone)]);
    const closed = closedByServer(gone);
    await store.apiTokens.delete(sha256('agent-token-gone-000000001'));
    expect(await closed).toBe('io server disconnect');
    expect(entries.some((e) => /closing the connection of agent gone/.test(String(e.message)))).toBe(true);
    // The valid connection went through the same pass (and the ones after it) and is still open.
    await until('another periodic pass', async () => (gateway.stats().closed.revoked === 1 && (await gateway.recheck()) === 0 ? true : null));
    expect(kept.connected).toBe(true);
    expect(gateway.stats().closed).toEqual({ revoked: 1, flood: 0 });
  });
});
