import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTelegramEmulator, type StoredBotUpdate, type TelegramServer as TelegramServerType } from '../helpers/telegram-emulator.js';
import type { BotEvent } from '../../src/bots/bot-agent.js';
import { until } from '../helpers/until.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

const TOKEN = '123456:TEST-TOKEN-for-the-emulator';
const AGENT_TOKEN = 'agent-token-telegram-tests-1';
const TG_SECRET = 'telegram-webhook-secret-for-tests';



const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", webhookSecret: "\${TG_SECRET}", pollMinIntervalMs: 50 }
`;

describe('Telegram bot agent against the Bot API emulator', () => {
  let server: TelegramServerType;
  let t: TestCoordinator;
  const events: BotEvent[] = [];

  beforeAll(async () => {
    server = await startTelegramEmulator();
    t = await startTestCoordinator({ yaml: YAML, env: { TG_TOKEN: TOKEN, TG_SECRET, TELEGRAM_API_ROOT: server.config.apiURL, HEALTH_INTERVAL_MS: '1000' } });
    t.running.coordinator.hosts.onEvent((e) => events.push(e));
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    await until('lis-tg up', async () => (await t.running.store.agents.get('lis-tg'))?.status === 'up');
  });
  afterAll(async () => {
    await t.close();
    await server.stop();
  });

  const prompt = async (summary: string) => {
    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary } });
    expect(res.status).toBe(201);
    const sent = await until('the prompt in Telegram', () => server.storage.botMessages.find((m: StoredBotUpdate) => String(m.message.chat_id) === '1001' && String(m.message.text).includes(summary)));
    const keyboard = (sent.message.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> }).inline_keyboard[0];
    return { approval: res.body.approval, messageId: sent.messageId, approve: keyboard[0].callback_data, reject: keyboard[1].callback_data, stored: sent };
  };
  const status = async (id: string) => (await t.running.store.approvals.get(id))?.status;

  it('sends the prompt with Approve/Reject buttons whose callback data fits 64 bytes', async () => {
    const p = await prompt('Refund 20 EUR to order 1');
    expect(p.stored.message.text).toMatch(/Approval needed — refund \([A-Z2-9]{6}\)\nRefund 20 EUR to order 1\n.*Risk: 🔴 critical/s);
    expect(Buffer.byteLength(p.approve)).toBeLessThanOrEqual(64);
    // The stored delivery (the requester's own view of it leaves out the managers' chat identities).
    // (Recorded once Telegram answered the send, so possibly a moment after the message shows in the chat.)
    const stored = await until('the delivery recorded', async () => {
      const a = await t.running.store.approvals.get(p.approval.id);
      return a && a.deliveries.length > 0 ? a : null;
    });
    expect(stored.deliveries[0]).toMatchObject({ channel: 'telegram', agentId: 'lis-tg', chatId: '1001', status: 'sent', messageId: String(p.messageId) });
  });

  it('a manager presses Approve: approved, callback answered, keyboard gone and outcome shown', async () => {
    const p = await prompt('Refund 30 EUR to order 2');
    const ana = server.getClient(TOKEN, { userId: 1001, chatId: 1001, firstName: 'Ana' });
    await ana.sendCallback(ana.makeCallbackQuery(p.approve, { message: { message_id: p.messageId } }));
    await until('approved', async () => (await status(p.approval.id)) === 'approved');
    const approval = (await t.running.store.approvals.get(p.approval.id))!;
    expect(approval.decision).toMatchObject({ by: 'ana', byName: 'Ana', via: 'telegram' });
    await until('the edit', () => String(p.stored.message.text).includes('APPROVED by Ana via telegram'));
    expect((p.stored.message.reply_markup as { inline_keyboard: unknown[] }).inline_keyboard).toEqual([]);
    await until('the callback answer', () => t.logs.some((e) => String(e.message).startsWith('answered callback: Approved') && e.agentId === 'lis-tg'));
  });

  it('a stranger presses: nothing changes, the refusal is audited; forged button data is ignored', async () => {
    const p = await prompt('Refund 40 EUR to order 3');
    const stranger = server.getClient(TOKEN, { userId: 999, chatId: 999, firstName: 'Eve' });
    await stranger.sendCallback(stranger.makeCallbackQuery(p.approve, { message: { message_id: p.messageId } }));
    await until('refusal audited', async () => (await t.running.store.auditEvents.findOne({ approvalId: p.approval.id, type: 'approval.refused' }))?.actor === 'telegram user 999');
    const ana = server.getClient(TOKEN, { userId: 1001, chatId: 1001 });
    await ana.sendCallback(ana.makeCallbackQuery(`ap:${p.approval.id}:y:AAAAAAAAAA`, { message: { message_id: p.messageId } }));
    await until('forged data logged', () => t.logs.some((e) => e.message === 'callback with invalid data ignored'));
    expect(await status(p.approval.id)).toBe('pending');
    await until('the refusal answer', () => t.logs.some((e) => String(e.message) === 'answered callback: You are not allowed to decide this.'));
  });

  it('a decision made through the REST API edits the Telegram message', async () => {
    const p = await prompt('Refund 50 EUR to order 4');
    const res = await t.call(`/api/approvals/${p.approval.id}/decision`, { method: 'POST', json: { decision: 'reject', reason: 'duplicate' } });
    expect(res.status).toBe(200);
    await until('the edit', () => String(p.stored.message.text).includes('REJECTED by admin via api'));
    expect(String(p.stored.message.text)).toMatch(/reason: duplicate/);
  });

  it('a long prompt and a long reason still make an edit Telegram takes (4096 characters), outcome line whole', async () => {
    const details = 'x'.repeat(3000);
    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary: 'S'.repeat(500), details } });
    expect(res.status).toBe(201);
    const sent = await until('the long prompt', () => server.storage.botMessages.find((m: StoredBotUpdate) => String(m.message.text).includes('S'.repeat(500))));
    const reason = 'r'.repeat(1000);
    expect((await t.call(`/api/approvals/${res.body.approval.id}/decision`, { method: 'POST', json: { decision: 'reject', reason } })).status).toBe(200);
    await until('the edit', () => String(sent.message.text).includes('REJECTED by admin via api'));
    expect(String(sent.message.text).length).toBeLessThanOrEqual(4096);
    expect(String(sent.message.text).endsWith(`reason: ${reason}`)).toBe(true);
  });

  it('Reject then a reply with the reason stores the reason', async () => {
    const p = await prompt('Refund 60 EUR to order 5');
    const ana = server.getClient(TOKEN, { userId: 1001, chatId: 1001, firstName: 'Ana' });
    await ana.sendCallback(ana.makeCallbackQuery(p.reject, { message: { message_id: p.messageId } }));
    await until('rejected', async () => (await status(p.approval.id)) === 'rejected');
    await until('the reason question', () => server.storage.botMessages.some((m: StoredBotUpdate) => String(m.message.text).startsWith('Rejected. If you want to give a reason')));
    await ana.sendMessage(ana.makeMessage('customer already refunded', { reply_to_message: { message_id: p.messageId } as never }));
    await until('reason stored', async () => (await t.running.store.approvals.get(p.approval.id))?.decision?.reason === 'customer already refunded');
  });

  it('customer messages become inbound events; /start from a manager greets them as a manager', async () => {
    const customer = server.getClient(TOKEN, { userId: 5001, chatId: 5001, firstName: 'Rui' });
    await customer.sendMessage(customer.makeMessage('Qual é o câmbio do euro?'));
    const event = await until('inbound message', () => events.find((e) => e.type === 'message' && e.message.senderId === '5001'));
    expect(event).toMatchObject({ type: 'message', message: { agentId: 'lis-tg', channel: 'telegram', chatId: '5001', senderName: 'Rui', text: 'Qual é o câmbio do euro?' } });
    const ana = server.getClient(TOKEN, { userId: 1001, chatId: 1001, firstName: 'Ana' });
    await ana.sendCommand(ana.makeCommand('/start'));
    await until('greeting', () => server.storage.botMessages.some((m: StoredBotUpdate) => String(m.message.chat_id) === '1001' && String(m.message.text).startsWith('Hello Ana. You are set up as a manager of Lisboa')));
    // /start from anyone else is a customer arriving, handed to the conversation side.
    await customer.sendCommand(customer.makeCommand('/start'));
    await until('customer /start', () => events.find((e) => e.type === 'message' && e.message.senderId === '5001' && e.message.text === '/start'));
    expect(server.storage.botMessages.some((m: StoredBotUpdate) => String(m.message.chat_id) === '5001' && String(m.message.text).startsWith('Hello'))).toBe(false);
  });

  it('the webhook endpoint refuses requests without the right secret token, changing nothing', async () => {
    const update = (id: number, text: string) => ({ update_id: id, message: { message_id: id, date: 1, chat: { id: 7, type: 'private' }, from: { id: 7, is_bot: false, first_name: 'X' }, text } });
    const none = await t.call('/webhooks/telegram/lis-tg', { method: 'POST', token: null, json: update(99, 'refused without a secret') });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    const wrong = await t.call('/webhooks/telegram/lis-tg', { method: 'POST', token: null, json: update(100, 'refused with a guess'), headers: { 'x-telegram-bot-api-secret-token': 'guess' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthorized');
    const unknown = await t.call('/webhooks/telegram/nope', { method: 'POST', token: null, json: update(101, 'refused: no such agent'), headers: { 'x-telegram-bot-api-secret-token': TG_SECRET } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    // The same update with the secret is handled before its 200 is sent: it is an event by then, and the refused ones are not.
    const right = await t.call('/webhooks/telegram/lis-tg', { method: 'POST', token: null, json: update(102, 'accepted with the secret'), headers: { 'x-telegram-bot-api-secret-token': TG_SECRET } });
    expect(right.status).toBe(200);
    const from7 = events.filter((e) => e.type === 'message' && e.message.senderId === '7').map((e) => e.type === 'message' && e.message.text);
    expect(from7).toEqual(['accepted with the secret']);
  });
});

describe('Telegram probe with a revoked token', () => {
  let standIn: Server;
  beforeAll(async () => {
    // Stands in for api.telegram.org answering a revoked token (the emulator accepts every token).
    standIn = createServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error_code: 401, description: 'Unauthorized' }));
    });
    await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise((r) => standIn.close(r));
  });

  it('shows the agent down with the reason, and does not restart it in a loop', async () => {
    const url = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
    const t = await startTestCoordinator({ yaml: YAML, env: { TG_TOKEN: TOKEN, TG_SECRET, TELEGRAM_API_ROOT: url, HEALTH_INTERVAL_MS: '1000' }, health: { restartBaseMs: 100 } });
    try {
      const agent = await until('lis-tg down', async () => {
        const a = await t.running.store.agents.get('lis-tg');
        return a?.status === 'down' ? a : null;
      });
      expect(agent.statusReason).toMatch(/Telegram refused the token \(401 Unauthorized\).*revoked/);
      // A restart would be scheduled in the same check that found it down; two more checks later
      // (one interval apart, each still refused), that decision has been taken twice over.
      const checks = await t.running.store.healthChecks.count({ agentId: 'lis-tg' });
      await until('two more health checks', async () => (await t.running.store.healthChecks.count({ agentId: 'lis-tg' })) >= checks + 2);
      expect((await t.running.store.agents.get('lis-tg'))?.status).toBe('down');
      expect(t.logs.filter((e) => /restart #/.test(String(e.message)))).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
