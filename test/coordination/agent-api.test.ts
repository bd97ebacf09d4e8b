import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fakeChannels } from '../helpers/fake-channel.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    agents:
      - { id: lis-tg, channel: telegram, token: t }
  - id: porto
    name: Porto
`;

describe('agents API', () => {
  let t: TestCoordinator;
  const clock = new ManualClock();
  let token = '';
  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, clock, channels: fakeChannels().registry, health: { retryIntervalMs: 10_000, retries: 2 } });
    await clock.advance(0);
  });
  afterAll(async () => {
    await t.close();
  });

  it('registers an action agent and returns a one-time token, stored only hashed', async () => {
    const res = await t.call('/api/agents', { method: 'POST', json: { id: 'refund-bot', branchId: 'lisboa', name: 'Refund assistant' } });
    expect(res.status).toBe(201);
    expect(res.body.agent).toMatchObject({ id: 'refund-bot', branchId: 'lisboa', kind: 'action', status: 'pending', source: 'api' });
    expect(res.body.agent.callbackSecret).toBeUndefined();
    expect(res.body.token).toMatch(/^agt_/);
    expect(res.body.callbackSecret).toMatch(/^[0-9a-f]{64}$/);
    token = res.body.token;
    expect(JSON.stringify(await t.running.store.apiTokens.find())).not.toContain(token);
  });

  it('refuses bad registrations with clear errors and stores nothing', async () => {
    const before = await t.running.store.agents.count();
    const cases: Array<[unknown, number, string, RegExp]> = [
      [{ branchId: 'nowhere' }, 400, 'branchId', /unknown branch 'nowhere' \(known: lisboa, porto\)/],
      [{ id: 'refund-bot', branchId: 'lisboa' }, 409, '', /already exists/],
      [{ branchId: 'lisboa', kind: 'bot' }, 400, 'channel', /needs its channel/],
      [{ branchId: 'lisboa', kind: 'bot', channel: 'fax' }, 400, 'channel', /telegram, slack, whatsapp/],
      [{ branchId: 'lisboa', dependsOn: ['ghost'] }, 400, 'dependsOn', /unknown agent 'ghost'/],
      [{ branchId: 'lisboa', id: 'Bad Id' }, 400, 'id', /lowercase/],
      [{ branchId: 'lisboa', healthUrl: 'ftp://x' }, 400, 'healthUrl', /http\(s\) URL/],
      [{ branchId: 'lisboa', extra: 1 }, 400, '', /extra/],
    ];
    for (const [body, status, path, message] of cases) {
      const res = await t.call('/api/agents', { method: 'POST', json: body });
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), status]);
      if (status === 400) {
        const issue = res.body.error.details.issues.find((i: { path: string }) => i.path === path) ?? res.body.error.details.issues[0];
        expect(issue.message + issue.path).toMatch(message);
      } else {
        expect(res.body.error.message).toMatch(message);
      }
    }
    expect(await t.running.store.agents.count()).toBe(before);
  });

  it('needs the admin token to register', async () => {
    const res = await t.call('/api/agents', { method: 'POST', token, json: { branchId: 'lisboa' } });
    expect(res.status).toBe(403);
  });

  it('heartbeats bring an action agent up; silence takes it down after the retries', async () => {
    const hb = await t.call('/api/agents/refund-bot/heartbeat', { method: 'POST', token });
    expect(hb.status).toBe(200);
    expect(hb.body.status).toBe('up');
    await clock.advance(60_000);
    expect((await t.running.store.agents.get('refund-bot'))?.status).toBe('up');
    await clock.advance(30_000);
    expect((await t.running.store.agents.get('refund-bot'))?.status).toBe('pending');
    await clock.advance(20_000);
    const down = await t.running.store.agents.get('refund-bot');
    expect(down?.status).toBe('down');
    expect(down?.statusReason).toMatch(/last heartbeat \d+s ago \(limit 60s\)/);
    expect((await t.call('/api/agents/refund-bot/heartbeat', { method: 'POST', token })).body.status).toBe('up');
  });

  it("refuses another agent's heartbeat", async () => {
    const other = await t.call('/api/agents', { method: 'POST', json: { id: 'promo-bot', branchId: 'porto' } });
    const res = await t.call('/api/agents/refund-bot/heartbeat', { method: 'POST', token: other.body.token });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/Only agent 'refund-bot' itself/);
  });

  it('lists with filters and shows one agent with its recent checks and 24 h uptime', async () => {
    const list = await t.call('/api/agents?branchId=lisboa');
    expect(list.body.agents.map((a: { id: string }) => a.id)).toEqual(['lis-tg', 'refund-bot']);
    expect((await t.call('/api/agents?status=sleepy')).status).toBe(400);
    const one = await t.call('/api/agents/refund-bot', { token });
    expect(one.status).toBe(200);
    expect(one.body.uptime24h.checks).toBeGreaterThanOrEqual(5);
    expect(one.body.uptime24h.percent).toBeGreaterThan(0);
    expect(one.body.uptime24h.percent).toBeLessThan(100);
    expect(one.body.recentChecks[0]).toMatchObject({ ok: expect.any(Boolean), at: expect.any(String) });
    expect((await t.call('/api/agents/nope')).status).toBe(404);
  });

  it('restarts a bot agent on request (audited) and refuses to restart an action agent', async () => {
    const res = await t.call('/api/agents/lis-tg/restart', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.body.agent.status).toBe('up');
    const audit = await t.running.store.auditEvents.find({ where: { type: 'agent.restart', agentId: 'lis-tg' } });
    expect(audit).toHaveLength(1);
    expect((await t.call('/api/agents/refund-bot/restart', { method: 'POST' })).status).toBe(409);
  });

  it('deletes API agents (revoking their token) but not the ones from the config file', async () => {
    const config = await t.call('/api/agents/lis-tg', { method: 'DELETE' });
    expect(config.status).toBe(409);
    expect(config.body.error.message).toMatch(/defined in the coordinator config file/);
    const res = await t.call('/api/agents/refund-bot', { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect((await t.call('/api/agents/refund-bot')).status).toBe(404);
    expect((await t.call('/coordination/status', { token })).status).toBe(401);
  });
});
