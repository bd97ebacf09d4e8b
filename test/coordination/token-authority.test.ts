import { afterEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../../src/core/ids.js';
import { fakeChannels } from '../helpers/fake-channel.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

// Issue 14, items 5, 6, 7, 12 and 14: who may do what with an API token.
const YAML = `
approvals:
  minRole: { high: owner }
  learnAfter: 2
  ttlSec: { high: 7200 }
  teams:
    night-batch: { autonomy: autonomous }
    ops: { autonomy: semi_autonomous, agents: [ops-bot] }
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
      - { id: bruno, name: Bruno, role: manager, telegram: 1002 }
    agents:
      - { id: lis-tg, channel: telegram, token: t }
  - id: porto
    name: Porto
    host: remote
    managers:
      - { id: carla, name: Carla, role: owner, telegram: 2001 }
    agents:
      - { id: porto-tg, channel: telegram, token: t2 }
`;

const T = {
  refunds: 'agent-token-refunds-000001',
  crm: 'agent-token-crm-000000001',
  porto: 'agent-token-porto-00000001',
  runner: 'runner-token-porto-0000001',
  olga: 'operator-token-olga-000001',
  ana: 'manager-token-ana-00000001',
  bruno: 'manager-token-bruno-000001',
  carla: 'manager-token-carla-000001',
};

const open: TestCoordinator[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function setup() {
  const clock = new ManualClock();
  const t = await startTestCoordinator({ yaml: YAML, clock, channels: fakeChannels().registry });
  open.push(t);
  await clock.advance(0);
  const store = t.running.store;
  const now = new Date(clock.now()).toISOString();
  await addRequester(t, 'refunds', 'lisboa', T.refunds);
  await addRequester(t, 'crm', 'lisboa', T.crm);
  await addRequester(t, 'porto-agent', 'porto', T.porto);
  await store.apiTokens.insert({ id: sha256(T.runner), role: 'runner', subject: 'r-porto', scope: ['porto'], createdAt: now });
  await store.apiTokens.insert({ id: sha256(T.olga), role: 'operator', subject: 'olga', createdAt: now });
  for (const m of ['ana', 'bruno', 'carla'] as const) await store.apiTokens.insert({ id: sha256(T[m]), role: 'manager', subject: m, createdAt: now });
  const request = (token: string, json: Record<string, unknown>) => t.call('/api/approvals', { method: 'POST', token, json: { branchId: 'lisboa', summary: 'Do it', ...json } });
  return { t, store, request };
}

describe('item 5: teams are assigned by the admin, never chosen by the request', () => {
  it('refuses (403, audited) a request naming a team its agent is not in; nothing is auto-approved', async () => {
    const { t, store, request } = await setup();
    const res = await request(T.refunds, { actionType: 'email.campaign', teamId: 'night-batch' });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/in no team; teams are assigned by an admin/) });
    expect(await store.approvals.count()).toBe(0);
    expect(await store.auditEvents.find({ where: { type: 'approval.refused', actor: 'refunds' } })).toEqual([
      expect.objectContaining({ branchId: 'lisboa', data: expect.objectContaining({ teamId: 'night-batch', assigned: null }) }),
    ]);
    // An unassigned agent's high-risk request waits for a person.
    expect((await request(T.refunds, { actionType: 'email.campaign' })).body.approval).toMatchObject({ status: 'pending', autonomy: 'supervised' });
    expect(t.logs.length).toBeGreaterThan(0);
  });

  it('applies the team the admin assigns (PATCH or POST /api/agents, or the config); a matching teamId is a no-op, another is 403', async () => {
    const { t, request } = await setup();
    const byOperator = await t.call('/api/agents/refunds', { method: 'PATCH', token: T.olga, json: { teamId: 'night-batch' } });
    expect(byOperator.status).toBe(403);
    const bySelf = await t.call('/api/agents/refunds', { method: 'PATCH', token: T.refunds, json: { teamId: 'night-batch' } });
    expect(bySelf.status).toBe(403);
    const patched = await t.call('/api/agents/refunds', { method: 'PATCH', json: { teamId: 'night-batch' } });
    expect(patched.status).toBe(200);
    expect(patched.body.agent).toMatchObject({ id: 'refunds', teamId: 'night-batch' });
    expect(await t.running.store.auditEvents.find({ where: { type: 'agent.team-assigned' } })).toEqual([expect.objectContaining({ actor: 'admin', agentId: 'refunds', data: { from: null, to: 'night-batch' } })]);

    expect((await request(T.refunds, { actionType: 'email.campaign' })).body.approval).toMatchObject({ status: 'approved', teamId: 'night-batch', autonomy: 'autonomous' });
    expect((await request(T.refunds, { actionType: 'email.campaign', teamId: 'night-batch' })).body.approval).toMatchObject({ status: 'approved', teamId: 'night-batch' });
    expect((await request(T.refunds, { actionType: 'email.campaign', teamId: 'ops' })).status).toBe(403);

    // Unknown team: 400; a config assignment cannot be overridden through the API: 409; null clears.
    expect((await t.call('/api/agents/refunds', { method: 'PATCH', json: { teamId: 'ghost' } })).body.error.details.issues[0]).toMatchObject({ path: 'teamId', message: expect.stringMatching(/unknown team 'ghost'/) });
    const registered = await t.call('/api/agents', { method: 'POST', json: { id: 'ops-bot', branchId: 'lisboa' } });
    expect(registered.status).toBe(201);
    const conflict = await t.call('/api/agents/ops-bot', { method: 'PATCH', json: { teamId: 'night-batch' } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.message).toMatch(/in team 'ops' by the config file/);
    expect((await request(registered.body.token, { actionType: 'status.check' })).body.approval).toMatchObject({ status: 'approved', teamId: 'ops', autonomy: 'semi_autonomous' });
    expect((await t.call('/api/agents/refunds', { method: 'PATCH', json: { teamId: null } })).body.agent.teamId).toBeUndefined();
    expect((await request(T.refunds, { actionType: 'email.campaign' })).body.approval).toMatchObject({ status: 'pending', autonomy: 'supervised' });

    const withTeam = await t.call('/api/agents', { method: 'POST', json: { id: 'batch', branchId: 'lisboa', teamId: 'night-batch' } });
    expect(withTeam.body.agent.teamId).toBe('night-batch');
    expect((await request(withTeam.body.token, { actionType: 'email.campaign' })).body.approval.status).toBe('approved');
  });
});

