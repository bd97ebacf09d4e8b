import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinatorClient, type Approval } from '../../packages/client/src/index.js';
import { startTelegramEmulator, type StoredBotUpdate, type TelegramServer } from '../helpers/telegram-emulator.js';
import { until } from '../helpers/until.js';
import { startClientWorld, type ClientWorld } from './client-setup.js';

const TG_TOKEN = '123456:CLIENT-TESTS-for-the-emulator';
const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
      - { id: bruno, name: Bruno, role: manager, telegram: 1002 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", pollMinIntervalMs: 50 }
`;

describe('waiting for a decision a manager makes in Telegram (Bot API emulator)', () => {
  let telegram: TelegramServer;
  let w: ClientWorld;

  beforeAll(async () => {
    telegram = await startTelegramEmulator();
    w = await startClientWorld({ yaml: YAML, env: { TG_TOKEN, TELEGRAM_API_ROOT: telegram.config.apiURL, HEALTH_INTERVAL_MS: '1000' } });
    await until('lis-tg up', async () => (await w.t.running.store.agents.get('lis-tg'))?.status === 'up');
  });
  afterAll(async () => {
    await w?.close();
    await telegram?.stop();
  });

  it('requestApproval({wait: true}) answers with Ana’s approval from the inline button', async () => {
    const client = new CoordinatorClient({ baseUrl: w.t.url, token: w.agentToken });
    const summary = 'Refund 25 EUR to order 4242 (duplicate charge)';
    const waiting: Approval[] = [];
    const decided = client.requestApproval({ branchId: 'lisboa', actionType: 'refund', summary, details: { orderId: '4242', amount: 25 } }, { wait: true, onWaiting: (a) => waiting.push(a) });

    const prompt = await until('the prompt in Ana’s chat', () =>
      telegram.storage.botMessages.find((m: StoredBotUpdate) => String(m.message.chat_id) === '1001' && String(m.message.text).includes(summary) && (m.message.reply_markup as { inline_keyboard?: unknown[] } | undefined)?.inline_keyboard?.length),
    );
    await until('the long-poll held', () => w.longPolls() === 1);
    const approve = (prompt.message.reply_markup as { inline_keyboard: Array<Array<{ callback_data: string }>> }).inline_keyboard[0][0].callback_data;
    const ana = telegram.getClient(TG_TOKEN, { userId: 1001, chatId: 1001, firstName: 'Ana' });
    await ana.sendCallback(ana.makeCallbackQuery(approve, { message: { message_id: prompt.messageId } }));

    const approval = await decided;
    expect(waiting.map((a) => a.status)).toEqual(['pending']);
    expect(approval).toMatchObject({ status: 'approved', summary, decision: { by: 'ana', byName: 'Ana', via: 'telegram', payloadHash: waiting[0].payloadHash } });
    // The agent acts, then says so.
    expect(await client.reportResult(approval.id, { success: true, result: { refundId: 'rf_4242' } })).toMatchObject({ status: 'executed' });
  });
});
