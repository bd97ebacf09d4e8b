import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { interactionBody, slackApiStandIn, slackSignature } from '../helpers/slack-api-stand-in.js';
import { until } from '../helpers/until.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { slackChannel } from '../../src/bots/slack/slack-channel.js';
import type { ChannelFactory } from '../../src/bots/channel-registry.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { sha256 } from '../../src/core/ids.js';
import { fromSlackText } from '../../src/bots/slack/slack-text.js';

const SECRET = 'slack-signing-secret-for-tests';
const AGENT_TOKEN = 'agent-token-slack-tests-0001';
const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, slack: U0ANA0001 }
    agents:
      - { id: lis-slack, channel: slack, botToken: xoxb-test-token, signingSecret: "${SECRET}", approvalsChannel: C0APPROVE }
`;


describe('Slack bot agent (Bolt) with signed requests and a stand-in Web API', () => {
  let api: Awaited<ReturnType<typeof slackApiStandIn>>;
  let t: TestCoordinator;

  beforeAll(async () => {
    api = await slackApiStandIn();
    t = await startTestCoordinator({ yaml: YAML, env: { SLACK_API_URL: api.url, HEALTH_INTERVAL_MS: '1000' } });
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    await until('lis-slack up', async () => (await t.running.store.agents.get('lis-slack'))?.status === 'up');
  });
  afterAll(async () => {
    await t.close();
    await api.close();
  });

  const post = (body: string, headers: Record<string, string>) => fetch(`${t.url}/webhooks/slack`, { method: 'POST', body, headers });
  const prompt = async (summary: string) => {
    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary } });
    expect(res.status).toBe(201);
    const shown = summary.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); // as Slack text
    const dm = await until('the DM prompt', () => api.calls('chat.postMessage').find((c) => c.args.channel === 'U0ANA0001' && String(c.args.text).includes(shown)));
    const actions = (dm.args.blocks as Array<{ type: string; block_id?: string; elements?: Array<{ action_id: string; value: string; style?: string }> }>).find((b) => b.type === 'actions')!;
    const ts = api.state.calls.filter((c) => c.method === 'chat.postMessage').indexOf(dm) + 1;
    return { approval: res.body.approval, actions, dm, messageTs: `1700000000.${String(ts).padStart(6, '0')}` };
  };
  const click = (user: string, p: Awaited<ReturnType<typeof prompt>>, which: 'approve' | 'reject') => {
    const button = p.actions.elements!.find((e) => e.action_id === `approval_${which}`)!;
    return interactionBody({
      type: 'block_actions',
      user: { id: user, username: user, team_id: 'T0TEST' },
      team: { id: 'T0TEST', domain: 'test' },
      api_app_id: 'A0TEST',
      token: 'legacy',
      trigger_id: `trigger-${which}-${user}`,
      container: { type: 'message', message_ts: p.messageTs, channel_id: 'D0ANA0001', is_ephemeral: false },
      channel: { id: 'D0ANA0001', name: 'directmessage' },
      message: { type: 'message', ts: p.messageTs, text: 'Approval needed' },
      response_url: 'http://127.0.0.1:9/response',
      actions: [{ type: 'button', action_id: button.action_id, block_id: p.actions.block_id, value: button.value, action_ts: '1700000001.000000' }],
    });
  };

  it('posts a Block Kit prompt with Approve (primary) and Reject (danger) to the manager and the approvals channel', async () => {
    const p = await prompt('Refund 10 EUR to order 1');
    expect(p.actions.elements!.map((e) => [e.action_id, e.style])).toEqual([
      ['approval_approve', 'primary'],
      ['approval_reject', 'danger'],
    ]);
    const blocks = JSON.stringify(p.dm.args.blocks);
    expect(blocks).toContain('"text":"Approval needed: refund"');
    expect(blocks).toContain('*Branch*\\nLisboa');
    expect(blocks).toContain('*Risk*\\n:red_circle: critical');
    expect(blocks).toContain('*Requested by*\\nrefunds');
    expect(blocks).toMatch(/\*Expires\*\\n<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-/);
    expect(api.calls('chat.postMessage').some((c) => c.args.channel === 'C0APPROVE' && String(c.args.text).includes('Refund 10 EUR'))).toBe(true);
  });

  it('a manager click is acked at once, approves, and every copy is updated with chat.update', async () => {
    const p = await prompt('Refund 20 EUR to order 2');
    api.state.delayMs = 1500; // a slow Slack: the ack must not wait for it
    const body = click('U0ANA0001', p, 'approve');
    const started = Date.now();
    const res = await post(body, slackSignature(SECRET, body));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
    await until('approved', async () => (await t.running.store.approvals.get(p.approval.id))?.status === 'approved', 15_000);
    api.state.delayMs = 0;
    const approval = (await t.running.store.approvals.get(p.approval.id))!;
    expect(approval.decision).toMatchObject({ by: 'ana', via: 'slack' });
    const updates = await until('both copies updated', () => {
      const u = api.calls('chat.update').filter((c) => JSON.stringify(c.args.blocks).includes('APPROVED') && String(c.args.text).includes('Refund 20 EUR'));
      return u.length >= 2 ? u : null;
    });
    expect(updates.map((u) => u.args.channel).sort()).toEqual(['C0APPROVE', 'D0ANA0001']);
    expect(JSON.stringify(updates[0].args.blocks)).not.toMatch(/approval_approve/);
  });

  it('a stranger click gets an ephemeral "not allowed" and changes nothing', async () => {
    const p = await prompt('Refund 30 EUR to order 3');
    const body = click('U0STRANGER', p, 'approve');
    expect((await post(body, slackSignature(SECRET, body))).status).toBe(200);
    const eph = await until('ephemeral', () => api.calls('chat.postEphemeral').find((c) => c.args.user === 'U0STRANGER'));
    expect(eph.args.text).toBe('You are not allowed to decide this.');
    expect((await t.running.store.approvals.get(p.approval.id))?.status).toBe('pending');
    expect(await t.running.store.auditEvents.findOne({ approvalId: p.approval.id, type: 'approval.refused' })).toMatchObject({ actor: 'slack user U0STRANGER' });
  });

  it('forged and stale signatures get 401 and change nothing', async () => {
    const p = await prompt('Refund 40 EUR to order 4');
    const body = click('U0ANA0001', p, 'approve');
    // Health checks keep calling auth.test meanwhile; nothing else may happen.
    const others = () => api.state.calls.filter((c) => c.method !== 'auth.test');
    const before = others().length;
    expect((await post(body, slackSignature('wrong-secret', body))).status).toBe(401);
    expect((await post(body, slackSignature(SECRET, body, Math.floor(Date.now() / 1000) - 6 * 60))).status).toBe(401);
    expect((await post(body, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(401);
    expect(t.logs.some((e) => e.level === 'warn' && e.module === 'slack' && /Timestamp is too old/.test(String(e.message)))).toBe(true);
    // A correctly signed click after them is handled (a stranger's: refused in an ephemeral, audited). Bolt refuses a bad
    // signature before any listener runs, so once this one's answer is out, the three refused ones did nothing.
    const probe = click('U0STRANGER4', p, 'approve');
    expect((await post(probe, slackSignature(SECRET, probe))).status).toBe(200);
    await until('the signed click answered', () => api.calls('chat.postEphemeral').find((c) => c.args.user === 'U0STRANGER4'));
    expect(others().slice(before).map((c) => `${c.method} ${String(c.args.user ?? '')}`)).toEqual(['chat.postEphemeral U0STRANGER4']);
    expect((await t.running.store.approvals.get(p.approval.id))?.status).toBe('pending');
    const audits = await t.running.store.auditEvents.find({ where: { approvalId: p.approval.id, type: { in: ['approval.refused', 'approval.approved', 'approval.rejected'] } } });
    expect(audits.map((e) => `${e.type} ${e.actor}`)).toEqual(['approval.refused slack user U0STRANGER4']);
  });

  it('Reject opens a modal; the reason submitted there is stored', async () => {
    const p = await prompt('Refund 50 EUR to order 5');
    const body = click('U0ANA0001', p, 'reject');
    expect((await post(body, slackSignature(SECRET, body))).status).toBe(200);
    const modal = await until('views.open', () => api.calls('views.open').find((c) => c.args.trigger_id === 'trigger-reject-U0ANA0001'));
    expect((await t.running.store.approvals.get(p.approval.id))?.status).toBe('rejected');
    const view = modal.args.view as { callback_id: string; private_metadata: string };
    const submission = interactionBody({
      type: 'view_submission',
      user: { id: 'U0ANA0001', username: 'ana', team_id: 'T0TEST' },
      team: { id: 'T0TEST', domain: 'test' },
      api_app_id: 'A0TEST',
      token: 'legacy',
      trigger_id: 'trigger-submit',
      view: { id: 'V0TEST', type: 'modal', callback_id: view.callback_id, private_metadata: view.private_metadata, state: { values: { reason: { value: { type: 'plain_text_input', value: 'order was cancelled' } } } }, hash: 'h', team_id: 'T0TEST', app_id: 'A0TEST', bot_id: 'B0BOT' },
    });
    expect((await post(submission, slackSignature(SECRET, submission))).status).toBe(200);
    await until('reason stored', async () => (await t.running.store.approvals.get(p.approval.id))?.decision?.reason === 'order was cancelled');
  });

  it('Reject opens the modal at once, before the decision is done, even when Slack is slow (trigger ids last 3 s)', async () => {
    const p = await prompt('Refund 55 EUR to order 55');
    api.state.delayMs = 1500; // every copy's chat.update takes 1.5 s
    const body = click('U0ANA0001', p, 'reject');
    const clicked = Date.now();
    expect((await post(body, slackSignature(SECRET, body))).status).toBe(200);
    const modal = await until('views.open', () => api.calls('views.open').find((c) => (c.args.view as { private_metadata?: string }).private_metadata === p.approval.id));
    expect(modal.at - clicked).toBeLessThan(1000);
    await until('rejected', async () => (await t.running.store.approvals.get(p.approval.id))?.status === 'rejected', 15_000);
    api.state.delayMs = 0;
    expect(api.calls('views.update')).toHaveLength(0); // a reason is wanted: the modal stays as it is
  });

  it('a stranger pressing Reject sees the refusal in the modal and in an ephemeral; nothing changes', async () => {
    const p = await prompt('Refund 56 EUR to order 56');
    const body = click('U0STRANGER2', p, 'reject');
    expect((await post(body, slackSignature(SECRET, body))).status).toBe(200);
    const update = await until('views.update', () => api.calls('views.update').at(-1));
    expect(JSON.stringify(update.args.view)).toContain('You are not allowed to decide this.');
    expect(JSON.stringify(update.args.view)).not.toContain('"submit"');
    await until('ephemeral', () => api.calls('chat.postEphemeral').find((c) => c.args.user === 'U0STRANGER2'));
    expect((await t.running.store.approvals.get(p.approval.id))?.status).toBe('pending');
  });

  it('a decision made elsewhere (REST API) redraws the Slack copies whole, with who, via which channel, when', async () => {
    const p = await prompt('Refund <!channel> & 57 EUR');
    const MANAGER = 'manager-token-ana-slack-01';
    await t.running.store.apiTokens.insert({ id: sha256(MANAGER), role: 'manager', subject: 'ana', createdAt: new Date().toISOString() });
    expect((await t.call(`/api/approvals/${p.approval.id}/decision`, { method: 'POST', token: MANAGER, json: { decision: 'approve' } })).status).toBe(200);
    const update = await until('chat.update', () => api.calls('chat.update').find((c) => c.args.ts === p.messageTs));
    const blocks = JSON.stringify(update.args.blocks);
    expect(blocks).toContain('"text":"Approval needed: refund"');
    expect(blocks).toMatch(/\*APPROVED\* by Ana via api at <!date\^/);
    expect(blocks).not.toContain('approval_approve');
    // What the agent wrote is shown, never acted on: no channel-wide ping.
    expect(blocks).toContain('Refund &lt;!channel&gt; &amp; 57 EUR');
    expect(String(p.dm.args.text)).toBe('Approval needed: Refund &lt;!channel&gt; &amp; 57 EUR');
  });

  it('long details full of markup still fit Slack\'s block limits (escaped, then cut without splitting an entity)', async () => {
    const details = '<a href="https://x">R&D</a> '.repeat(100); // 2,800 characters that escape to ~4,000
    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund with long details', details } });
    expect(res.status).toBe(201);
    const dm = await until('the DM prompt', () => api.calls('chat.postMessage').find((c) => c.args.channel === 'U0ANA0001' && String(c.args.text).includes('Refund with long details')));
    const section = (dm.args.blocks as Array<{ text?: { text: string } }>).find((b) => b.text?.text.startsWith('*Details*'))!.text!.text;
    expect(section.length).toBeLessThanOrEqual(3000);
    expect(section).toMatch(/…$/);
    expect(section).not.toMatch(/&[a-z]*…$/);
    await until('both deliveries recorded', async () => ((await t.running.store.approvals.get(res.body.approval.id))?.deliveries.filter((d) => d.status === 'sent').length ?? 0) >= 2);
  });

  it('an outcome carries its prompt, so a copy is redrawn whole even by a process that did not post it', async () => {
    const bot = t.running.coordinator.local.bot('lis-slack')!;
    const prompt = { approvalId: 'a-gone', code: 'ZZ99', branchName: 'Lisboa', actionType: 'refund', summary: 'Old refund', riskLevel: 'high', requester: 'refunds', expiresAt: new Date().toISOString() };
    await bot.updateApproval({ chatId: 'C0OLD', messageId: '1600000000.000001' }, { approvalId: 'a-gone', status: 'expired', prompt });
    const update = api.calls('chat.update').find((c) => c.args.channel === 'C0OLD')!;
    expect(JSON.stringify(update.args.blocks)).toContain('Old refund');
    expect(JSON.stringify(update.args.blocks)).toContain('*EXPIRED*');
  });

  it('a pending approval whose progress changed is redrawn with its buttons and the new lines', async () => {
    const bot = t.running.coordinator.local.bot('lis-slack')!;
    const prompt = { approvalId: 'a-quorum', code: 'QQ22', branchName: 'Lisboa', actionType: 'refund', summary: 'Big refund', riskLevel: 'high', requester: 'refunds', expiresAt: new Date().toISOString(), progress: ['1 of 2 approvals: Ana (2026-12-02 10:00 UTC).'] };
    await bot.updateApproval({ chatId: 'C0QUORUM', messageId: '1600000000.000002' }, { approvalId: 'a-quorum', status: 'pending', prompt });
    const blocks = JSON.stringify(api.calls('chat.update').find((c) => c.args.channel === 'C0QUORUM')!.args.blocks);
    expect(blocks).toContain('1 of 2 approvals: Ana (2026-12-02 10:00 UTC).');
    expect(blocks).toContain('approval_approve');
    expect(blocks).toContain('approval_reject');
    expect(blocks).not.toContain('*PENDING*');
  });

  it('a rate-limited Slack (429, Retry-After) is waited out by the client without blocking the coordinator', async () => {
    const bot = t.running.coordinator.local.bot('lis-slack')!;
    api.state.rateLimited.push('chat.postMessage');
    const started = Date.now();
    const sent = bot.send('C0LIMIT', 'after the limit');
    // The event loop keeps serving while the client waits out Retry-After.
    const health = await fetch(`${t.url}/health`);
    expect(health.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(900);
    expect((await sent).messageId).toMatch(/^1700000000\./);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(api.calls('chat.postMessage').filter((c) => c.args.channel === 'C0LIMIT')).toHaveLength(2);
  });

  it('invalid_auth from auth.test is down and needs a person; it comes back when Slack accepts the token again', async () => {
    api.state.authError = 'invalid_auth';
    await t.running.coordinator.monitor.checkNow('lis-slack');
    const agent = await t.running.store.agents.get('lis-slack');
    expect(agent).toMatchObject({ status: 'down', statusReason: expect.stringMatching(/Slack refused the bot token \(invalid_auth\).*needs a person/) });
    api.state.authError = undefined;
    await until('lis-slack up again', async () => (await t.running.store.agents.get('lis-slack'))?.status === 'up');
  });

  it('replies in a thread with replyTo (an incident, a hand-off)', async () => {
    const bot = t.running.coordinator.local.bot('lis-slack')!;
    const first = await bot.send('C0OPS', 'DOWN: x');
    await bot.send('C0OPS', 'RESOLVED: x', { replyTo: first.messageId });
    const posted = api.calls('chat.postMessage').filter((c) => c.args.channel === 'C0OPS');
    expect(posted[0].args.thread_ts).toBeUndefined();
    expect(posted[1].args.thread_ts).toBe(first.messageId);
  });
});

describe('Slack side of a customer hand-off (staff thread)', () => {
  let api: Awaited<ReturnType<typeof slackApiStandIn>>;
  let t: TestCoordinator;
  let wa: FakeBot;
  const HANDOFF_YAML = `