describe('item 6: learned rules need decision-level authority at their branch', () => {
  async function suggested() {
    const s = await setup();
    for (let i = 0; i < 2; i++) {
      const { body } = await s.request(T.refunds, { actionType: 'crm.update' });
      expect((await s.t.call(`/api/approvals/${body.approval.id}/decision`, { method: 'POST', token: T.ana, json: { decision: 'approve' } })).status).toBe(200);
    }
    expect((await s.t.call('/api/approvals/rules')).body.rules).toEqual([expect.objectContaining({ id: 'lisboa.crm.update', status: 'suggested' })]);
    return s;
  }

  it('refuses an operator, an agent and a manager who may not decide every learnable risk there (403, audited); another branch sees no rule (404)', async () => {
    const { t, store, request } = await suggested();
    for (const token of [T.olga, T.bruno, T.refunds]) {
      const res = await t.call('/api/approvals/rules/lisboa.crm.update/accept', { method: 'POST', token });
      expect([token, res.status, res.body.error.code]).toEqual([token, 403, 'forbidden']);
    }
    expect((await t.call('/api/approvals/rules/lisboa.crm.update/accept', { method: 'POST', token: T.carla })).status).toBe(404);
    expect((await t.call('/api/approvals/rules', { token: T.carla })).body.rules).toEqual([]);
    expect((await store.auditEvents.find({ where: { type: 'approval.rule-refused' } })).map((e) => e.actor)).toEqual(['olga', 'bruno', 'refunds']);
    // Still a suggestion: the next request waits for a person.
    expect((await t.call('/api/approvals/rules', { token: T.olga })).body.rules[0].status).toBe('suggested');
    expect((await request(T.refunds, { actionType: 'crm.update' })).body.approval.status).toBe('pending');
  });

  it('lets the owner (and the admin) accept and revoke; revoking needs the same authority', async () => {
    const { t, request } = await suggested();
    const accepted = await t.call('/api/approvals/rules/lisboa.crm.update/accept', { method: 'POST', token: T.ana });
    expect(accepted.status).toBe(200);
    expect(accepted.body.rule).toMatchObject({ status: 'active', decidedBy: 'ana' });
    expect((await request(T.refunds, { actionType: 'crm.update' })).body.approval).toMatchObject({ status: 'approved', decision: { by: 'policy', rule: expect.stringMatching(/accepted by ana/) } });
    expect((await t.call('/api/approvals/rules/lisboa.crm.update/revoke', { method: 'POST', token: T.olga })).status).toBe(403);
    expect((await t.call('/api/approvals/rules/lisboa.crm.update/revoke', { method: 'POST' })).body.rule.status).toBe('revoked');
  });
});

