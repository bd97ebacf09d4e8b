import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BOT_API_ERRORS, botApiStandIn, type BotApiStandIn } from '../helpers/bot-api-stand-in.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const TOKEN = '123456:TEST-TOKEN-for-the-stand-in';
const SECRET = 'webhook-secret-for-the-handler-error-tests';
const AGENT_TOKEN = 'agent-token-telegram-handler-errors';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", webhookUrl: "https://bot.example.test", webhookSecret: "\${TG_SECRET}" }
`;

/**
 * Every Telegram handler's failure is contained and logged with its reason:
 * a webhook update whose handler fails is answered 200 (Telegram would
 * otherwise resend it forever, holding up the ones behind it), and a failed
 * follow-up call is logged instead of dropped.
 */
describe('Telegram handler failures are contained and logged', () => {
  let api: BotApiStandIn;
  let t: TestCoordinator;
  let nextUpdate = 1;
  const post = (update: Record<string, unknown>) =>
    t.call('/webhooks/telegram/lis-tg', { method: 'POST', token: null, json: { update_id: nextUpdate++, ...update }, headers: { 'x-telegram-bot-api-secret-token': SECRET } });

  beforeAll(async () => {
    api = await botApiStandIn();
    t = await startTestCoordinator({ yaml: YAML, env: { TG_TOKEN: TOKEN, TG_SECRET: SECRET, TELEGRAM_API_ROOT: api.url, HEALTH_INTERVAL_MS: '1000' } });
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    await until('lis-tg up', async () => (await t.running.store.agents.get('lis-tg'))?.status === 'up');
  });
  afterAll(async () => {
    await t.close();
    await api.close();
  });

  it('a webhook update whose handler throws (the reply is refused) is answered 200 and logged with its update id', async () => {
    api.answer('sendMessage', () => BOT_API_ERRORS.blocked);
    try {
      const updateId = nextUpdate;
      const res = await post({ message: { message_id: 7, date: 1_767_000_000, chat: { id: 1001, type: 'private' }, from: { id: 1001, is_bot: false, first_name: 'Ana' }, text: '/start', entities: [{ type: 'bot_command', offset: 0, length: 6 }] } });
      expect(res.status).toBe(200);
      const line = await until('the log line', () => t.logs.find((e) => e.message === 'telegram update failed; skipped'));
      expect(line).toMatchObject({ level: 'error', agentId: 'lis-tg', updateId });
      expect(String((line.error as { message?: string } | undefined)?.message ?? line.error)).toMatch(/bot was blocked by the user/);
    } finally {
      api.answer('sendMessage', undefined);
    }
  });

  it('Reject: a failed button answer and a failed reason question are logged with their reasons; the rejection stands', async () => {
    const created = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 10 EUR' } });
    expect(created.status).toBe(201);
    const promptCall = await until('the prompt', () => api.calls.find((c) => c.method === 'sendMessage' && String(c.params.text).includes('Refund 10 EUR')));
    const keyboard = (promptCall.params.reply_markup as { inline_keyboard: Array<Array<{ callback_data: string }>> }).inline_keyboard[0]!;
    const promptMessageId = await until('the prompt delivery', async () => (await t.running.store.approvals.get(created.body.approval.id))?.deliveries.find((d) => d.status === 'sent')?.messageId);

    api.answer('answerCallbackQuery', () => ({ ok: false, error_code: 400, description: 'Bad Request: query is too old and response timeout expired or query ID is invalid' }));
    api.answer('sendMessage', () => BOT_API_ERRORS.blocked);
    try {
      const res = await post({
        callback_query: {
          id: 'cb-1',
          from: { id: 1001, is_bot: false, first_name: 'Ana' },
          chat_instance: 'ci',
          data: keyboard[1]!.callback_data,
          message: { message_id: Number(promptMessageId), date: 1_767_000_000, chat: { id: 1001, type: 'private' }, text: 'Approval needed' },
        },
      });
      expect(res.status).toBe(200);
      await until('rejected', async () => (await t.running.store.approvals.get(created.body.approval.id))?.status === 'rejected');
      const answer = await until('the answer failure', () => t.logs.find((e) => String(e.message).startsWith('could not answer the button press')));
      expect(answer).toMatchObject({ level: 'warn', approvalId: created.body.approval.id });
      const question = await until('the reason question failure', () => t.logs.find((e) => e.message === 'could not ask for the rejection reason'));
      expect(question).toMatchObject({ level: 'warn', approvalId: created.body.approval.id, chatId: '1001' });
    } finally {
      api.answer('answerCallbackQuery', undefined);
      api.answer('sendMessage', undefined);
    }
  });
});
