import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTelegramEmulator, type StoredBotUpdate, type TelegramServer } from '../helpers/telegram-emulator.js';
import { until } from '../helpers/until.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

const TOKEN = '123457:PROGRESS-TESTS-for-the-emulator';
const AGENT_TOKEN = 'agent-token-telegram-progress-1';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    timezone: America/Sao_Paulo
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
      - { id: rui, name: Rui, role: owner, telegram: 1002 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", pollMinIntervalMs: 50 }
`;

type Keyboard = { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> };

/** A request that needs two approvers, in the real Bot API emulator: every copy says how many approved, and who. */
describe('Telegram prompts show where an approval stands', () => {
  let server: TelegramServer;
  let t: TestCoordinator;

  beforeAll(async () => {
    server = await startTelegramEmulator();
    t = await startTestCoordinator({ yaml: YAML, env: { TG_TOKEN: TOKEN, TELEGRAM_API_ROOT: server.config.apiURL, HEALTH_INTERVAL_MS: '1000' } });
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    await until('lis-tg up', async () => (await t.running.store.agents.get('lis-tg'))?.status === 'up');
  });
  afterAll(async () => {
    await t.close();
    await server.stop();
  });

  it('"1 of 2 approvals: Ana" on both copies with the buttons kept, then the outcome with both names', async () => {
    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 900 EUR to order 77', requiredApprovals: 2 } });
    expect(res.status).toBe(201);
    const copyOf = (chat: string) => until(`the prompt to ${chat}`, () => server.storage.botMessages.find((m: StoredBotUpdate) => String(m.message.chat_id) === chat && String(m.message.text).includes('order 77')));
    const [ana, rui] = [await copyOf('1001'), await copyOf('1002')];
    expect(ana.message.text).toContain('Needs 2 approvals from different managers; none yet.');

    const approveOf = (copy: StoredBotUpdate) => (copy.message.reply_markup as Keyboard).inline_keyboard[0][0].callback_data;
    const anaClient = server.getClient(TOKEN, { userId: 1001, chatId: 1001, firstName: 'Ana' });
    await anaClient.sendCallback(anaClient.makeCallbackQuery(approveOf(ana), { message: { message_id: ana.messageId } }));
    for (const copy of [ana, rui]) {
      await until('the count on the copy', () => String(copy.message.text).includes('1 of 2 approvals: Ana ('));
      // São Paulo's zone, and still decidable: both buttons are there.
      expect(String(copy.message.text)).toMatch(/1 of 2 approvals: Ana \(\d{4}-\d\d-\d\d \d\d:\d\d GMT-3\)\./);
      expect((copy.message.reply_markup as Keyboard).inline_keyboard[0].map((b) => b.text)).toEqual(['✅ Approve', '❌ Reject']);
    }
    expect((await t.running.store.approvals.get(res.body.approval.id))?.status).toBe('pending');

    const ruiClient = server.getClient(TOKEN, { userId: 1002, chatId: 1002, firstName: 'Rui' });
    await ruiClient.sendCallback(ruiClient.makeCallbackQuery(approveOf(rui), { message: { message_id: rui.messageId } }));
    for (const copy of [ana, rui]) {
      await until('the outcome on the copy', () => String(copy.message.text).includes('APPROVED by Rui via telegram'));
      expect(String(copy.message.text)).toMatch(/2 of 2 approvals: Ana \(.*\), Rui \(.*\)\./);
      expect((copy.message.reply_markup as Keyboard).inline_keyboard).toEqual([]);
    }
  });
});