describe('item 7: every read is kept to the token’s branches', () => {
  async function seeded() {
    const s = await setup();
    const porto = (await s.request(T.porto, { branchId: 'porto', actionType: 'refund', details: { iban: 'PT50 secret' }, callbackUrl: 'http://agent.example/hook' })).body.approval;
    const crm = (await s.t.call('/api/approvals', { method: 'POST', token: T.crm, json: { branchId: 'lisboa', actionType: 'crm.update', summary: 'CRM' }, headers: { 'idempotency-key': 'crm-key-1' } })).body.approval;
    const own = (await s.request(T.refunds, { actionType: 'refund' })).body.approval;
    return { ...s, porto, crm, own };
  }

  it("an agent sees only its own requests: another branch's or another agent's answer 404, by id, code, long-poll, cancel and result", async () => {
    const { t, store, porto, crm, own } = await seeded();
    // The prompts (sent after the requests were answered) are out, so only the refused calls below could change anything.
    await t.running.coordinator.prompts.idle();
    const before = JSON.stringify(await store.approvals.find({ orderBy: { field: 'id' } }));
    expect((await t.call('/api/approvals?branchId=porto', { token: T.refunds })).status).toBe(404);
    const list = await t.call('/api/approvals', { token: T.refunds });
    expect(list.body.approvals.map((a: { id: string }) => a.id)).toEqual([own.id]);
    expect(list.body.total).toBe(1);
    for (const path of [`/api/approvals/${porto.id}`, `/api/approvals/${porto.code}`, `/api/approvals/${porto.id}?waitSec=30`, `/api/approvals/${crm.id}`]) {
      const res = await t.call(path, { token: T.refunds });
      expect([path, res.status, res.body.error?.code]).toEqual([path, 404, 'not_found']);
      expect(JSON.stringify(res.body)).not.toMatch(/PT50|agent\.example|porto-agent/);
    }
    expect((await t.call(`/api/approvals/${porto.id}/cancel`, { method: 'POST', token: T.refunds })).status).toBe(404);
    expect((await t.call(`/api/approvals/${crm.id}/result`, { method: 'POST', token: T.refunds, json: { success: true } })).status).toBe(404);
    expect(JSON.stringify(await store.approvals.find({ orderBy: { field: 'id' } }))).toBe(before);
    // Its own request: where the prompts went by channel, never the managers' chat ids.
    await t.running.coordinator.prompts.idle();
    const mine = await t.call(`/api/approvals/${own.code}`, { token: T.refunds });
    expect(mine.status).toBe(200);
    expect(mine.body.approval.deliveries.length).toBeGreaterThan(0);
    expect(JSON.stringify(mine.body.approval.deliveries)).not.toMatch(/chatId|managerId|messageId|1001/);
  });

  it('a runner and a manager see their branches only; a runner sees no callback URL, key or chat ids; operators see all', async () => {
    const { t, porto, crm, own } = await seeded();
    const runner = await t.call('/api/approvals', { token: T.runner });
    expect(runner.body.approvals.map((a: { id: string }) => a.id)).toEqual([porto.id]);
    expect(JSON.stringify(runner.body)).not.toMatch(/agent\.example|chatId|idempotencyKey/);
    expect((await t.call(`/api/approvals/${own.id}`, { token: T.runner })).status).toBe(404);
    const carla = await t.call('/api/approvals', { token: T.carla });
    expect(carla.body.approvals.map((a: { id: string }) => a.id)).toEqual([porto.id]);
    expect((await t.call('/api/approvals?branchId=lisboa', { token: T.carla })).status).toBe(404);
    expect((await t.call(`/api/approvals/${crm.id}`, { token: T.carla })).status).toBe(404);
    const ana = await t.call('/api/approvals', { token: T.ana });
    expect(ana.body.approvals.map((a: { id: string }) => a.id).sort()).toEqual([crm.id, own.id].sort());
    const olga = await t.call('/api/approvals', { token: T.olga });
    expect(olga.body.total).toBe(3);
    expect((await t.call(`/api/approvals/${crm.id}`, { token: T.olga })).body.approval.idempotencyKey).toBe('crm-key-1');
  });

  it('agents, agent details and the coordination status are kept to the branch too', async () => {
    const { t } = await setup();
    const ids = async (token: string, path = '/api/agents') => (await t.call(path, { token })).body.agents.map((a: { id: string }) => a.id);
    expect(await ids(T.refunds)).toEqual(['crm', 'lis-tg', 'refunds']);
    expect(await ids(T.runner)).toEqual(['porto-agent', 'porto-tg']);
    expect(await ids(T.carla)).toEqual(['porto-agent', 'porto-tg']);
    expect((await ids(T.olga)).length).toBe(5);
    expect((await t.call('/api/agents?branchId=porto', { token: T.refunds })).status).toBe(404);
    expect((await t.call('/api/agents/porto-tg', { token: T.refunds })).status).toBe(404);
    expect((await t.call('/api/agents/lis-tg', { token: T.runner })).status).toBe(404);
    expect((await t.call('/api/agents/lis-tg', { token: T.refunds })).status).toBe(200);
    const status = await t.call('/coordination/status', { token: T.porto });
    expect(status.body.branches.map((b: { id: string }) => b.id)).toEqual(['porto']);
    expect(status.body.totals.total).toBe(2);
    expect((await t.call('/coordination/status', { token: T.olga })).body.branches.map((b: { id: string }) => b.id)).toEqual(['lisboa', 'porto']);
  });
});

