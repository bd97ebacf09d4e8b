import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import type { TestCoordinator } from '../helpers/test-coordinator.js';
import type { FakeBot } from '../helpers/fake-channel.js';
import { until } from '../helpers/until.js';
import { PASSWORDS, signIn, startDashboardCoordinator } from './dashboard-setup.js';

const LONG = 90_000;

describe('dashboard Agents panel in Chromium', () => {
  let t: TestCoordinator;
  let bots: Map<string, FakeBot>;
  let url: string;
  let b: TestBrowser;

  beforeAll(async () => {
    ({ t, bots, dashboardUrl: url } = await startDashboardCoordinator());
    await until('bots up', async () => (await t.running.store.agents.find({ where: { kind: 'bot' } })).every((a) => a.status === 'up'), 30_000);
    b = await launchBrowser();
  }, LONG);
  afterAll(async () => {
    await b?.close();
    await t?.close();
  });

  it(
    'shows an agent going down (with its reason, in text) and coming back up, live',
    async () => {
      const { page } = await b.page();
      await signIn(page, url, 'viewer', PASSWORDS.viewer);
      const card = page.locator('[data-agent="lis-tg"]');
      await card.locator('.badge', { hasText: 'Up' }).waitFor();
      bots.get('lis-tg')!.health = 'fail';
      await card.locator('.badge', { hasText: 'Down' }).waitFor({ timeout: 30_000 });
      await card.getByText('Why: connection refused').waitFor();
      expect(await card.getAttribute('aria-label')).toMatch(/Down$/);
      await b.shot(page, 'agent-down');
      bots.get('lis-tg')!.health = 'ok';
      await card.locator('.badge', { hasText: 'Up' }).waitFor({ timeout: 30_000 });
      expect(await card.getByText('Why:').count()).toBe(0);
      expect(await card.locator('.strip rect').count()).toBeGreaterThan(1);
      await page.close();
    },
    LONG,
  );

  it(
    'shows WhatsApp pairing with the QR and the code (separate events, as Baileys sends them), keeps each as the other changes, drops it once paired, up or restarted',
    async () => {
      const { page } = await b.page();
      await signIn(page, url, 'viewer', PASSWORDS.viewer);
      const wa = bots.get('lis-wa')!;
      const box = page.locator('[data-testid="pairing-lis-wa"]');
      const img = box.locator('img');
      wa.emit({ type: 'pairing', agentId: 'lis-wa', qr: '2@first-qr-ref,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv' });
      await img.waitFor();
      const first = await img.getAttribute('src');
      expect(first).toMatch(/^data:image\/svg\+xml;base64,/);
      expect(await img.evaluate((el) => { const i = el as unknown as { complete: boolean; naturalWidth: number }; return i.complete && i.naturalWidth > 0; })).toBe(true);
      wa.emit({ type: 'pairing', agentId: 'lis-wa', pairingCode: 'ABCD1234' });
      await box.locator('.code', { hasText: 'ABCD1234' }).waitFor();
      expect(await img.getAttribute('src')).toBe(first); // the code did not wipe the QR
      wa.emit({ type: 'pairing', agentId: 'lis-wa', qr: '2@second-qr-ref,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv' });
      await until('the QR replaced', async () => (await img.getAttribute('src')) !== first);
      const second = await img.getAttribute('src');
      expect(await box.locator('.code').textContent()).toBe('ABCD1234'); // the new QR did not wipe the code
      await b.shot(page, 'agent-pairing');
      // A page opened now gets both from the server.
      await page.reload();
      await page.locator('#live.on').waitFor();
      await box.locator('.code', { hasText: 'ABCD1234' }).waitFor();
      expect(await img.getAttribute('src')).toBe(second);
      wa.emit({ type: 'pairing', agentId: 'lis-wa', paired: true });
      await box.waitFor({ state: 'detached' });

      // Pairing that ends without a "paired" event: the number comes up (paired on another replica's watch, say)...
      const card = page.locator('[data-agent="lis-wa"]');
      wa.health = 'needs-human';
      await card.locator('.badge', { hasText: 'Down' }).waitFor({ timeout: 30_000 });
      wa.emit({ type: 'pairing', agentId: 'lis-wa', qr: '2@third-qr-ref,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv' });
      await img.waitFor();
      wa.health = 'ok';
      await card.locator('.badge', { hasText: 'Up' }).waitFor({ timeout: 30_000 });
      await box.waitFor({ state: 'detached' });
      // ...or an operator restarts the agent (its old QR is void; the new connection sends its own).
      wa.emit({ type: 'pairing', agentId: 'lis-wa', qr: '2@fourth-qr-ref,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv' });
      await img.waitFor();
      expect((await t.call('/api/agents/lis-wa/restart', { method: 'POST' })).status).toBe(200);
      await box.waitFor({ state: 'detached' });
      await page.reload();
      await page.locator('#live.on').waitFor();
      await card.waitFor();
      expect(await box.count()).toBe(0);
      await page.close();
    },
    LONG,
  );

  it(
    'puts an agent in maintenance and back from its card (audited, shown in the live timeline)',
    async () => {
      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      const card = page.locator('[data-agent="por-slack"]');
      const toggle = card.getByRole('button', { name: 'Maintenance: por-slack' });
      expect(await toggle.getAttribute('aria-pressed')).toBe('false');
      await toggle.click();
      await card.locator('.badge', { hasText: 'Maintenance' }).waitFor();
      expect(await toggle.getAttribute('aria-pressed')).toBe('true');
      expect(await toggle.textContent()).toBe('End maintenance');
      await page.getByRole('tab', { name: 'Activity' }).click();
      await page.locator('#audit-list li', { hasText: 'agent.status by dashboard:ana · por-slack → maintenance' }).waitFor();
      await page.getByRole('tab', { name: 'Agents' }).click();
      await toggle.click();
      await card.locator('.badge', { hasText: /Up|Checking/ }).waitFor();
      expect(await toggle.getAttribute('aria-pressed')).toBe('false');
      await card.getByRole('button', { name: 'Restart por-slack' }).click();
      await until('restart audited', () => t.running.store.auditEvents.findOne({ type: 'agent.restart', agentId: 'por-slack', actor: 'dashboard:ana' }));
      // The store shows the audit event once applied; the restart follows once it is on disk.
      await until('restarted', () => bots.get('por-slack')!.starts >= 2);
      await page.close();
    },
    LONG,
  );
});
