import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { io } from 'socket.io-client';
import type { AddressInfo } from 'node:net';
import { sha256 } from '../../src/core/ids.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { addRequester, startTestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const YAML = `
approvals:
  minRole: { critical: owner }
  escalateAfterSec: { high: 600 }
  learnAfter: 2
  teams: { growth: { autonomy: autonomous, agents: [promo] } }
branches:
  - id: lisboa
    name: Lisboa
    timezone: America/Recife
    autonomy: semi_autonomous
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001, whatsapp: "+351910000001", prefer: [telegram, whatsapp] }
      - { id: bruno, name: Bruno, role: manager, telegram: 1002, slack: U0BRUNO1 }
      - { id: olga, name: Olga, role: operator, telegram: 1003 }
    agents:
      - { id: lis-tg, channel: telegram, token: t }
      - { id: lis-wa, channel: whatsapp }
      - { id: lis-slack, channel: slack, botToken: b, signingSecret: s, approvalsChannel: C0APPROVE }
  - id: porto
    name: Porto
    managers:
      - { id: carla, name: Carla, role: owner, telegram: 2001 }
    agents:
      - { id: porto-tg, channel: telegram, token: t2 }
`;

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const TOKENS = { agent: 'agent-token-refunds-0001', ana: 'manager-token-ana-00001', bruno: 'manager-token-bruno-0001', carla: 'manager-token-carla-0001' };

async function setup(clock = new ManualClock()) {
  const { registry, bots } = fakeChannels();
  const t = await startTestCoordinator({ yaml: YAML, clock, channels: registry });
  open.push(t);
  await clock.advance(0);
  const store = t.running.store;
  const now = new Date(clock.now()).toISOString();
  await store.agents.insert({ id: 'refunds', branchId: 'lisboa', kind: 'action', status: 'up', dependsOn: [], registeredAt: now, source: 'api', callbackSecret: 'f'.repeat(64) });
  await store.apiTokens.insert({ id: sha256(TOKENS.agent), role: 'agent', subject: 'refunds', createdAt: now });
  for (const m of ['ana', 'bruno', 'carla'] as const) await store.apiTokens.insert({ id: sha256(TOKENS[m]), role: 'manager', subject: m, createdAt: now });
  const bot = (id: string) => bots.get(id) as FakeBot;
  /** Creates a request; resolves once its prompts went out (the request itself is answered before they do). */
  const create = async (json: Record<string, unknown>, key?: string) => {
    const res = await t.call('/api/approvals', { method: 'POST', token: TOKENS.agent, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 20 EUR to order 1234', ...json }, headers: key ? { 'idempotency-key': key } : {} });
    await t.running.coordinator.prompts.idle();
    return res;
  };
  return { t, clock, bot, create, store };
}

async function receiver(handler: (body: string, headers: Record<string, string | string[] | undefined>) => number) {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.statusCode = handler(body, req.headers);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}

describe('approvals: create and policy', () => {
  it('is idempotent per requester and key; a different body with the same key is 409', async () => {
    const { create, store } = await setup();
    const first = await create({}, 'key-1');
    expect(first.status).toBe(201);
    expect(first.body.approval).toMatchObject({ status: 'pending', riskLevel: 'critical', code: expect.stringMatching(/^[A-Z2-9]{6}$/), requesterId: 'refunds' });
    const again = await create({}, 'key-1');
    expect(again.status).toBe(200);
    expect(again.body.approval.id).toBe(first.body.approval.id);
    const clash = await create({ summary: 'Refund 2000 EUR' }, 'key-1');
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toMatch(/Idempotency-Key was already used with a different request body/);
    expect(await store.approvals.count()).toBe(1);
  });

  it('names each invalid field and stores nothing', async () => {
    const { t, store } = await setup();
    const res = await t.call('/api/approvals', { method: 'POST', token: TOKENS.agent, json: { branchId: 'lisboa', actionType: 'Refund Now', summary: '', riskLevel: 'extreme', expiresInSec: 1, callbackUrl: 'nope' } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['actionType', 'callbackUrl', 'expiresInSec', 'riskLevel', 'summary']);
    const branch = await t.call('/api/approvals', { method: 'POST', token: TOKENS.agent, json: { branchId: 'nowhere', actionType: 'refund', summary: 's' } });
    expect(branch.body.error.details.issues[0]).toMatchObject({ path: 'branchId', message: expect.stringMatching(/unknown branch 'nowhere'/) });
    expect(await store.approvals.count()).toBe(0);
    expect((await t.call('/api/approvals', { method: 'POST', token: TOKENS.ana, json: {} })).status).toBe(403);
  });

  it('lets a request raise its risk but never lower it below the action type', async () => {
    const { create } = await setup();
    expect((await create({ riskLevel: 'low' })).body.approval).toMatchObject({ riskLevel: 'critical', status: 'pending' });
    expect((await create({ actionType: 'status.check', summary: 'Check', riskLevel: 'high' })).body.approval).toMatchObject({ riskLevel: 'high', status: 'pending' });
  });

  it('auto-approves what the autonomy allows, saying which rule, and audits it', async () => {
    const { create, store, t } = await setup();
    const low = await create({ actionType: 'status.check', summary: 'Check stock' });
    expect(low.status).toBe(201);
    expect(low.body.approval).toMatchObject({ status: 'approved', riskLevel: 'low', decision: { by: 'policy', via: 'policy', rule: expect.stringMatching(/semi_autonomous .*branch lisboa.* low/) } });
    // Team growth's autonomy governs the agents the config assigns to it (promo), with or without teamId in the request.
    await addRequester(t, 'promo', 'lisboa', 'agent-token-promo-000001');
    const asPromo = (json: Record<string, unknown>) => t.call('/api/approvals', { method: 'POST', token: 'agent-token-promo-000001', json: { branchId: 'lisboa', ...json } });
    const team = await asPromo({ actionType: 'email.campaign', summary: 'Send promo' });
    expect(team.body.approval).toMatchObject({ status: 'approved', riskLevel: 'high', autonomy: 'autonomous', teamId: 'growth' });
    const critical = await asPromo({ actionType: 'refund', summary: 'Refund', teamId: 'growth' });
    expect(critical.body.approval.status).toBe('pending');
    const audit = await store.auditEvents.find({ where: { type: 'approval.auto-approved' } });
    expect(audit).toHaveLength(2);
  });
});

describe('approvals: routing and deciding', () => {
  it('delivers to eligible managers on their preferred channel, falls back when it fails, and posts to the Slack approvals channel', async () => {
    const { create, bot, t } = await setup();
    bot('lis-tg').unreachable.add('1001');
    const res = await create({});
    // The requester sees where prompts went by channel, not the managers' chat ids; staff see them.
    expect(JSON.stringify(res.body.approval.deliveries)).not.toMatch(/chatId|managerId|351910000001/);
    const deliveries = (await t.call(`/api/approvals/${res.body.approval.id}`)).body.approval.deliveries;
    // Critical needs an owner: only Ana. Telegram refused -> WhatsApp. Plus the approvals channel.
    // Ana's attempts in her order; the approvals channel's prompt goes out alongside (in either order).
    expect(deliveries.filter((d: { managerId?: string }) => d.managerId === 'ana')).toEqual([
      expect.objectContaining({ managerId: 'ana', channel: 'telegram', status: 'failed', error: expect.stringMatching(/blocked/) }),
      expect.objectContaining({ managerId: 'ana', channel: 'whatsapp', agentId: 'lis-wa', chatId: '+351910000001', status: 'sent' }),
    ]);
    expect(deliveries.filter((d: { managerId?: string }) => !d.managerId)).toEqual([expect.objectContaining({ channel: 'slack', chatId: 'C0APPROVE', status: 'sent' })]);
    expect(deliveries).toHaveLength(3);
    // Times in the prompt are the branch's: its zone travels with the prompt to every channel.
    expect(bot('lis-wa').prompts[0].prompt).toMatchObject({ summary: 'Refund 20 EUR to order 1234', riskLevel: 'critical', branchName: 'Lisboa', requester: 'refunds', timeZone: 'America/Recife' });
    expect(bot('lis-tg').prompts).toEqual([]);
  });

  it('skips a channel whose agent is down', async () => {
    const { create, t, bot } = await setup();
    await t.running.store.agents.update('lis-tg', { status: 'down' });
    const res = await create({ actionType: 'crm.update', summary: 'Update CRM' });
    const sent = (await t.call(`/api/approvals/${res.body.approval.id}`)).body.approval.deliveries.filter((d: { status: string }) => d.status === 'sent');
    expect(sent.map((d: { managerId?: string; channel: string }) => `${d.managerId ?? '-'}:${d.channel}`).sort()).toEqual(['-:slack', 'ana:whatsapp', 'bruno:slack']);
    expect(bot('lis-tg').prompts).toEqual([]);
  });

  it('counts requests, outcomes, time to decision and prompt sends in /metrics, with bounded labels', async () => {
    const { create, t, bot } = await setup();
    bot('lis-tg').unreachable.add('1001');
    const { body } = await create({});
    expect((await t.call(`/api/approvals/${body.approval.id}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'reject', reason: 'no' } })).status).toBe(200);
    const metrics = (await t.call('/metrics')).body as string;
    expect(metrics).toMatch(/coordinator_approvals_requested_total\{branch="lisboa",risk="critical",auto="no"\} 1\n/);
    expect(metrics).toMatch(/coordinator_approvals_decided_total\{branch="lisboa",risk="critical",outcome="rejected"\} 1\n/);
    expect(metrics).toMatch(/coordinator_approval_decision_seconds_count\{risk="critical",outcome="rejected"\} 1\n/);
    expect(metrics).toMatch(/coordinator_approval_prompts_total\{channel="telegram",result="failed"\} 1\n/);
    expect(metrics).toMatch(/coordinator_approval_prompts_total\{channel="whatsapp",result="sent"\} 1\n/);
    expect(metrics).toMatch(/coordinator_approvals_pending 0\n/);
    expect(metrics).toMatch(/coordinator_approval_prompts_open 0\n/);
    // No label carries an id, a code or a text: only branches, risks, outcomes and channels.
    expect(metrics).not.toContain(body.approval.id);
    expect(metrics).not.toContain(body.approval.code);
  });

  it('two simultaneous decisions from two channels: exactly one wins, every prompt shows it, the loser is told who decided', async () => {
    const { create, t, bot, store } = await setup();
    const { body } = await create({ riskLevel: 'high', actionType: 'data.change' });
    const id = body.approval.id;
    // Ana taps Approve on WhatsApp while Bruno taps Reject on Telegram.
    const taps = [bot('lis-wa').tap(id, 'approve', '351910000001@s.whatsapp.net'), bot('lis-tg').tap(id, 'reject', '1002')];
    const apiRes = await t.call(`/api/approvals/${id}/decision`, { method: 'POST', token: TOKENS.bruno, json: { decision: 'reject', reason: 'too much' } });
    // Every one of the three finishes visibly: the API answers (200 won, 409 too late); a chat tap that
    // lost is told "Too late"; the one that won has updated every prompt before it returns.
    expect([200, 409]).toContain(apiRes.status);
    const replies = await Promise.all(taps);
    expect(replies.filter((r) => /^Too late/.test(r.text))).toHaveLength(apiRes.status === 200 ? 2 : 1);
    await until('every prompt updated', async () => {
      const final = await store.approvals.get(id);
      if (!final || final.status === 'pending') return false;
      const sent = final.deliveries.filter((d) => d.status === 'sent').length;
      return bot('lis-tg').updates.length + bot('lis-wa').updates.length + bot('lis-slack').updates.length >= sent;
    });
    const final = (await store.approvals.get(id))!;
    expect(['approved', 'rejected']).toContain(final.status);
    const decidedEvents = await store.auditEvents.find({ where: { approvalId: id, type: { in: ['approval.approved', 'approval.rejected'] } } });
    expect(decidedEvents).toHaveLength(1);
    if (apiRes.status === 409) expect(apiRes.body.error.message).toMatch(new RegExp(`Too late: approval ${final.code} was already ${final.status} by ${final.decision!.byName}`));
    const updated = [...bot('lis-tg').updates, ...bot('lis-wa').updates, ...bot('lis-slack').updates];
    expect(updated.length).toBe(final.deliveries.filter((d) => d.status === 'sent').length);
    expect(updated.every((u) => u.outcome.status === final.status && u.outcome.by === final.decision!.byName)).toBe(true);
  });

  it('refuses deciders who are not eligible, and audits the refusal', async () => {
    const { create, t, bot, store } = await setup();
    const { body } = await create({});
    const id = body.approval.id;
    const bruno = await t.call(`/api/approvals/${id}/decision`, { method: 'POST', token: TOKENS.bruno, json: { decision: 'approve' } });
    expect(bruno.status).toBe(403);
    // A manager the config knows is told why; a stranger only that they may not.
    expect(bruno.body.error.message).toBe('Bruno is a manager at Lisboa; critical-risk requests there are decided by an owner (approvals.minRole.critical).');
    // Carla manages another branch: she cannot see it, so it answers as an unknown id (404) and is not audited.
    const carla = await t.call(`/api/approvals/${id}/decision`, { method: 'POST', token: TOKENS.carla, json: { decision: 'approve' } });
    expect(carla.status).toBe(404);
    expect(await bot('lis-tg').tap(id, 'approve', '999999')).toEqual({ ok: false, text: 'You are not allowed to decide this.' });
    expect(await bot('lis-tg').tap(id, 'approve', '2001')).toEqual({ ok: false, text: 'Carla is not a manager at Lisboa.' });
    expect(await bot('lis-tg').tap(id, 'approve', '1002')).toEqual({ ok: false, text: 'Bruno is a manager at Lisboa; critical-risk requests there are decided by an owner (approvals.minRole.critical).' });
    expect((await store.approvals.get(id))?.status).toBe('pending');
    const refusals = await store.auditEvents.find({ where: { approvalId: id, type: 'approval.refused' }, orderBy: { field: 'seq' } });
    expect(refusals.map((e) => e.actor)).toEqual(['manager bruno', 'telegram user 999999', 'telegram user 2001', 'telegram user 1002']);
    expect((await t.call(`/api/approvals/${id}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'maybe' } })).status).toBe(400);
  });

  it("refuses a decision relayed by another branch's bot, even naming a real manager", async () => {
    const { create, bot, store } = await setup();
    const { body } = await create({});
    expect(await bot('porto-tg').tap(body.approval.id, 'approve', '1001')).toEqual({ ok: false, text: 'You are not allowed to decide this.' });
    expect((await store.approvals.get(body.approval.id))?.status).toBe('pending');
  });

  it('needs n distinct approvers when requiredApprovals is n; any rejection rejects', async () => {
    const { create, t } = await setup();
    const { body } = await create({ actionType: 'data.change', riskLevel: 'high', requiredApprovals: 2 });
    const id = body.approval.id;
    const first = await t.call(`/api/approvals/${id}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'approve' } });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ remaining: 1, approval: { status: 'pending' } });
    expect((await t.call(`/api/approvals/${id}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'approve' } })).status).toBe(409);
    const second = await t.call(`/api/approvals/${id}/decision`, { method: 'POST', token: TOKENS.bruno, json: { decision: 'approve' } });
    expect(second.status).toBe(200);
    expect(second.body.approval.status).toBe('approved');
    expect(second.body.approval.approvals.map((a: { by: string }) => a.by)).toEqual(['ana', 'bruno']);
    const other = await create({ actionType: 'data.change', riskLevel: 'high', requiredApprovals: 2, summary: 'other' });
    const rejected = await t.call(`/api/approvals/${other.body.approval.id}/decision`, { method: 'POST', token: TOKENS.bruno, json: { decision: 'reject', reason: 'no' } });
    expect(rejected.body.approval).toMatchObject({ status: 'rejected', decision: { reason: 'no', byName: 'Bruno' } });
  });

  it('bulk-decides with a result per item; cancel and result follow the rules', async () => {
    const { create, t } = await setup();
    const a = (await create({ actionType: 'data.change', riskLevel: 'high', summary: 'a' })).body.approval.id;
    const b = (await create({ actionType: 'data.change', riskLevel: 'high', summary: 'b' })).body.approval.id;
    const bulk = await t.call('/api/approvals/bulk', { method: 'POST', token: TOKENS.ana, json: { ids: [a, b, 'missing'], decision: 'reject' } });
    expect(bulk.body.results).toEqual([
      { id: a, result: 'decided', status: 'rejected' },
      { id: b, result: 'decided', status: 'rejected' },
      { id: 'missing', result: 'error', error: { code: 'not_found', message: "Approval 'missing' was not found" } },
    ]);
    const c = (await create({ actionType: 'data.change', riskLevel: 'high', summary: 'c' })).body.approval;
    expect((await t.call(`/api/approvals/${c.id}/cancel`, { method: 'POST', token: TOKENS.agent })).body.approval.status).toBe('cancelled');
    expect((await t.call(`/api/approvals/${c.id}/cancel`, { method: 'POST', token: TOKENS.agent })).status).toBe(409);
    const d = (await create({ actionType: 'data.change', riskLevel: 'high', summary: 'd' })).body.approval;
    expect((await t.call(`/api/approvals/${d.id}/result`, { method: 'POST', token: TOKENS.agent, json: { success: true } })).status).toBe(409);
    await t.call(`/api/approvals/${d.code}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'approve' } });
    const done = await t.call(`/api/approvals/${d.id}/result`, { method: 'POST', token: TOKENS.agent, json: { success: false, error: 'card declined' } });
    expect(done.body.approval).toMatchObject({ status: 'failed', result: { success: false, error: 'card declined' } });
  });
});