describe('item 12: agent ids are never reserved names, someone else’s, or reused', () => {
  it('refuses reserved ids, managers’ and config agents’ ids, and a removed agent’s id; the old token stays dead', async () => {
    const { t, store } = await setup();
    const before = await store.agents.count();
    for (const id of ['admin', 'policy', 'system', 'coordinator', 'dashboard']) {
      const res = await t.call('/api/agents', { method: 'POST', json: { id, branchId: 'lisboa' } });
      expect([id, res.status, res.body.error.details?.issues?.[0]?.path]).toEqual([id, 400, 'id']);
    }
    for (const [id, message] of [
      ['ana', /a manager of branch 'lisboa'/],
      ['lis-tg', /already exists/],
      ['olga', /subject of a operator token/],
    ] as const) {
      const res = await t.call('/api/agents', { method: 'POST', json: { id, branchId: 'lisboa' } });
      expect([id, res.status]).toEqual([id, 409]);
      expect(res.body.error.message).toMatch(message);
    }
    expect(await store.agents.count()).toBe(before);

    const first = await t.call('/api/agents', { method: 'POST', json: { id: 'temp', branchId: 'lisboa' } });
    expect((await t.call('/api/agents/temp', { method: 'DELETE' })).status).toBe(204);
    const again = await t.call('/api/agents', { method: 'POST', json: { id: 'temp', branchId: 'lisboa' } });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/removed at .*never reused/);
    expect((await t.call('/api/approvals', { token: first.body.token })).status).toBe(401);
  });

  it('refuses reserved or taken subjects for operator and runner tokens', async () => {
    const { t } = await setup();
    expect((await t.call('/api/tokens', { method: 'POST', json: { role: 'operator', subject: 'admin' } })).body.error.details.issues[0].path).toBe('subject');
    expect((await t.call('/api/tokens', { method: 'POST', json: { role: 'operator', subject: 'refunds' } })).status).toBe(409);
    expect((await t.call('/api/tokens', { method: 'POST', json: { role: 'operator', subject: 'olga' } })).status).toBe(201);
    expect((await t.call('/api/runners', { method: 'POST', json: { name: 'system', branches: ['porto'] } })).status).toBe(400);
    expect((await t.call('/api/runners', { method: 'POST', json: { name: 'carla', branches: ['porto'] } })).status).toBe(409);
  });

  it('a config agent taken out of the file leaves a tombstone; a config agent may not take an API agent’s id', async () => {
    const { t } = await setup();
    writeFileSync(join(t.dir, 'coordinator.yaml'), YAML.replace('    agents:\n      - { id: porto-tg, channel: telegram, token: t2 }\n', '    agents: []\n'));
    await t.restart();
    expect((await t.call('/api/agents/porto-tg')).status).toBe(404);
    expect((await t.call('/api/agents', { method: 'POST', json: { id: 'porto-tg', branchId: 'porto' } })).body.error.message).toMatch(/never reused/);
    writeFileSync(join(t.dir, 'coordinator.yaml'), YAML.replace('{ id: lis-tg,', '{ id: refunds,'));
    await expect(t.restart()).rejects.toThrow(/'refunds' is the id of an agent registered with POST \/api\/agents/);
    // The failed boot left the stopped instance in place: boot again on a good file so the cleanup has one to stop.
    writeFileSync(join(t.dir, 'coordinator.yaml'), YAML);
    const stopped = t.running;
    stopped.stop = async () => undefined;
    await t.restart();
  });
});

