import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { interactionBody, slackApiStandIn, slackSignature } from '../helpers/slack-api-stand-in.js';
import { until } from '../helpers/until.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { slackChannel } from '../../src/bots/slack/slack-channel.js';
import type { ChannelFactory } from '../../src/bots/channel-registry.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

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
    const dm = await until('the DM prompt', () => api.calls('chat.postMessage').find((c) => c.args.channel === 'U0ANA0001' && String(c.args.text).includes(summary)));
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
    expect(JSON.stringify(p.dm.args.blocks)).toMatch(/critical/);
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
    const before = api.state.calls.length;
    expect((await post(body, slackSignature('wrong-secret', body))).status).toBe(401);
    expect((await post(body, slackSignature(SECRET, body, Math.floor(Date.now() / 1000) - 6 * 60))).status).toBe(401);
    expect((await post(body, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect((await t.running.store.approvals.get(p.approval.id))?.status).toBe('pending');
    expect(api.state.calls.length).toBe(before);
    expect(t.logs.some((e) => e.level === 'warn' && e.module === 'slack' && /Timestamp is too old/.test(String(e.message)))).toBe(true);
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

  it('invalid_auth from auth.test is down and needs a person; it comes back when Slack accepts the token again', async () => {
    api.state.authError = 'invalid_auth';
    await t.running.coordinator.monitor.checkNow('lis-slack');
    const agent = await t.running.store.agents.get('lis-slack');
    expect(agent).toMatchObject({ status: 'down', statusReason: expect.stringMatching(/Slack refused the bot token \(invalid_auth\).*needs a person/) });
    api.state.authError = undefined;
    await until('lis-slack up again', async () => (await t.running.store.agents.get('lis-slack'))?.status === 'up');
  });

  it('threads health alerts per incident through Slack', async () => {
    const bot = t.running.coordinator.local.bot('lis-slack')!;
    const first = await bot.send('C0OPS', 'DOWN: x', { thread: 'health:x' });
    await bot.send('C0OPS', 'RESOLVED: x', { thread: 'health:x', closeThread: true });
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