business:
  opsAlerts: { agent: lis-slack, chat: C0OPS }
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, slack: U0ANA0001 }
    agents:
      - { id: lis-wa, channel: whatsapp }
      - { id: lis-slack, channel: slack, botToken: xoxb-test-token, signingSecret: "${SECRET}", staffChannel: C0STAFF }
    responder:
      staff: [{ agent: lis-slack }]
`;

  beforeAll(async () => {
    api = await slackApiStandIn();
    // The real Slack adapter beside a stand-in WhatsApp bot for the customer's side.
    const { registry, bots } = fakeChannels(['whatsapp']);
    registry.register(slackChannel as unknown as ChannelFactory);
    t = await startTestCoordinator({ yaml: HANDOFF_YAML, channels: registry, env: { SLACK_API_URL: api.url, HEALTH_INTERVAL_MS: '1000' }, health: { retryIntervalMs: 200 } });
    wa = bots.get('lis-wa')!;
    await until('agents up', async () => (await t.running.store.agents.find({ where: { kind: 'bot' } })).every((a) => a.status === 'up'));
  });
  afterAll(async () => {
    await t.close();
    await api.close();
  });

  /** A message event as Slack's Events API posts it (JSON, signed). */
  const staffReply = (text: string, threadTs: string, ts: string) => {
    const body = JSON.stringify({
      token: 'legacy',
      team_id: 'T0TEST',
      api_app_id: 'A0TEST',
      type: 'event_callback',
      event_id: `Ev${ts.replace('.', '')}`,
      event_time: Math.floor(Date.now() / 1000),
      event: { type: 'message', channel: 'C0STAFF', channel_type: 'channel', user: 'U0ANA0001', text, ts, thread_ts: threadTs, event_ts: ts },
    });
    return fetch(`${t.url}/webhooks/slack`, { method: 'POST', body, headers: { ...slackSignature(SECRET, body), 'content-type': 'application/json' } });
  };

  it('opens a thread in the staff channel; a thread reply reaches the customer; "resolve" closes the hand-off', async () => {
    wa.emit({ type: 'message', message: { agentId: 'lis-wa', channel: 'whatsapp', chatId: '351922222222@s.whatsapp.net', senderId: '351922222222@s.whatsapp.net', senderPhone: '351922222222', senderName: 'Rita', text: 'Preciso de falar com uma pessoa', at: new Date().toISOString() } });
    const root = await until('the hand-off in #staff', () => api.calls('chat.postMessage').find((c) => c.args.channel === 'C0STAFF' && String(c.args.text).includes('Rita')));
    expect(root.args.thread_ts).toBeUndefined();
    const rootTs = `1700000000.${String(api.state.calls.filter((c) => c.method === 'chat.postMessage').indexOf(root) + 1).padStart(6, '0')}`;

    // The customer writes again: it goes under the thread, not as a new post.
    wa.emit({ type: 'message', message: { agentId: 'lis-wa', channel: 'whatsapp', chatId: '351922222222@s.whatsapp.net', senderId: '351922222222@s.whatsapp.net', text: 'É urgente', at: new Date().toISOString() } });
    const under = await until('forwarded into the thread', () => api.calls('chat.postMessage').find((c) => String(c.args.text).includes('É urgente')));
    expect(under.args).toMatchObject({ channel: 'C0STAFF', thread_ts: rootTs });

    const forged = JSON.stringify({ type: 'event_callback', event: { type: 'message', channel: 'C0STAFF', user: 'U0ANA0001', text: 'forged', ts: '1.1', thread_ts: rootTs } });
    expect((await fetch(`${t.url}/webhooks/slack`, { method: 'POST', body: forged, headers: { ...slackSignature('wrong', forged), 'content-type': 'application/json' } })).status).toBe(401);

    expect((await staffReply('Olá Rita, diga', rootTs, '1700000200.000001')).status).toBe(200);
    await until('relayed to the customer', () => wa.sent.find((s) => s.chatId === '351922222222@s.whatsapp.net' && s.text === 'Ana: Olá Rita, diga'));
    expect(wa.sent.some((s) => s.text.includes('forged'))).toBe(false);
    const contact = (await t.running.store.contacts.findOne({ phone: '351922222222' }))!;
    expect((await t.running.store.messages.find({ where: { contactId: contact.id, direction: 'out' } })).map((m) => m.handledBy)).toContain('staff:Ana');

    expect((await staffReply('resolve', rootTs, '1700000300.000001')).status).toBe(200);
    await until('back to the bot', async () => (await t.running.store.conversations.get(contact.id))?.state === 'bot');
    await until('the thread says so', () => api.calls('chat.postMessage').find((c) => c.args.thread_ts === rootTs && String(c.args.text).startsWith('✅ Resolved by Ana')));
  });

  it('customer text is escaped in Slack; a staff reply has Slack markup undone and is signed with the staff member’s name', async () => {
    api.state.users.U0BRUNO01 = 'Bruno';
    wa.emit({ type: 'message', message: { agentId: 'lis-wa', channel: 'whatsapp', chatId: '351933333333@s.whatsapp.net', senderId: '351933333333@s.whatsapp.net', senderPhone: '351933333333', senderName: 'Eve <!channel>', text: 'atendente <!channel> <https://evil.example|A sua encomenda>', at: new Date().toISOString() } });
    const root = await until('the hand-off in #staff', () => api.calls('chat.postMessage').find((c) => c.args.channel === 'C0STAFF' && String(c.args.text).includes('Eve')));
    expect(String(root.args.text)).not.toMatch(/<!channel>|<https:/);
    expect(String(root.args.text)).toContain('Eve &lt;!channel&gt;');
    expect(String(root.args.text)).toContain('&lt;https://evil.example|A sua encomenda&gt;');
    const rootTs = `1700000000.${String(api.state.calls.filter((c) => c.method === 'chat.postMessage').indexOf(root) + 1).padStart(6, '0')}`;
    // Bruno is staff in #staff but not a configured manager; he replies with "Also send to channel" (thread_broadcast).
    const body = JSON.stringify({
      type: 'event_callback',
      team_id: 'T0TEST',
      api_app_id: 'A0TEST',
      event_id: 'Ev0BRUNO',
      event_time: Math.floor(Date.now() / 1000),
      event: { type: 'message', subtype: 'thread_broadcast', channel: 'C0STAFF', channel_type: 'channel', user: 'U0BRUNO01', text: 'Veja &lt;aqui&gt; &amp; <https://loja.example/p|a loja> <@U0ANA0001>', ts: '1700000400.000001', thread_ts: rootTs, event_ts: '1700000400.000001' },
    });
    expect((await fetch(`${t.url}/webhooks/slack`, { method: 'POST', body, headers: { ...slackSignature(SECRET, body), 'content-type': 'application/json' } })).status).toBe(200);
    const relayed = await until('relayed', () => wa.sent.find((s) => s.chatId === '351933333333@s.whatsapp.net' && s.text.startsWith('Bruno: ')));
    expect(relayed.text).toBe('Bruno: Veja <aqui> & a loja (https://loja.example/p) @U0ANA0001');
  });

  it('a Slack DM from a workspace member is not taken for a customer', async () => {
    const before = await t.running.store.contacts.count({});
    const body = JSON.stringify({ type: 'event_callback', team_id: 'T0TEST', api_app_id: 'A0TEST', event_id: 'Ev0DM', event_time: Math.floor(Date.now() / 1000), event: { type: 'message', channel: 'D0CARLA', channel_type: 'im', user: 'U0CARLA01', text: 'olá bot', ts: '1700000500.000001', event_ts: '1700000500.000001' } });
    expect((await fetch(`${t.url}/webhooks/slack`, { method: 'POST', body, headers: { ...slackSignature(SECRET, body), 'content-type': 'application/json' } })).status).toBe(200);
    await until('users.info asked', () => api.calls('users.info').find((c) => c.args.user === 'U0CARLA01'));
    await t.running.coordinator.conversations.idle();
    expect(await t.running.store.contacts.count({})).toBe(before);
    expect(api.calls('chat.postMessage').some((c) => c.args.channel === 'D0CARLA')).toBe(false);
  });

  it('health alerts go to the ops channel, threaded per incident: DOWN starts the thread, RESOLVED answers in it', async () => {
    wa.health = 'fail';
    const down = await until('DOWN in #ops', () => api.calls('chat.postMessage').find((c) => c.args.channel === 'C0OPS' && String(c.args.text).startsWith('DOWN: lis-wa')), 15_000);
    expect(down.args.thread_ts).toBeUndefined();
    const downTs = `1700000000.${String(api.state.calls.filter((c) => c.method === 'chat.postMessage').indexOf(down) + 1).padStart(6, '0')}`;
    wa.health = 'ok';
    const resolved = await until('RESOLVED in #ops', () => api.calls('chat.postMessage').find((c) => c.args.channel === 'C0OPS' && String(c.args.text).startsWith('RESOLVED: lis-wa')), 15_000);
    expect(resolved.args.thread_ts).toBe(downTs);
  });
});

describe('Slack text', () => {
  it('turns Slack markup into plain text', () => {
    expect(fromSlackText('a <https://x.example/p?a=1&amp;b=2|the | shop> &lt;b&gt; <!here|> <!channel> <mailto:a@b.c|> <#C1|general> <@U1>')).toBe(
      'a the | shop (https://x.example/p?a=1&b=2) <b> @here @channel a@b.c #general @U1',
    );
  });
});
