import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sha256 } from '../../src/core/ids.js';
import { fakeChannels } from '../helpers/fake-channel.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

// Red-team findings C and D on issue 14: deciding another branch's approval answered 403 (audited)
// where an unknown id answers 404, so a manager token could probe which ids and codes exist and fill
// the audit log; and GET /api/agents showed healthUrl (which may carry credentials) to every token.
const YAML = `
approvals:
  minRole: { high: owner, critical: owner }
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
  refunds: 'agent-token-refunds-scope01',
  porto: 'agent-token-porto-scope001',
  runner: 'runner-token-porto-scope01',
  olga: 'operator-token-olga-scope1',
  ana: 'manager-token-ana-scope001',
  bruno: 'manager-token-bruno-scope1',
  carla: 'manager-token-carla-scope1',
};

describe('deciding outside what the token may see answers as an unknown id (404, not audited)', () => {
  let t: TestCoordinator;
  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, channels: fakeChannels().registry });
    const store = t.running.store;
    const now = new Date().toISOString();
    await addRequester(t, 'refunds', 'lisboa', T.refunds);
    await addRequester(t, 'porto-agent', 'porto', T.porto);
    await store.apiTokens.insert({ id: sha256(T.runner), role: 'runner', subject: 'r-porto', scope: ['porto'], createdAt: now });
    await store.apiTokens.insert({ id: sha256(T.olga), role: 'operator', subject: 'olga', createdAt: now });
    for (const m of ['ana', 'bruno', 'carla'] as const) await store.apiTokens.insert({ id: sha256(T[m]), role: 'manager', subject: m, createdAt: now });
  });
  afterAll(async () => {
    await t.close();
  });

  const refusedAudits = () => t.running.store.auditEvents.count({ type: 'approval.refused' });
  /** What an unknown id or code answers, with `asked` in its place. */
  const unknown = (asked: string) => ({ error: { code: 'not_found', message: `Approval '${asked}' was not found`, details: { id: asked } } });

  it("another branch's approval, by id and by code, single and bulk: exactly an unknown id's answer, nothing audited or changed", async () => {
    const lisboa = (await t.call('/api/approvals', { method: 'POST', token: T.refunds, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 40 EUR' } })).body.approval;
    expect(lisboa.status).toBe('pending');
    const audits = await refusedAudits();
    await t.running.coordinator.prompts.idle();
    const before = await t.running.store.approvals.get(lisboa.id);

    for (const asked of [lisboa.id, lisboa.code, lisboa.code.toLowerCase(), 'NOSUCH1', '0123456789abcdef01234567']) {
      for (const decision of ['approve', 'reject']) {
        const res = await t.call(`/api/approvals/${asked}/decision`, { method: 'POST', token: T.carla, json: { decision } });
        expect([asked, res.status, res.body]).toEqual([asked, 404, unknown(asked)]);
      }
    }
    const bulk = await t.call('/api/approvals/bulk', { method: 'POST', token: T.carla, json: { ids: [lisboa.id, lisboa.code, 'NOSUCH1'], decision: 'approve' } });
    expect(bulk.status).toBe(200);
    expect(bulk.body.results).toEqual([lisboa.id, lisboa.code, 'NOSUCH1'].map((id) => ({ id, result: 'error', error: { code: 'not_found', message: `Approval '${id}' was not found` } })));

    expect(await refusedAudits()).toBe(audits);
    expect(await t.running.store.approvals.get(lisboa.id)).toEqual(before);
  });

  it("a manager of the approval's branch whose role is too low still gets 403, audited; the owner decides", async () => {
    const lisboa = (await t.call('/api/approvals', { method: 'POST', token: T.refunds, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 50 EUR' } })).body.approval;
    const audits = await refusedAudits();
    const bruno = await t.call(`/api/approvals/${lisboa.code}/decision`, { method: 'POST', token: T.bruno, json: { decision: 'approve' } });
    expect([bruno.status, bruno.body.error.code]).toEqual([403, 'forbidden']);
    const bulk = await t.call('/api/approvals/bulk', { method: 'POST', token: T.bruno, json: { ids: [lisboa.id], decision: 'approve' } });
    expect(bulk.body.results).toEqual([{ id: lisboa.id, result: 'error', error: { code: 'forbidden', message: expect.any(String) } }]);
    expect(await refusedAudits()).toBe(audits + 2);
    expect(await t.running.store.auditEvents.find({ where: { type: 'approval.refused', approvalId: lisboa.id } })).toEqual([
      expect.objectContaining({ actor: 'manager bruno', data: { reason: 'role manager may not decide critical risk' } }),
      expect.objectContaining({ actor: 'manager bruno' }),
    ]);
    const ana = await t.call(`/api/approvals/${lisboa.id}/decision`, { method: 'POST', token: T.ana, json: { decision: 'reject', reason: 'no' } });
    expect([ana.status, ana.body.approval.status]).toEqual([200, 'rejected']);
  });
});

describe("an agent's healthUrl (it may carry credentials) is shown only to the admin and operators", () => {
  let t: TestCoordinator;
  const HEALTH = 'http://probe:s3cret-pass@127.0.0.1:9/health?key=s3cret-key';
  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, channels: fakeChannels().registry });
    const store = t.running.store;
    const now = new Date().toISOString();
    await addRequester(t, 'porto-agent', 'porto', T.porto);
    await store.apiTokens.insert({ id: sha256(T.runner), role: 'runner', subject: 'r-porto', scope: ['porto'], createdAt: now });
    await store.apiTokens.insert({ id: sha256(T.olga), role: 'operator', subject: 'olga', createdAt: now });
    await store.apiTokens.insert({ id: sha256(T.carla), role: 'manager', subject: 'carla', createdAt: now });
    const created = await t.call('/api/agents', { method: 'POST', json: { id: 'porto-crm', branchId: 'porto', healthUrl: HEALTH } });
    expect(created.status).toBe(201);
    expect(created.body.agent.healthUrl).toBe(HEALTH);
  });
  afterAll(async () => {
    await t.close();
  });

  it('an agent, a runner and a manager of the branch see the agent without it, in the list and the details; operator and admin see it', async () => {
    for (const [who, token] of [
      ['agent', T.porto],
      ['runner', T.runner],
      ['manager', T.carla],
    ] as const) {
      const list = await t.call('/api/agents', { token });
      expect([who, list.status, list.body.agents.map((a: { id: string }) => a.id)]).toEqual([who, 200, expect.arrayContaining(['porto-crm'])]);
      const details = await t.call('/api/agents/porto-crm', { token });
      expect([who, details.status, details.body.agent.id]).toEqual([who, 200, 'porto-crm']);
      for (const body of [list.body, details.body]) expect([who, JSON.stringify(body).includes('s3cret')]).toEqual([who, false]);
      expect([who, 'healthUrl' in details.body.agent]).toEqual([who, false]);
    }
    for (const [who, token] of [
      ['operator', T.olga],
      ['admin', undefined],
    ] as const) {
      const list = await t.call('/api/agents', { token });
      expect([who, list.body.agents.find((a: { id: string }) => a.id === 'porto-crm').healthUrl]).toEqual([who, HEALTH]);
      expect([who, (await t.call('/api/agents/porto-crm', { token })).body.agent.healthUrl]).toEqual([who, HEALTH]);
    }
  });
});
