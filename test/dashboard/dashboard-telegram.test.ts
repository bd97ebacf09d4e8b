import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTelegramEmulator, type StoredBotUpdate, type TelegramServer as TelegramServerType } from '../helpers/telegram-emulator.js';
import { hashPassword } from '../../src/dashboard/password-hash.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';
import { signIn } from './dashboard-setup.js';

const TOKEN = '123456:TEST-TOKEN-for-the-dashboard-test';
const AGENT_TOKEN = 'agent-token-dashboard-telegram-1';
const PASSWORD = 'ana-dashboard-password';
const LONG = 120_000;


describe('dashboard decision reaches Telegram (Bot API emulator)', () => {
  let server: TelegramServerType;
  let t: TestCoordinator;
  let b: TestBrowser;

  beforeAll(async () => {
    server = await startTelegramEmulator();
    const yaml = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", pollMinIntervalMs: 50 }
operators:
  - { username: ana, name: Ana Lopes, manager: ana, passwordHash: "${await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })}" }
`;
    t = await startTestCoordinator({ yaml, env: { TG_TOKEN: TOKEN, TELEGRAM_API_ROOT: server.config.apiURL, HEALTH_INTERVAL_MS: '1000' } });
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    await until('lis-tg up', async () => (await t.running.store.agents.get('lis-tg'))?.status === 'up', 30_000);
    b = await launchBrowser();
  }, LONG);
  afterAll(async () => {
    await b?.close();
    await t?.close();
    await server?.stop();
  });

  it(
    'approving on the dashboard edits the same approval message in Telegram to show who decided, via the dashboard',
    async () => {
      const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 45 EUR to order 314' } });
      expect(res.status).toBe(201);
      const approval = res.body.approval as { id: string; code: string };
      const sent = await until('the prompt in Telegram', () => server.storage.botMessages.find((m: StoredBotUpdate) => String(m.message.chat_id) === '1001' && String(m.message.text).includes('Refund 45 EUR')));
      expect((sent.message.reply_markup as { inline_keyboard: unknown[][] }).inline_keyboard[0]).toHaveLength(2);

      const { page } = await b.page();
      await signIn(page, t.running.dashboard.url, 'ana', PASSWORD);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      const item = page.locator(`[data-approval="${approval.id}"]`);
      await item.getByRole('button', { name: /^Approve/ }).click();
      await until('approved', async () => (await t.running.store.approvals.get(approval.id))?.status === 'approved');
      expect((await t.running.store.approvals.get(approval.id))!.decision).toMatchObject({ by: 'ana', via: 'dashboard' });
      // The very message that carried the buttons is edited in place.
      await until('the Telegram edit', () => String(sent.message.text).includes('APPROVED by Ana via dashboard'));
      expect((sent.message.reply_markup as { inline_keyboard: unknown[] }).inline_keyboard).toEqual([]);
      expect(server.storage.botMessages.filter((m: StoredBotUpdate) => String(m.message.text).includes('Refund 45 EUR'))).toHaveLength(1);
      await page.getByLabel('Status').selectOption('');
      await item.getByTestId('decided').filter({ hasText: 'Approved by Ana via dashboard' }).waitFor();
      await b.shot(page, 'approvals-decided-telegram');
      await page.close();
    },
    LONG,
  );
});
