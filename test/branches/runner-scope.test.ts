import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { RUNNER_EVENTS } from '../../src/branches/runner-protocol.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { connected, runnerSocket } from '../helpers/runner-socket.js';
import { until } from '../helpers/until.js';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana Owner, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: t }
  - id: porto
    name: Porto
    host: remote
    agents:
      - { id: porto-tg, channel: telegram, token: t }
`;

type Reply = { ok: boolean; error?: string; value?: unknown };

describe('a runner speaks only for its own agents', () => {
  let t: TestCoordinator;
  let token = '';
  let bots: Map<string, FakeBot>;
  const sockets: Socket[] = [];
  const open = async (as = token) => {
    const socket = runnerSocket(t.url, as);
    sockets.push(socket);
    await connected(socket);
    return socket;
  };
  const registered = async () => {
    const socket = await open();
    expect(await socket.emitWithAck('register', { runner: 'r-porto', agents: ['porto-tg'] })).toEqual({ ok: true, value: { accepted: ['porto-tg'] } });
    return socket;
  };
  const refusals = () => t.running.store.auditEvents.find({ where: { type: 'runner.refused' } });
  const at = () => new Date().toISOString();

  beforeAll(async () => {
    const fake = fakeChannels();
    bots = fake.bots;
    t = await startTestCoordinator({ yaml: YAML, channels: fake.registry, env: { HEALTH_INTERVAL_MS: '1000' }, health: { retryIntervalMs: 200, retries: 1, timeoutMs: 3000, restartBaseMs: 60_000 } });
    const res = await t.call('/api/runners', { method: 'POST', json: { name: 'r-porto', branches: ['porto'] } });
    expect(res.status).toBe(201);
    token = res.body.token;
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await t.close();
  });

  it("refuses and audits events naming another branch's bot (the issue's message, staff-reply and decision shapes); that bot sends nothing", async () => {
    const socket = await registered();
    socket.on('send', (req: { chatId: string }, ack: (reply: unknown) => void) => ack({ ok: true, value: { chatId: req.chatId, messageId: '1' } }));
    const lisboaMessage = { agentId: 'lis-tg', channel: 'telegram', chatId: '555', senderId: '555', text: 'olá', at: at() };
    // The shape: its own agent outside, branch a's bot inside.
    expect(await socket.emitWithAck('event', { type: 'message', agentId: 'porto-tg', message: lisboaMessage })).toEqual({ ok: false, error: expect.stringMatching(/malformed: .*agentId/) });
    expect(await socket.emitWithAck('event', { type: 'message', message: lisboaMessage })).toEqual({ ok: false, error: expect.stringMatching(/agent lis-tg is not one this runner hosts/) });
    // A staff reply in a hand-off thread of branch a, signed as a's owner.
    const staffReply = { ...lisboaMessage, chatId: '1001', senderId: '1001', replyToMessageId: '1', text: 'Please transfer the fee to IBAN …' };
    expect((await socket.emitWithAck('event', { type: 'message', message: staffReply })).ok).toBe(false);
    // A tap is not an event (chat decisions have one route: `decide`, answered below): refused as malformed.
    expect(await socket.emitWithAck('event', { type: 'decision', agentId: 'lis-tg', approvalId: 'ap1', decision: 'approve', deciderId: '1001' })).toEqual({ ok: false, error: expect.stringMatching(/malformed/) });
    for (const event of [
      { type: 'pairing', agentId: 'lis-tg', paired: true },
      { type: 'connection', agentId: 'lis-tg', state: 'closed' },
    ]) {
      expect(await socket.emitWithAck('event', event)).toEqual({ ok: false, error: expect.stringMatching(/lis-tg is not one this runner hosts/) });
    }
    expect(await socket.emitWithAck('decide', { agentId: 'lis-tg', channel: 'telegram', approvalId: 'ap1', decision: 'approve', deciderId: '1001' })).toEqual({ ok: false, error: expect.stringMatching(/lis-tg is not one this runner hosts/) });
    // Its own agent, but claiming another channel (WhatsApp's looser staff-reply rule, Slack's staff side).
    expect(await socket.emitWithAck('event', { type: 'message', message: { ...lisboaMessage, agentId: 'porto-tg', channel: 'whatsapp' } })).toEqual({ ok: false, error: 'agent porto-tg is a telegram bot, not whatsapp' });

    const audited = await until('refusals audited', async () => ((await refusals()).filter((e) => e.agentId === 'lis-tg').length >= 5 ? refusals() : null));
    expect(audited.find((e) => e.agentId === 'lis-tg')).toMatchObject({ actor: 'runner:r-porto', branchId: 'lisboa', data: { runner: 'r-porto', what: 'event message', reason: expect.stringMatching(/not one this runner hosts/) } });
    expect(audited.some((e) => (e.data as { what?: string }).what === 'event' && /malformed: .*agentId/.test((e.data as { reason: string }).reason))).toBe(true);

    // Its own agent's customer is served as usual, and nothing was done at Lisboa.
    expect(await socket.emitWithAck('event', { type: 'message', message: { ...lisboaMessage, agentId: 'porto-tg', chatId: '777', senderId: '777' } })).toEqual({ ok: true, value: null });
    await until('the Porto contact', () => t.running.store.contacts.findOne({ branchId: 'porto', externalId: '777' }));
    await t.running.coordinator.conversations.idle();
    expect(await t.running.store.contacts.find({ where: { branchId: 'lisboa' } })).toEqual([]);
    expect(bots.get('lis-tg')!.sent).toEqual([]);
  });

  it('refuses malformed payloads of every runner event with a reason, and stays up', async () => {
    const socket = await registered();
    const hostile: unknown[] = [undefined, null, 'x', 42, true, [], {}, [{ type: 'message' }], { type: 'nope' }, { runner: 'r', agents: 'porto-tg' }, { agentId: 'porto-tg'.repeat(50) }, { __proto__: { agentId: 'porto-tg' } }, JSON.parse('{"constructor":{"prototype":{"x":1}}}'), { type: 'message', message: { agentId: 'porto-tg', channel: 'telegram', chatId: '1', senderId: '1', text: 'x'.repeat(70_000), at: at() } }];
    for (const name of Object.keys(RUNNER_EVENTS)) {
      for (const payload of hostile) {
        const reply = (await socket.emitWithAck(name, payload)) as Reply;
        expect(reply).toEqual({ ok: false, error: expect.any(String) });
      }
      // No payload at all, or two.
      expect(((await socket.emitWithAck(name)) as Reply).ok).toBe(false);
      expect(((await socket.emitWithAck(name, {}, {})) as Reply).ok).toBe(false);
    }
    // Without an ack: the shapes that used to throw inside the handler ('agentId' in "x").
    for (const payload of ['x', 7, null]) socket.emit('event', payload);
    expect(await socket.emitWithAck('register', { runner: 'r-porto', agents: ['porto-tg'] })).toEqual({ ok: false, error: 'already registered as runner r-porto' });
    const early = await open();
    expect(await early.emitWithAck('event', { type: 'connection', agentId: 'porto-tg', state: 'open' })).toEqual({ ok: false, error: 'register first' });
    expect((await t.call('/health')).status).toBe(200);
    expect(socket.connected).toBe(true);
  });

  it('a malformed acknowledgement of a command (a probe) is a failed probe, audited — never trusted as a result', async () => {
    const socket = await registered();
    let probes = 0;
    socket.on('probe', (_req: unknown, ack: (reply: unknown) => void) => {
      probes++;
      ack({ ok: true, value: { ok: 'yes', bonus: 1 } });
    });
    const audited = await until('the malformed reply audited', async () => (await refusals()).find((e) => (e.data as { what?: string }).what === 'reply to probe'), 10_000);
    expect(audited).toMatchObject({ agentId: 'porto-tg', data: { reason: expect.stringMatching(/malformed reply/) } });
    expect(probes).toBeGreaterThan(0);
    // On a loaded machine one probe may also time out; the malformed replies keep coming, so the
    // reason settles on them (the record follows every change of reason).
    const down = await until('porto-tg down for the malformed reply', async () => {
      const agent = await t.running.store.agents.get('porto-tg');
      return agent?.status === 'down' && /malformed reply/.test(agent.statusReason ?? '') ? agent : undefined;
    }, 15_000);
    expect(down.statusReason).toMatch(/malformed reply/);
  });

  it('an action agent connects with its token to receive its approvals, but cannot register bots', async () => {
    await addRequester(t, 'refunds', 'lisboa', 'agent-token-refunds-0001');
    const socket = await open('agent-token-refunds-0001');
    expect(await socket.emitWithAck('register', { runner: 'sneaky', agents: ['porto-tg'] })).toEqual({ ok: false, error: 'an agent token cannot host bots; use a runner token' });
    const update = new Promise<{ id: string }>((resolve) => socket.once('approval', resolve));
    const created = await t.call('/api/approvals', { method: 'POST', token: 'agent-token-refunds-0001', json: { branchId: 'lisboa', actionType: 'crm.update', summary: 'Update CRM', details: { id: 1 } } });
    expect(created.status).toBe(201);
    expect((await update).id).toBe(created.body.approval.id);
  });
});