describe('item 14: expiresInSec is capped at the policy TTL', () => {
  it('answers 400 naming the maximum above the TTL of the risk, and accepts up to it', async () => {
    const { request, store } = await setup();
    const month = await request(T.refunds, { actionType: 'refund', expiresInSec: 30 * 86_400 });
    expect(month.status).toBe(400);
    expect(month.body.error.details.issues).toEqual([{ path: 'expiresInSec', message: expect.stringMatching(/at most 3600 seconds: the policy's time to live for critical risk/) }]);
    expect((await request(T.refunds, { actionType: 'email.campaign', expiresInSec: 7201 })).body.error.details.issues[0].message).toMatch(/at most 7200 seconds.*high risk \(approvals\.ttlSec\.high\)/);
    expect(await store.approvals.count()).toBe(0);
    expect((await request(T.refunds, { actionType: 'refund', expiresInSec: 3600 })).status).toBe(201);
    expect((await request(T.refunds, { actionType: 'email.campaign', expiresInSec: 7200 })).status).toBe(201);
  });
});

describe('item 10 at request time: callback and health URLs to internal addresses are a 400', () => {
  it('refuses callbackUrl and healthUrl to metadata, private or non-allow-listed loopback addresses, naming the field; nothing is stored', async () => {
    const { t, store, request } = await setup();
    const agents = await store.agents.count();
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/hook', 'http://127.0.0.2:6379/', 'http://[::1]:3000/api']) {
      const res = await request(T.refunds, { actionType: 'refund', callbackUrl: url });
      expect([url, res.status, res.body.error.details?.issues?.[0]?.path]).toEqual([url, 400, 'callbackUrl']);
      expect(res.body.error.details.issues[0].message).toMatch(/refused|WEBHOOK_ALLOWLIST/);
      const agent = await t.call('/api/agents', { method: 'POST', json: { branchId: 'lisboa', healthUrl: url } });
      expect([url, agent.status, agent.body.error.details?.issues?.[0]?.path]).toEqual([url, 400, 'healthUrl']);
    }
    expect(await store.approvals.count()).toBe(0);
    expect(await store.agents.count()).toBe(agents);
    // The test coordinator allow-lists 127.0.0.1 (WEBHOOK_ALLOWLIST), as a LAN deployment would its agents.
    expect((await request(T.refunds, { actionType: 'refund', callbackUrl: 'http://127.0.0.1:9/hook' })).status).toBe(201);
  });
});
