import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sha256 } from '../../src/core/ids.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const YAML = `
business: { name: Câmbio Teste }
branches:
  - id: lisboa
    name: Lisboa Centro
    timezone: Europe/Lisbon
    managers: [{ id: ana, name: Ana, role: owner, telegram: 1001, whatsapp: "+351910000001" }]
    agents:
      - { id: lisboa-telegram, channel: telegram, token: "\${LISBOA_TOKEN}" }
      - { id: lisboa-whatsapp, channel: whatsapp, waWebSocketUrl: "ws://127.0.0.1:9" }
  - id: porto
    name: Porto
    agents:
      - { id: porto-slack, channel: slack, botToken: xoxb-1-2-secretvalue, signingSecret: topsecret }
`;

describe('REST core', () => {
  let t: TestCoordinator;
  const operatorToken = 'operator-token-for-tests-123';
  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, env: { LISBOA_TOKEN: '' } });
    await t.running.store.apiTokens.insert({ id: sha256(operatorToken), role: 'operator', subject: 'olga', createdAt: new Date().toISOString() });
  });
  afterAll(async () => {
    await t.close();
  });

  it('GET /health answers without a token', async () => {
    const res = await t.call('/health', { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', version: '0.1.0' });
  });

  it('GET /ready reports the store without a token', async () => {
    const res = await t.call('/ready', { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ready: true, storage: { backend: 'file', fallback: false, pendingSync: 0 } });
  });

  it('refuses a missing or wrong token with 401 and the error shape', async () => {
    const missing = await t.call('/coordination/status', { token: null });
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ error: { code: 'unauthorized', message: expect.stringMatching(/Authorization: Bearer/) } });
    const wrong = await t.call('/coordination/status', { token: 'nope-nope-nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthorized');
  });

  it('refuses a non-admin token on an admin route with 403, and changes nothing', async () => {
    const res = await t.call('/config', { method: 'PATCH', token: operatorToken, json: { logLevel: 'debug' } });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/admin/) });
    expect((await t.call('/config')).body.overrides).toEqual({});
  });

  it('GET /coordination/status lists branches with their agents, statuses and totals', async () => {
    // The WhatsApp bot points at a closed loopback port: it cannot connect, and the status says why.
    const res = await until('the WhatsApp agent reported disconnected', async () => {
      const status = await t.call('/coordination/status', { token: operatorToken });
      return /disconnected/.test(status.body.branches[0].agents[1].reason ?? '') ? status : null;
    });
    expect(res.status).toBe(200);
    expect(res.body.business).toBe('Câmbio Teste');
    const lisboa = res.body.branches.find((b: { id: string }) => b.id === 'lisboa');
    expect(lisboa.agents.map((a: { id: string }) => a.id)).toEqual(['lisboa-telegram', 'lisboa-whatsapp']);
    expect(lisboa.agents[0]).toMatchObject({ status: 'down', reason: expect.stringMatching(/missing credentials: set LISBOA_TOKEN/) });
    expect(lisboa.agents[1]).toMatchObject({ status: expect.stringMatching(/^(pending|down)$/), channel: 'whatsapp', reason: expect.stringMatching(/^disconnected: .*reconnecting$/) });
    expect(res.body.totals.total).toBe(3);
  });

  it('GET /config never returns a secret', async () => {
    const res = await t.call('/config', { token: operatorToken });
    expect(res.status).toBe(200);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('xoxb-1-2-secretvalue');
    expect(text).not.toContain('topsecret');
    expect(text).not.toContain('910000001');
    expect(text).not.toContain('test-admin-token');
    expect(res.body.branches[1].agents[0]).toMatchObject({ botToken: '[redacted]', signingSecret: '[redacted]' });
    expect(res.body).toMatchObject({ server: { host: '127.0.0.1' }, storage: { mongodb: 'not configured' }, healthIntervalMs: 30000 });
  });

  it('PATCH /config validates with field paths, and an invalid patch changes nothing', async () => {
    const res = await t.call('/config', { method: 'PATCH', json: { logLevel: 'loud', healthIntervalMs: 5, branches: { nowhere: { autonomy: 'autonomous' }, lisboa: { autonomy: 'yolo' } }, color: 'red' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const paths = res.body.error.details.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['logLevel', 'healthIntervalMs', 'branches.lisboa.autonomy']));
    expect(JSON.stringify(res.body.error.details.issues)).toMatch(/color/);
    const unknownBranch = await t.call('/config', { method: 'PATCH', json: { branches: { nowhere: { autonomy: 'autonomous' } } } });
    expect(unknownBranch.status).toBe(400);
    expect(unknownBranch.body.error.details.issues[0]).toEqual({ path: 'branches.nowhere', message: expect.stringMatching(/unknown branch 'nowhere'/) });
    expect((await t.call('/config')).body.overrides).toEqual({});
  });

  it('PATCH /config applies, persists, and survives a restart; null removes an override', async () => {
    const res = await t.call('/config', { method: 'PATCH', json: { healthIntervalMs: 15000, branches: { lisboa: { autonomy: 'autonomous' } } } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ healthIntervalMs: 15000, overrides: { healthIntervalMs: 15000, branches: { lisboa: { autonomy: 'autonomous' } } } });
    expect(res.body.branches[0].autonomy).toBe('autonomous');
    await t.restart();
    const after = await t.call('/config');
    expect(after.body.healthIntervalMs).toBe(15000);
    expect(after.body.branches[0].autonomy).toBe('autonomous');
    const status = await t.call('/coordination/status');
    expect(status.body.branches[0].autonomy).toBe('autonomous');
    const removed = await t.call('/config', { method: 'PATCH', json: { healthIntervalMs: null } });
    expect(removed.body.healthIntervalMs).toBe(30000);
    expect(removed.body.overrides).toEqual({ branches: { lisboa: { autonomy: 'autonomous' } } });
  });

  it('answers unknown routes with 404, bad JSON with 400, and oversized bodies with 413 — all in the error shape', async () => {
    const notFound = await t.call('/api/nothing-here');
    expect(notFound.status).toBe(404);
    expect(notFound.body.error).toMatchObject({ code: 'not_found', message: 'No route for GET /api/nothing-here' });
    const badJson = await t.call('/config', { method: 'PATCH', body: '{"logLevel":', headers: { 'content-type': 'application/json' } });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('validation_failed');
    const huge = await t.call('/config', { method: 'PATCH', json: { pad: 'x'.repeat(1_100_000) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
  });

  it('echoes x-request-id and logs it on the request line', async () => {
    const res = await t.call('/health', { headers: { 'x-request-id': 'req-abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');
    const line = t.logs.find((e) => e.requestId === 'req-abc-123');
    expect(line).toMatchObject({ level: 'http', module: 'http', status: 200, path: '/health' });
    const generated = await t.call('/health');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves Prometheus metrics to an authenticated scraper', async () => {
    const res = await t.call('/metrics', { token: operatorToken });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    expect(res.body).toMatch(/coordinator_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/);
    expect(res.body).toMatch(/coordinator_agents\{status="down"\} [1-3]/);
    expect(res.body).toMatch(/coordinator_store_fallback 0/);
  });

  it('serves the dashboard page on DASHBOARD_PORT', async () => {
    const res = await fetch(t.running.dashboard.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/Coordinator dashboard/);
  });
});

describe('rate limiting', () => {
  it('answers 429 in the error shape past RATE_LIMIT_PER_MIN', async () => {
    const t = await startTestCoordinator({ env: { RATE_LIMIT_PER_MIN: '3' } });
    try {
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 5; i++) {
        last = await t.call('/coordination/status');
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(last!.body.error).toMatchObject({ code: 'rate_limited' });
      expect(last!.headers.get('retry-after')).toBeTruthy();
      expect((await t.call('/health')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('admin token', () => {
  it('is generated on first start when ADMIN_TOKEN is unset, stored hashed, and kept across restarts', async () => {
    const t = await startTestCoordinator({ env: { ADMIN_TOKEN: '' } });
    try {
      const info = t.running.coordinator.adminToken;
      expect(info.source).toBe('generated');
      expect(info.token).toMatch(/^adm_/);
      const { readFileSync, statSync } = await import('node:fs');
      expect(readFileSync(info.file!, 'utf8').trim()).toBe(info.token);
      expect(statSync(info.file!).mode & 0o777).toBe(0o600);
      const stored = await t.running.store.settings.get('auth.adminTokenHash');
      expect(stored?.value).toBe(sha256(info.token!));
      expect(JSON.stringify(await t.running.store.settings.find())).not.toContain(info.token);
      expect((await t.call('/config', { token: info.token })).status).toBe(200);
      await t.restart();
      expect(t.running.coordinator.adminToken).toMatchObject({ source: 'stored' });
      expect(t.running.coordinator.adminToken.token).toBeUndefined();
      expect((await t.call('/config', { token: info.token })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