describe('approvals: time, outcome delivery, audit, learning, message.send', () => {
  it('escalates and expires on time, across a restart on the same data dir', async () => {
    const clock = new ManualClock();
    const { create, t, bot } = await setup(clock);
    const { body } = await create({ riskLevel: 'high', actionType: 'data.change', expiresInSec: 1200 });
    const id = body.approval.id;
    // escalateAfterSec.high: 600 is the chain "the owners after 600 s": Bruno (a manager) and the approvals channel
    // are asked at once, Ana (the owner) is held back for the step.
    expect((await t.running.store.approvals.get(id))!.deliveries.filter((d: { status: string }) => d.status === 'sent').map((d: { managerId?: string }) => d.managerId ?? 'channel').sort()).toEqual(['bruno', 'channel']);
    expect((await t.running.store.approvals.get(id))!.escalation).toEqual({ dueAt: new Date(clock.now() + 600_000).toISOString(), steps: [{ afterSec: 600, to: ['owner'] }], next: 0, source: 'approvals.escalateAfterSec.high', history: [] });
    // The requester sees where the escalation stands, not whom it names.
    expect(body.approval.escalation).toEqual({ dueAt: new Date(clock.now() + 600_000).toISOString(), next: 0, history: [] });
    expect((await t.running.store.approvals.get(id))!.unreached).toEqual([]);
    // When the step falls due, Ana cannot be reached on either of her channels.
    bot('lis-tg').unreachable.add('1001');
    bot('lis-wa').unreachable.add('+351910000001');
    await clock.advance(600_000);
    await t.running.coordinator.prompts.idle();
    const escalated = (await t.running.store.approvals.get(id))!;
    expect(escalated.escalation).toMatchObject({ next: 1, done: true, history: [{ step: 1, asked: [{ id: 'ana', name: 'Ana' }] }] });
    expect((await t.call(`/api/approvals/${id}`, { token: TOKENS.agent })).body.approval.escalation).toEqual({ dueAt: escalated.escalation!.dueAt, done: true, next: 1, history: [{ step: 1, at: escalated.escalation!.history![0]!.at, asked: 1, chats: escalated.escalation!.history![0]!.chats }] });
    expect(escalated.unreached).toEqual([expect.objectContaining({ managerId: 'ana', tier: 'escalation', step: 1, state: 'retrying' })]);
    // Bruno's copy says whom it was escalated to and when, in Lisboa's zone (America/Recife), buttons kept (still pending).
    const brunoCopy = bot('lis-slack').updates.filter((u) => u.ref.chatId === 'U0BRUNO1').at(-1)!.outcome;
    expect(brunoCopy).toMatchObject({ status: 'pending', prompt: { progress: [expect.stringMatching(/^Escalated to Ana at \d{4}-\d\d-\d\d \d\d:\d\d GMT-3\.$/)] } });
    // The coordinator is down for a while; after the restart Ana's Telegram works again and her prompt, still in the outbox, reaches her once.
    await t.restart(() => clock.advance(100_000));
    await clock.advance(0);
    await t.running.coordinator.prompts.idle();
    const afterRestart = (await t.running.store.approvals.get(id))!;
    expect(afterRestart.deliveries.filter((d) => d.managerId === 'ana' && d.status === 'sent')).toEqual([expect.objectContaining({ managerId: 'ana', channel: 'telegram', status: 'sent', tier: 'escalation', step: 1 })]);
    expect(afterRestart.unreached).toEqual([]);
    expect(bot('lis-tg').prompts.map((p) => p.chatId)).toEqual(['1001']);
    expect((await t.running.store.auditEvents.find({ where: { approvalId: id, type: 'approval.escalated' } })).map((e) => e.data)).toEqual([
      { step: 1, of: 1, to: ['ana'], targets: ['owner'], chats: [], source: 'approvals.escalateAfterSec.high' },
    ]);
    await clock.advance(500_000);
    const expired = (await t.running.store.approvals.get(id))!;
    expect(expired).toMatchObject({ status: 'expired', decision: { outcome: 'expired', by: 'system', via: 'timer' } });
  });

  it('tells the requester by a signed webhook (retried until the receiver is up) and by long-poll', async () => {
    const clock = new ManualClock();
    const { create, t } = await setup(clock);
    const received: Array<{ body: string; signature: string }> = [];
    let failuresLeft = 2;
    const url = await receiver((body, headers) => {
      if (failuresLeft-- > 0) return 503;
      received.push({ body, signature: String(headers['x-coordinator-signature']) });
      return 204;
    });
    const details = { orderId: 1234, amount: { value: 20, currency: 'EUR' }, note: undefined };
    const { body } = await create({ actionType: 'data.change', riskLevel: 'high', callbackUrl: url, details });
    const id = body.approval.id;
    // What is approved, as a hash a requester recomputes: SHA-256 of {actionType, details} as canonical JSON (keys sorted, no spaces).
    const payloadHash = createHash('sha256').update('{"actionType":"data.change","details":{"amount":{"currency":"EUR","value":20},"orderId":1234}}').digest('hex');
    expect(body.approval.payloadHash).toBe(payloadHash);
    // The long-poll is waiting (it listens for the approval's update) before the decision is made, so its answer
    // comes from the wait, not from reading an approval already decided.
    const listening = () => (t.running.coordinator.bus as unknown as { emitter: EventEmitter }).emitter.listenerCount('approval.updated');
    const idle = listening();
    const poll = t.call(`/api/approvals/${id}?waitSec=20`, { token: TOKENS.agent });
    const started = Date.now();
    await until('the long-poll waiting', () => listening() === idle + 1);
    await t.call(`/api/approvals/${id}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'approve' } });
    const polled = await poll;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(polled.body.approval.status).toBe('approved');
    expect(polled.body.approval.decision.payloadHash).toBe(payloadHash);
    const audited = await t.running.store.auditEvents.findOne({ approvalId: id, type: 'approval.approved' });
    expect(audited?.data).toMatchObject({ payloadHash });

    const outboxItem = () => t.running.store.outbox.findOne({ approvalId: id });
    await clock.advance(0);
    await until('the first attempt failed', async () => (await outboxItem())?.attempts === 1 && (await outboxItem())?.lastError);
    await clock.advance(1000);
    await until('the second attempt failed', async () => (await outboxItem())?.attempts === 2);
    await until('delivered', async () => {
      await clock.advance(4000);
      return received.length > 0;
    });
    expect(received).toHaveLength(1);
    const expected = `sha256=${createHmac('sha256', 'f'.repeat(64)).update(received[0].body).digest('hex')}`;
    expect(received[0].signature).toBe(expected);
    expect(JSON.parse(received[0].body)).toMatchObject({ event: 'approval.approved', approval: { id, status: 'approved', payloadHash, decision: { byName: 'Ana', payloadHash } } });
    // The requester learns where the prompt went by channel, not the managers' chat ids.
    expect(JSON.parse(received[0].body).approval.deliveries.length).toBeGreaterThan(0);
    expect(received[0].body).not.toMatch(/chatId|managerId|1001/);
    const item = await t.running.store.outbox.findOne({ approvalId: id });
    expect(item).toMatchObject({ status: 'delivered', attempts: 3 });
    // The retry is stamped (and signed) with its own time, not the first attempt's: receivers refuse old bodies.
    // (Attempts at +0 s and +1 s failed; the third, due 2 s after the second, went through.)
    expect(Date.parse(JSON.parse(received[0].body).sentAt) - Date.parse(JSON.parse(item!.body).sentAt)).toBe(3000);
    // And it names its delivery inside what is signed, so a replay cannot pass for a new delivery.
    expect(JSON.parse(received[0].body).deliveryId).toBe(item!.id);
  });

  it('keeps a pending webhook across a restart and delivers it once the receiver is reachable', async () => {
    const clock = new ManualClock();
    const { create, t } = await setup(clock);
    let up = false;
    const received: string[] = [];
    const url = await receiver((body) => {
      if (!up) return 502;
      received.push(body);
      return 200;
    });
    const { body } = await create({ actionType: 'data.change', riskLevel: 'high', callbackUrl: url });
    await t.call(`/api/approvals/${body.approval.id}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'reject', reason: 'no' } });
    await clock.advance(0);
    await until('the first attempt failed', async () => (await t.running.store.outbox.findOne({ approvalId: body.approval.id }))?.lastError);
    expect(await t.running.store.outbox.findOne({ approvalId: body.approval.id })).toMatchObject({ status: 'pending', attempts: 1, lastError: 'HTTP 502' });
    await t.restart(async () => {
      up = true;
      await clock.advance(60_000);
    });
    await clock.advance(0);
    await until('delivered after the restart', () => received.length > 0);
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0])).toMatchObject({ event: 'approval.rejected', approval: { id: body.approval.id } });
    expect(await t.running.store.outbox.findOne({ approvalId: body.approval.id })).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('pushes the outcome to the requester over Socket.IO, and mints manager tokens that can decide', async () => {
    const { create, t } = await setup();
    // The token in the handshake's header (checked before any namespace is joined) and in `auth`, as the runner sends it.
    const socket = io(`${t.url}/agents`, { auth: { token: TOKENS.agent }, extraHeaders: { authorization: `Bearer ${TOKENS.agent}` }, transports: ['websocket'] });
    open.push({ close: async () => void socket.close() });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const got: Array<{ id: string; status: string; deliveries: unknown[] }> = [];
    socket.on('approval', (a: { id: string; status: string; deliveries: unknown[] }) => got.push(a));
    const { body } = await create({ actionType: 'data.change', riskLevel: 'high' });
    const minted = await t.call('/api/tokens', { method: 'POST', json: { role: 'manager', subject: 'bruno' } });
    expect(minted.status).toBe(201);
    expect(minted.body.token).toMatch(/^mgr_/);
    expect((await t.call('/api/tokens', { method: 'POST', json: { role: 'manager', subject: 'zed' } })).status).toBe(400);
    await t.call(`/api/approvals/${body.approval.id}/decision`, { method: 'POST', token: minted.body.token, json: { decision: 'reject', reason: 'not today' } });
    await until('the outcome pushed', () => got.some((a) => a.status === 'rejected'));
    expect(got.find((a) => a.status === 'rejected')).toMatchObject({ id: body.approval.id, decision: { byName: 'Bruno', reason: 'not today' } });
    expect(JSON.stringify(got)).not.toMatch(/chatId|managerId/);
  });

  it('lists the audit trail and verifies the chain, detecting a tampered row', async () => {
    const { create, t, store } = await setup();
    const { body } = await create({});
    const list = await t.call(`/api/audit?approvalId=${body.approval.id}`);
    expect(list.body.events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['approval.created', 'approval.delivered']));
    expect((await t.call('/api/audit/verify')).body).toMatchObject({ ok: true });
    const victim = (await store.auditEvents.find({ where: { type: 'approval.created' } }))[0];
    await store.auditEvents.update(victim.id, { actor: 'someone-else' });
    const verify = await t.call('/api/audit/verify');
    expect(verify.status).toBe(409);
    expect(verify.body).toMatchObject({ ok: false, brokenAt: victim.seq });
    expect((await t.call('/api/audit?limit=0')).status).toBe(400);
  });

  it('suggests auto-approval after K approvals, applies it only once accepted, and can revoke it', async () => {
    const { create, t } = await setup();
    for (const s of ['one', 'two']) {
      const a = (await create({ actionType: 'crm.update', riskLevel: 'high', summary: s })).body.approval;
      await t.call(`/api/approvals/${a.id}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'approve' } });
    }
    const rules = await t.call('/api/approvals/rules');
    expect(rules.body.rules).toEqual([expect.objectContaining({ id: 'lisboa.crm.update', status: 'suggested', streak: 2 })]);
    expect((await create({ actionType: 'crm.update', riskLevel: 'high', summary: 'three' })).body.approval.status).toBe('pending');
    expect((await t.call('/api/approvals/rules/lisboa.crm.update/accept', { method: 'POST' })).body.rule.status).toBe('active');
    const auto = (await create({ actionType: 'crm.update', riskLevel: 'high', summary: 'four' })).body.approval;
    expect(auto).toMatchObject({ status: 'approved', decision: { by: 'policy', rule: expect.stringMatching(/learned rule lisboa\.crm\.update \(accepted by admin\)/) } });
    await t.call('/api/approvals/rules/lisboa.crm.update/revoke', { method: 'POST' });
    expect((await create({ actionType: 'crm.update', riskLevel: 'high', summary: 'five' })).body.approval.status).toBe('pending');
  });

  it('message.send: once approved, the coordinator sends the text to the customer and reports it executed', async () => {
    const { create, t, bot } = await setup();
    const { body } = await create({ actionType: 'message.send', summary: 'Reply to customer', details: { channel: 'telegram', chatId: '5550001', text: 'Your refund is on its way.' } });
    expect(body.approval.riskLevel).toBe('critical');
    // The manager is shown what will happen, in words: the recipient and the exact text, not JSON.
    expect(bot('lis-tg').prompts[0]!.prompt.details).toBe('Sends to chat 5550001 on telegram exactly:\nYour refund is on its way.');
    const res = await t.call(`/api/approvals/${body.approval.id}/decision`, { method: 'POST', token: TOKENS.ana, json: { decision: 'approve' } });
    expect(res.body.approval).toMatchObject({ status: 'executed', result: { success: true, result: { agentId: 'lis-tg', chatId: '5550001' } } });
    expect(bot('lis-tg').sent).toContainEqual({ chatId: '5550001', text: 'Your refund is on its way.' });
  });
});
