import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { io as connectSocket } from 'socket.io-client';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import type { TestCoordinator } from '../helpers/test-coordinator.js';
import type { FakeBot } from '../helpers/fake-channel.js';
import { until } from '../helpers/until.js';
import { PASSWORDS, requestApproval, signIn, startDashboardCoordinator } from './dashboard-setup.js';

const LONG = 90_000;

describe('operator dashboard in Chromium', () => {
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
    'refuses a wrong password, then signs in with an httpOnly SameSite=Strict cookie under a strict CSP',
    async () => {
      const { page, context } = await b.page();
      const res = await page.goto(url);
      const csp = res!.headers()['content-security-policy'];
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toMatch(/https?:|unsafe-inline|unsafe-eval/);
      await page.getByLabel('Username').fill('ana');
      await page.getByLabel('Password', { exact: true }).fill('wrong');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toBeDefined();
      await page.getByText('Wrong username or password.').waitFor();
      await b.shot(page, 'login-refused');
      await signIn(page, url, 'ana', PASSWORDS.ana);
      const [cookie] = await context.cookies();
      expect(cookie).toMatchObject({ name: 'coord_session', httpOnly: true, sameSite: 'Strict' });
      await page.getByText('Ana Lopes (manager ana)').waitFor();
      expect(await t.running.store.auditEvents.findOne({ type: 'dashboard.login', actor: 'dashboard:ana' })).toBeTruthy();
      expect(await t.running.store.auditEvents.findOne({ type: 'dashboard.login-failed', actor: 'dashboard:ana' })).toBeTruthy();
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByText('Signed out.').waitFor();
      expect(await context.cookies()).toEqual([]);
    },
    LONG,
  );

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
    'shows a WhatsApp pairing QR as an image, replaces it as it refreshes, and drops it once paired',
    async () => {
      const { page } = await b.page();
      await signIn(page, url, 'viewer', PASSWORDS.viewer);
      const wa = bots.get('lis-wa')!;
      wa.emit({ type: 'pairing', agentId: 'lis-wa', qr: '2@first-qr-ref,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv' });
      const img = page.locator('[data-testid="pairing-lis-wa"] img');
      await img.waitFor();
      const first = await img.getAttribute('src');
      expect(first).toMatch(/^data:image\/svg\+xml;base64,/);
      expect(await img.evaluate((el) => { const i = el as unknown as { complete: boolean; naturalWidth: number }; return i.complete && i.naturalWidth > 0; })).toBe(true);
      await b.shot(page, 'agent-pairing');
      wa.emit({ type: 'pairing', agentId: 'lis-wa', qr: '2@second-qr-ref,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv', pairingCode: 'ABCD1234' });
      await until('the QR replaced', async () => (await img.getAttribute('src')) !== first);
      await page.locator('[data-testid="pairing-lis-wa"] .code', { hasText: 'ABCD1234' }).waitFor();
      wa.emit({ type: 'pairing', agentId: 'lis-wa', paired: true });
      await page.locator('[data-testid="pairing-lis-wa"]').waitFor({ state: 'detached' });
      await page.close();
    },
    LONG,
  );

  it(
    'approves from the dashboard as the linked manager (audited, via dashboard)',
    async () => {
      const approval = await requestApproval(t, 'Refund 12 EUR to order 7');
      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      const item = page.locator(`[data-approval="${approval.id}"]`);
      await item.getByText(/expires in/).waitFor();
      await item.locator('.badge.critical').waitFor();
      await b.shot(page, 'approvals-queue');
      await item.getByRole('button', { name: /^Approve/ }).click();
      await until('approved', async () => (await t.running.store.approvals.get(approval.id))?.status === 'approved');
      expect((await t.running.store.approvals.get(approval.id))!.decision).toMatchObject({ by: 'ana', byName: 'Ana', via: 'dashboard' });
      expect(await t.running.store.auditEvents.findOne({ type: 'approval.approved', approvalId: approval.id })).toMatchObject({ actor: 'ana' });
      await page.getByLabel('Status').selectOption('');
      await item.getByTestId('decided').filter({ hasText: 'Approved by Ana via dashboard' }).waitFor();
      await page.close();
    },
    LONG,
  );

  it(
    'bulk-rejects selected requests with a reason',
    async () => {
      const [a1, a2, a3] = [await requestApproval(t, 'Refund bulk 1'), await requestApproval(t, 'Refund bulk 2'), await requestApproval(t, 'Refund bulk 3')];
      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      await page.getByRole('checkbox', { name: `Select ${a1.code}: Refund bulk 1` }).check();
      await page.getByRole('checkbox', { name: `Select ${a2.code}: Refund bulk 2` }).check();
      await page.getByText('2 selected').waitFor();
      await page.getByRole('button', { name: 'Reject selected' }).click();
      await page.getByLabel(/Reason/).fill('duplicate requests');
      await b.shot(page, 'approvals-bulk-reject');
      await page.locator('#reject-confirm').click();
      await until('both rejected', async () => (await t.running.store.approvals.get(a1.id))?.status === 'rejected' && (await t.running.store.approvals.get(a2.id))?.status === 'rejected');
      expect((await t.running.store.approvals.get(a1.id))!.decision).toMatchObject({ by: 'ana', via: 'dashboard', reason: 'duplicate requests' });
      expect((await t.running.store.approvals.get(a3.id))!.status).toBe('pending');
      await page.getByText('2 of 2 rejected').waitFor();
      await page.locator(`[data-approval="${a1.id}"]`).waitFor({ state: 'detached' }); // filtered to pending
      await page.close();
    },
    LONG,
  );

  it(
    'shows a decision made through the REST API without a reload',
    async () => {
      const approval = await requestApproval(t, 'Refund via REST 99');
      const { page } = await b.page();
      await signIn(page, url, 'viewer', PASSWORDS.viewer);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      await page.getByLabel('Status').selectOption('');
      const item = page.locator(`[data-approval="${approval.id}"]`);
      await item.locator('.badge.pending').waitFor();
      // The viewer is told why it cannot decide, and has no buttons.
      await page.getByText(/not linked to a manager/).first().waitFor();
      expect(await item.getByRole('button').count()).toBe(0);
      const res = await t.call(`/api/approvals/${approval.id}/decision`, { method: 'POST', json: { decision: 'reject', reason: 'not today' } });
      expect(res.status).toBe(200);
      await item.getByTestId('decided').filter({ hasText: 'Rejected by admin via api' }).waitFor();
      await item.getByText('“not today”').waitFor();
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
      await card.getByRole('button', { name: 'Maintenance: por-slack' }).click();
      await card.locator('.badge', { hasText: 'Maintenance' }).waitFor();
      expect(await card.getByRole('button', { name: 'Maintenance: por-slack', pressed: true }).getAttribute('aria-pressed')).toBe('true');
      await page.getByRole('tab', { name: 'Activity' }).click();
      await page.locator('#audit-list li', { hasText: 'agent.status by dashboard:ana · por-slack → maintenance' }).waitFor();
      await page.getByRole('tab', { name: 'Agents' }).click();
      await card.getByRole('button', { name: 'Maintenance: por-slack', pressed: true }).click();
      await card.locator('.badge', { hasText: /Up|Checking/ }).waitFor();
      await card.getByRole('button', { name: 'Restart por-slack' }).click();
      await until('restart audited', () => t.running.store.auditEvents.findOne({ type: 'agent.restart', agentId: 'por-slack', actor: 'dashboard:ana' }));
      expect(bots.get('por-slack')!.starts).toBeGreaterThanOrEqual(2);
      await page.close();
    },
    LONG,
  );

  it(
    'lists conversations with their hand-off state and updates them live; metrics count messages',
    async () => {
      const store = t.running.store;
      const now = new Date().toISOString();
      await store.contacts.insert({ id: 'c1', branchId: 'lisboa', channel: 'telegram', externalId: '555', name: 'Maria Silva', firstSeenAt: now, lastSeenAt: now, optedOut: false, tags: [] });
      const conv = await store.conversations.insert({ id: 'cv1', contactId: 'c1', branchId: 'lisboa', channel: 'telegram', agentId: 'lis-tg', chatId: '555', state: 'bot', openedAt: now, lastMessageAt: now, lastText: 'What is the EUR/USD rate?', autoReplies: { count: 0, windowStart: now } });
      const msg = await store.messages.insert({ id: 'm1', contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: 'What is the EUR/USD rate?', at: now });
      const { page } = await b.page();
      await signIn(page, url, 'viewer', PASSWORDS.viewer);
      await page.getByRole('tab', { name: 'Activity' }).click();
      const row = page.locator('[data-conversation="cv1"]');
      await row.getByText('Maria Silva').waitFor();
      await row.locator('.badge.bot').waitFor();
      await page.locator('[data-testid="metric-messages"] .value', { hasText: '1' }).waitFor();
      const later = new Date().toISOString();
      const updated = (await store.conversations.update('cv1', { state: 'pending_human', reason: 'asked_for_person', lastText: 'I want to talk to a person', lastMessageAt: later }))!;
      t.running.coordinator.bus.emit('message.recorded', msg);
      t.running.coordinator.bus.emit('conversation.updated', updated);
      await row.locator('.badge.pending_human', { hasText: 'waiting for staff' }).waitFor();
      await row.getByText('Handed to staff: asked for person').waitFor();
      expect(conv.id).toBe('cv1');
      await b.shot(page, 'activity');
      await page.close();
    },
    LONG,
  );

  it(
    'works at phone width with keyboard navigation, and loads well under 200 KB of JS, all from this origin',
    async () => {
      const { page } = await b.page({ width: 390, height: 844 });
      const js: Array<{ url: string; bytes: number }> = [];
      page.on('response', async (res) => {
        if (res.request().resourceType() === 'script') js.push({ url: res.url(), bytes: (await res.body()).length });
      });
      await signIn(page, url, 'ana', PASSWORDS.ana);
      const total = js.reduce((s, f) => s + f.bytes, 0);
      expect(js.every((f) => f.url.startsWith(url))).toBe(true);
      expect(total).toBeLessThan(200 * 1024);
      process.stdout.write(`dashboard JS: ${js.length} files, ${total} bytes\n`);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await b.shot(page, 'phone-agents');
      // Tabs by keyboard: focus the selected tab, arrow right, the Approvals panel shows.
      await page.getByRole('tab', { name: 'Agents' }).focus();
      await page.keyboard.press('ArrowRight');
      await page.locator('#panel-approvals').waitFor();
      expect(await page.evaluate<string>('document.activeElement?.id')).toBe('tab-approvals');
      const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
      expect(outline).toBe('solid');
      await b.shot(page, 'phone-approvals');
      await page.close();
    },
    LONG,
  );

  it('refuses Socket.IO connections without a valid session, and accepts a signed-in one', async () => {
    const tryConnect = (cookie?: string) =>
      new Promise<{ ok: boolean; message?: string; snapshot?: unknown }>((resolve) => {
        const socket = connectSocket(url, { transports: ['websocket'], reconnection: false, extraHeaders: cookie ? { cookie } : {} });
        socket.on('connect_error', (error) => {
          socket.close();
          resolve({ ok: false, message: error.message });
        });
        socket.on('snapshot', (snapshot) => {
          socket.close();
          resolve({ ok: true, snapshot });
        });
      });
    expect(await tryConnect()).toEqual({ ok: false, message: 'unauthorized: sign in to the dashboard first' });
    expect((await tryConnect('coord_session=eyJzaWQiOiJ4In0.forged')).ok).toBe(false);
    const login = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard' }, body: JSON.stringify({ token: 'test-admin-token-0123456789' }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const ok = await tryConnect(cookie);
    expect(ok.ok).toBe(true);
    expect(ok.snapshot).toMatchObject({ branches: [{ id: 'lisboa' }, { id: 'porto' }] });
    // After logout the same cookie is refused.
    const out = await fetch(`${url}/logout`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-requested-with': 'dashboard' }, body: '{}' });
    expect(out.status).toBe(200);
    expect((await tryConnect(cookie)).ok).toBe(false);
  });

  it('validates every action: bad input, missing CSRF header, view-only users and the admin token change nothing', async () => {
    const approval = await requestApproval(t, 'Refund validation 5');
    const login = async (body: unknown) => {
      const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard' }, body: JSON.stringify(body) });
      return res.headers.get('set-cookie')!.split(';')[0];
    };
    const ana = await login({ username: 'ana', password: PASSWORDS.ana });
    const viewer = await login({ username: 'viewer', password: PASSWORDS.viewer });
    const admin = await login({ token: 'test-admin-token-0123456789' });
    const post = (cookie: string, path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json', 'x-requested-with': 'dashboard' }) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { cookie, ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
    expect((await post(ana, `/api/approvals/${approval.id}/decision`, { decision: 'maybe' })).status).toBe(400);
    expect((await post(ana, `/api/approvals/${approval.id}/decision`, { decision: 'approve', extra: 1 })).status).toBe(400);
    expect((await post(ana, `/api/approvals/${approval.id}/decision`, { decision: 'approve' }, { 'content-type': 'text/plain' })).status).toBe(403);
    expect((await post(ana, '/api/agents/lis-tg/maintenance', { enabled: 'yes' })).status).toBe(400);
    expect((await post(ana, '/api/approvals/bulk', { decision: 'approve', ids: [] })).status).toBe(400);
    const refused = await post(viewer, `/api/approvals/${approval.id}/decision`, { decision: 'approve' });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect((await post(admin, `/api/approvals/${approval.id}/decision`, { decision: 'approve' })).status).toBe(403);
    expect((await post('', `/api/approvals/${approval.id}/decision`, { decision: 'approve' })).status).toBe(401);
    expect((await t.running.store.approvals.get(approval.id))!.status).toBe('pending');
    expect((await t.running.store.agents.get('lis-tg'))!.status).not.toBe('maintenance');
    expect(await t.running.store.auditEvents.findOne({ type: 'approval.refused', approvalId: approval.id, actor: 'dashboard:viewer' })).toBeTruthy();
  });

  it('limits failed logins (brute force) with 429', async () => {
    const attempt = () => fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard' }, body: JSON.stringify({ username: 'ana', password: 'guess' }) }).then((r) => r.status);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push(await attempt());
    expect(statuses).toContain(401);
    expect(statuses.at(-1)).toBe(429);
  });
});
