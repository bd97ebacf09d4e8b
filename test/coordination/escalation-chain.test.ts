import { afterEach, describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../src/config/config-file.js';
import { ConfigError } from '../../src/core/errors.js';
import { sha256 } from '../../src/core/ids.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

/**
 * Lisboa follows the business's chain for high risk: managers at once, the
 * owners after 15 minutes, the ops chat (HQ's Telegram group) after an hour,
 * and a request nobody decided in two hours is rejected. Porto has its own
 * chain for critical risk, naming people. Faro has only owners.
 */
const YAML = `
business:
  name: Pastelaria
  opsAlerts: { agent: hq-tg, chat: "-100777" }
approvals:
  minRole: { critical: owner }
  ttlSec: { high: 7200 }
  escalation:
    high:
      then:
        - { afterSec: 900, to: [owner] }
        - { afterSec: 3600, to: [ops] }
      onTimeout: reject
    critical:
      then: [{ afterSec: 900, to: [owner] }]
branches:
  - id: hq
    name: HQ
    agents: [{ id: hq-tg, channel: telegram, token: t0 }]
  - id: lisboa
    name: Lisboa
    timezone: Europe/Lisbon
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
      - { id: bruno, name: Bruno, role: manager, telegram: 1002 }
      - { id: olga, name: Olga, role: operator, telegram: 1003 }
    agents: [{ id: lis-tg, channel: telegram, token: t1 }]
  - id: porto
    name: Porto
    managers:
      - { id: carla, name: Carla, role: owner, telegram: 2001 }
      - { id: dario, name: Dario, role: owner, telegram: 2002 }
    agents: [{ id: porto-tg, channel: telegram, token: t2 }]
    escalation:
      critical:
        ask: [carla]
        then: [{ afterSec: 60, to: [dario] }]
  - id: faro
    name: Faro
    managers:
      - { id: fatima, name: Fatima, role: owner, telegram: 3001 }
    agents: [{ id: faro-tg, channel: telegram, token: t3 }]
`;

const open: TestCoordinator[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

const MIN = 60_000;

async function setup() {
  const clock = new ManualClock();
  const { registry, bots } = fakeChannels();
  const t = await startTestCoordinator({ yaml: YAML, clock, channels: registry });
  open.push(t);
  await clock.advance(0);
  const now = new Date(clock.now()).toISOString();
  const tokens: Record<string, string> = {};
  for (const branchId of ['lisboa', 'porto', 'faro']) {
    tokens[branchId] = `agent-token-${branchId}-escalation-0001`;
    await t.running.store.agents.insert({ id: `ask-${branchId}`, branchId, kind: 'action', status: 'up', dependsOn: [], registeredAt: now, source: 'api' });
    await t.running.store.apiTokens.insert({ id: sha256(tokens[branchId]), role: 'agent', subject: `ask-${branchId}`, createdAt: now });
  }
  await t.running.store.apiTokens.insert({ id: sha256('manager-token-carla-000001'), role: 'manager', subject: 'carla', createdAt: now });
  const bot = (id: string) => bots.get(id) as FakeBot;
  const create = async (branchId: string, json: Record<string, unknown>) => {
    const res = await t.call('/api/approvals', { method: 'POST', token: tokens[branchId], json: { branchId, summary: 'Change the supplier', ...json } });
    expect(res.status).toBe(201);
    await t.running.coordinator.prompts.idle();
    return res.body.approval as { id: string; code: string };
  };
  /** Moves the clock on and lets every timer's work (escalation, sends) finish. */
  const advance = async (ms: number) => {
    await clock.advance(ms);
    await t.running.coordinator.prompts.idle();
  };
  const stored = async (id: string) => (await t.running.store.approvals.get(id))!;
  const promptedChats = (agentId: string, approvalId: string) => bot(agentId).prompts.filter((p) => p.prompt.approvalId === approvalId).map((p) => p.chatId);
  return { t, clock, bot, create, advance, stored, promptedChats };
}

describe('escalation chains', () => {
  it('asks managers, then the owners after 15 min, then the ops chat after 1 h; rejects at the end; each step audited and shown on every copy', async () => {
    const { t, create, advance, stored, promptedChats, bot } = await setup();
    const a = await create('lisboa', { actionType: 'data.change' });
    // The first round: everyone who may decide high risk except the owners a later step names (Olga, an operator, may not decide).
    expect(promptedChats('lis-tg', a.id)).toEqual(['1002']);
    expect((await stored(a.id)).onTimeout).toEqual({ action: 'reject', source: 'approvals.escalation.high' });

    await advance(14 * MIN);
    expect(promptedChats('lis-tg', a.id)).toEqual(['1002']);
    await advance(1 * MIN);
    expect(promptedChats('lis-tg', a.id)).toEqual(['1002', '1001']);
    // Bruno's copy is redrawn, still pending, with the step and its time in Lisbon's zone.
    const brunoCopy = bot('lis-tg').updates.filter((u) => u.ref.chatId === '1002').at(-1)!.outcome;
    expect(brunoCopy.status).toBe('pending');
    expect(brunoCopy.prompt!.progress).toEqual([expect.stringMatching(/^Escalated to Ana at \d{4}-\d\d-\d\d \d\d:\d\d GMT\+[01]\.$/)]);

    await advance(45 * MIN);
    // The ops chat is HQ's Telegram group, sent by HQ's agent (another branch's bot).
    expect(promptedChats('hq-tg', a.id)).toEqual(['-100777']);
    const afterOps = await stored(a.id);
    expect(afterOps.escalation).toMatchObject({ next: 2, done: true, source: 'approvals.escalation.high' });
    expect(afterOps.escalation!.history!.map((h) => [h.step, h.asked.map((x) => x.id), h.chats ?? 0])).toEqual([
      [1, ['ana'], 0],
      [2, [], 1],
    ]);
    expect(bot('lis-tg').updates.filter((u) => u.ref.chatId === '1001').at(-1)!.outcome.prompt!.progress).toEqual([expect.stringMatching(/^Escalated to Ana at /), expect.stringMatching(/^Escalated to the ops chat at /)]);

    await advance(60 * MIN);
    const timedOut = await stored(a.id);
    expect(timedOut.status).toBe('rejected');
    expect(timedOut.decision).toMatchObject({ outcome: 'rejected', by: 'system', via: 'timer', reason: 'nobody decided within 120 min', rule: 'approvals.escalation.high.onTimeout: reject' });
    const audit = await t.running.store.auditEvents.find({ where: { approvalId: a.id } });
    expect(audit.filter((e) => e.type === 'approval.escalated').map((e) => e.data)).toEqual([
      { step: 1, of: 2, to: ['ana'], targets: ['owner'], chats: [], source: 'approvals.escalation.high' },
      { step: 2, of: 2, to: [], targets: ['ops'], chats: ['hq-tg'], source: 'approvals.escalation.high' },
    ]);
    expect(audit.map((e) => e.type)).toContain('approval.rejected');
    // Every copy shows the outcome, the ops chat's too.
    expect(bot('hq-tg').updates.at(-1)!.outcome).toMatchObject({ status: 'rejected', reason: 'nobody decided within 120 min' });
  });

  it("a branch's own chain names people; a decision stops the chain", async () => {
    const { t, create, advance, stored, promptedChats } = await setup();
    const a = await create('porto', { actionType: 'refund' });
    expect(promptedChats('porto-tg', a.id)).toEqual(['2001']);
    expect((await stored(a.id)).escalation).toMatchObject({ steps: [{ afterSec: 60, to: ['dario'] }], source: 'branches.porto.escalation.critical' });
    await advance(1 * MIN);
    expect(promptedChats('porto-tg', a.id)).toEqual(['2001', '2002']);

    const b = await create('porto', { actionType: 'refund' });
    const decided = await t.call(`/api/approvals/${b.id}/decision`, { method: 'POST', token: 'manager-token-carla-000001', json: { decision: 'approve' } });
    expect(decided.body.approval.status).toBe('approved');
    await advance(5 * MIN);
    expect(promptedChats('porto-tg', b.id)).toEqual(['2001']);
    expect(await t.running.store.auditEvents.find({ where: { approvalId: b.id, type: 'approval.escalated' } })).toEqual([]);
    // Expired by the default policy (no onTimeout in Porto's chain): never approved.
    const c = await create('porto', { actionType: 'refund', expiresInSec: 600 });
    await advance(11 * MIN);
    expect((await stored(c.id)).decision).toMatchObject({ outcome: 'expired', by: 'system' });
  });

  it('a first round that asks nobody goes to the next step at once (Faro has only owners)', async () => {
    const { t, create, stored, promptedChats, advance } = await setup();
    const a = await create('faro', { actionType: 'data.change' });
    // Due now, not in 15 minutes (the manual clock runs what is due when asked to).
    await advance(0);
    expect((await stored(a.id)).escalation).toMatchObject({ next: 1, history: [{ step: 1, asked: [{ id: 'fatima', name: 'Fatima' }] }] });
    expect(promptedChats('faro-tg', a.id)).toEqual(['3001']);
    // No false "nobody to ask" on the way.
    expect(await t.running.store.auditEvents.find({ where: { approvalId: a.id, type: 'approval.undelivered' } })).toEqual([]);
  });

  it('shows "n of m approvals" and who approved so far on every copy', async () => {
    const { t, create, bot } = await setup();
    await t.running.store.apiTokens.insert({ id: sha256('manager-token-dario-000001'), role: 'manager', subject: 'dario', createdAt: new Date().toISOString() });
    const a = await create('faro', { actionType: 'notice.post', requiredApprovals: 2 });
    expect(bot('faro-tg').prompts.find((p) => p.prompt.approvalId === a.id)!.prompt.progress).toEqual(['Needs 2 approvals from different managers; none yet.']);
    const p = await create('porto', { actionType: 'notice.post', requiredApprovals: 2 });
    const res = await t.call(`/api/approvals/${p.id}/decision`, { method: 'POST', token: 'manager-token-carla-000001', json: { decision: 'approve' } });
    expect(res.status).toBe(202);
    const copies = bot('porto-tg').updates.filter((u) => u.outcome.approvalId === p.id);
    expect(copies.map((u) => [u.ref.chatId, u.outcome.status, u.outcome.prompt!.progress])).toEqual([
      ['2001', 'pending', [expect.stringMatching(/^1 of 2 approvals: Carla \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)\.$/)]],
      ['2002', 'pending', [expect.stringMatching(/^1 of 2 approvals: Carla /)]],
    ]);
    const done = await t.call(`/api/approvals/${p.id}/decision`, { method: 'POST', token: 'manager-token-dario-000001', json: { decision: 'approve' } });
    expect(done.body.approval.status).toBe('approved');
    expect(bot('porto-tg').updates.at(-1)!.outcome.prompt!.progress).toEqual([expect.stringMatching(/^2 of 2 approvals: Carla \(.*\), Dario \(.*\)\.$/)]);
  });
});

describe('escalation chains in the config', () => {
  const parse = (approvals: string, extra = '') => {
    try {
      parseConfig(
        {
          ...(extra ? { business: { name: 'B', opsAlerts: { agent: 'lis-tg', chat: '1' } } } : {}),
          approvals: JSON.parse(approvals),
          branches: [{ id: 'lisboa', name: 'Lisboa', managers: [{ id: 'ana', name: 'Ana', role: 'owner', telegram: '1' }], agents: [{ id: 'lis-tg', channel: 'telegram', token: 't' }], escalation: { high: { then: [{ afterSec: 60, to: ['rui'] }] } } }],
        },
        {},
      );
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.issues.map((i) => `${i.path}: ${i.message}`);
    }
  };

  it('names every target that cannot be asked and every step out of order', () => {
    const issues = parse('{"escalateAfterSec": {"low": 60}, "escalation": {"low": {"then": [{"afterSec": 600, "to": ["owner"]}, {"afterSec": 300, "to": ["ana", "ops"]}]}}}');
    expect(issues).toEqual([expect.stringMatching(/^approvals\.escalation\.low\.then\[1\]\.afterSec: expected more than the step before \(600\)/)]);
    const cross = parse('{"escalateAfterSec": {"low": 60}, "escalation": {"low": {"then": [{"afterSec": 600, "to": ["owner"]}, {"afterSec": 900, "to": ["ana", "ops"]}]}}}');
    expect(cross.sort()).toEqual([
      "branches[0].escalation.high.then[0].to[0]: unknown manager 'rui' at branch 'lisboa' (known: ana)",
      "approvals.escalation.low.then[1].to[0]: 'ana' is not a role (operator, manager, owner) or \"ops\"; a manager id can only be named in a branch's own escalation",
      'approvals.escalation.low.then[1].to[1]: "ops" asks the business\'s ops chat: configure business.opsAlerts first',
      'approvals.escalateAfterSec.low: give low risk one escalation: either escalateAfterSec.low or escalation.low (a chain; its step {afterSec: 60, to: [owner]} is the same)',
    ].sort());
    expect(parse('{"escalation": {"default": {"ask": ["manager"], "then": [{"afterSec": 60, "to": ["ops"]}], "onTimeout": "never"}}}', 'ops')).toEqual([
      expect.stringMatching(/^approvals\.escalation\.default\.onTimeout: expected "expire" \(never approved\) or "reject"/),
    ]);
  });
});
