import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import type { TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';
import { AGENT_TOKEN, dashboardPost, PASSWORDS, requestApproval, signIn, startDashboardCoordinator, startSecondDashboard } from './dashboard-setup.js';

const LONG = 90_000;

/** A Socket.IO client of the dashboard; resolves once connected (with the snapshot) or refused. */
function openSocket(url: string, headers: Record<string, string>): Promise<{ ok: boolean; socket: Socket; message?: string; snapshot?: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const socket = connectSocket(url, { transports: ['websocket'], reconnection: false, extraHeaders: headers });
    socket.on('connect_error', (error) => resolve({ ok: false, socket, message: error.message }));
    socket.on('snapshot', (snapshot: Record<string, unknown>) => resolve({ ok: true, socket, snapshot }));
  });
}

describe('dashboard hardening', () => {
  let t: TestCoordinator;
  let url: string;
  let b: TestBrowser;
  let second: Awaited<ReturnType<typeof startSecondDashboard>>;

  beforeAll(async () => {
    ({ t, dashboardUrl: url } = await startDashboardCoordinator());
    second = await startSecondDashboard(t, { sessionTtlMs: 4000, live: { sessionCheckMs: 200, coalesceMs: 300 } });
    b = await launchBrowser();
  }, LONG);
  afterAll(async () => {
    await b?.close();
    await second?.close();
    await t?.close();
  });

  const login = async (at = url, body: unknown = { username: 'ana', password: PASSWORDS.ana }) => (await dashboardPost(at, '/login', '', body)).cookie;

  it('tells a linked manager why a request is not theirs to decide, in the policy\'s words', async () => {
    const cookie = await login();
    const { user: me } = (await (await fetch(`${url}/api/me`, { headers: { cookie } })).json()) as { user: { canDecide: Record<string, string[]>; cannotDecide: Record<string, Record<string, string>> } };
    expect(me.canDecide).toEqual({ lisboa: ['low', 'medium', 'high', 'critical'] });
    expect(me.cannotDecide).toEqual({ porto: { low: 'Ana is not a manager at Porto.', medium: 'Ana is not a manager at Porto.', high: 'Ana is not a manager at Porto.', critical: 'Ana is not a manager at Porto.' } });
  });

  it(
    'Escape in the reject dialog cancels, even after an earlier reject was confirmed',
    async () => {
      const [a1, a2] = [await requestApproval(t, 'Refund escape 1'), await requestApproval(t, 'Refund escape 2')];
      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      await page.getByRole('button', { name: `Reject ${a1.code}: Refund escape 1` }).click();
      await page.getByLabel(/Reason/).fill('no');
      await page.locator('#reject-confirm').click();
      await until('first rejected', async () => (await t.running.store.approvals.get(a1.id))?.status === 'rejected');
      const decisions: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().includes(`/api/approvals/${a2.id}/decision`)) decisions.push(r.postData() ?? '');
      });
      await page.getByRole('button', { name: `Reject ${a2.code}: Refund escape 2` }).click();
      await page.getByRole('dialog').waitFor();
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'hidden' });
      // Then a reject that is confirmed, from the same page: it decides, so the cancelled one (sent before it, if at all) did not.
      await page.getByRole('button', { name: `Reject ${a2.code}: Refund escape 2` }).click();
      await page.getByLabel(/Reason/).fill('confirmed after the escape');
      await page.locator('#reject-confirm').click();
      await until('second rejected', async () => (await t.running.store.approvals.get(a2.id))?.status === 'rejected');
      expect((await t.running.store.approvals.get(a2.id))!.decision).toMatchObject({ outcome: 'rejected', reason: 'confirmed after the escape' });
      // Playwright reports the page's requests asynchronously: the store can show the decision before the event arrives.
      await until('the decision request seen', () => decisions.length >= 1);
      expect(decisions).toHaveLength(1);
      // The store shows the decision once applied; its audit event follows once the decision is on disk.
      const rejections = () => t.running.store.auditEvents.count({ approvalId: a2.id, type: 'approval.rejected' });
      await until('the rejection audited', async () => (await rejections()) >= 1);
      expect(await rejections()).toBe(1);
      await page.close();
    },
    LONG,
  );

  it(
    'a page whose session is ended elsewhere (sign-out in another tab) goes back to the sign-in form',
    async () => {
      const { page, context } = await b.page();
      await signIn(page, url, 'viewer', PASSWORDS.viewer);
      const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      expect((await dashboardPost(url, '/logout', cookie)).status).toBe(200);
      await page.getByText('Your session ended: sign in again.').waitFor({ timeout: 10_000 });
      expect(await page.locator('#login').isVisible()).toBe(true);
      await page.close();
    },
    LONG,
  );

  it(
    'a sign-out that fails says so and stays signed in (the server still honours the session); the next one signs out',
    async () => {
      const { page, context } = await b.page();
      await signIn(page, url, 'viewer', PASSWORDS.viewer);
      await page.route('**/logout', (route) => route.abort('connectionrefused'));
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('alert').filter({ hasText: 'Sign-out failed' }).waitFor();
      expect(await page.locator('#app').isVisible()).toBe(true);
      const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      expect((await fetch(`${url}/api/me`, { headers: { cookie } })).status).toBe(200);
      await page.unroute('**/logout');
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByText('Signed out.').waitFor();
      expect(await page.locator('#logout-error').isVisible()).toBe(false);
      expect((await fetch(`${url}/api/me`, { headers: { cookie } })).status).toBe(401);
      await page.close();
    },
    LONG,
  );

  it('a sign-out is kept in the store: another replica (and a restart) refuses the cookie too', async () => {
    const cookie = await login();
    const me = (at: string) => fetch(`${at}/api/me`, { headers: { cookie } }).then((r) => r.status);
    expect(await me(second.url)).toBe(200);
    expect((await dashboardPost(url, '/logout', cookie)).status).toBe(200);
    expect(await me(url)).toBe(401);
    expect(await me(second.url)).toBe(401);
    expect((await openSocket(second.url, { cookie })).ok).toBe(false);
  });

  it('closes a live connection when its session expires', async () => {
    const cookie = await login(second.url);
    const conn = await openSocket(second.url, { cookie });
    expect(conn.ok).toBe(true);
    const closed = new Promise<string>((resolve) => conn.socket.on('disconnect', resolve));
    await expect(Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 8000))])).resolves.toBe('io server disconnect');
    conn.socket.close();
  }, LONG);

  it('refuses the live socket and actions from a page of another origin (same site, other port)', async () => {
    const cookie = await login();
    const evil = await openSocket(url, { cookie, origin: 'http://127.0.0.1:9999' });
    evil.socket.close();
    expect(evil.ok).toBe(false);
    const own = await openSocket(url, { cookie, origin: url });
    own.socket.close();
    expect(own.ok).toBe(true);
    expect((await dashboardPost(url, '/api/agents/lis-tg/maintenance', cookie, { enabled: true }, { origin: 'http://127.0.0.1:9999' })).status).toBe(403);
    expect((await t.running.store.agents.get('lis-tg'))!.status).not.toBe('maintenance');
  });

  it('recomputes metrics once for a burst of changes, not once per change', async () => {
    const conn = await openSocket(second.url, { cookie: await login(second.url) });
    const requested: number[] = []; // approvals requested in the last 24 h, as each recompute saw them
    conn.socket.on('metrics', (m: { approvalsPerHour: number[] }) => requested.push(m.approvalsPerHour.reduce((a, b) => a + b, 0)));
    const approval = (await t.running.store.approvals.find({ limit: 1 }))[0];
    for (let i = 0; i < 300; i++) t.running.coordinator.bus.emit('approval.updated', approval);
    await until('the burst recomputed', () => requested.length >= 1);
    // A marker after it: a new request, which the next recompute counts. That recompute comes a full coalescing
    // period after the burst's (socket events keep their order), so every recompute the burst caused is in before it.
    const burst = requested[0];
    const extra = await requestApproval(t, 'Refund metrics marker');
    const marker = await until('the marker recomputed', () => {
      const index = requested.findIndex((n) => n > burst);
      return index >= 0 ? { index } : null;
    });
    conn.socket.close();
    expect(marker.index).toBe(1);
    expect((await t.call(`/api/approvals/${extra.id}/cancel`, { method: 'POST', token: AGENT_TOKEN })).status).toBe(200);
  });

  it(
    'shows customer names, texts and approval summaries as text, never as markup',
    async () => {
      const store = t.running.store;
      const now = new Date().toISOString();
      const evil = '<img src=x onerror="window.__xss=1">';
      await requestApproval(t, `Refund ${evil}`);
      await store.contacts.insert({ id: 'cx', branchId: 'lisboa', channel: 'telegram', externalId: '777', name: `<b>Eve</b>${evil}`, firstSeenAt: now, lastSeenAt: now, optedOut: false, tags: [] });
      await store.conversations.insert({ id: 'cx', contactId: 'cx', branchId: 'lisboa', channel: 'telegram', agentId: 'lis-tg', chatId: '777', state: 'bot', openedAt: now, lastMessageAt: now, lastText: evil, autoReplies: { count: 0, windowStart: now } });
      await store.messages.insert({ id: 'mx', contactId: 'cx', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: evil, at: now });
      const { page } = await b.page();
      await signIn(page, second.url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      await page.getByText(`Refund ${evil}`).first().waitFor();
      await page.getByRole('tab', { name: 'Activity' }).click();
      const row = page.locator('[data-conversation="cx"]');
      await row.getByText(`<b>Eve</b>${evil}`).waitFor();
      await row.getByRole('button', { name: /^Show messages with/ }).click();
      await page.getByTestId('messages-cx').getByText(evil, { exact: true }).waitFor();
      expect(await page.locator('#main img[src="x"], #main b').count()).toBe(0);
      expect(await page.evaluate('window.__xss')).toBeUndefined();
      await page.close();
    },
    LONG,
  );

  it(
    "shows a conversation's recent messages and resolves its hand-off from the Activity panel",
    async () => {
      const store = t.running.store;
      const now = new Date().toISOString();
      await store.contacts.insert({ id: 'c2', branchId: 'lisboa', channel: 'telegram', externalId: '556', name: 'Joana Reis', firstSeenAt: now, lastSeenAt: now, optedOut: false, tags: [] });
      await store.conversations.insert({ id: 'c2', contactId: 'c2', branchId: 'lisboa', channel: 'telegram', agentId: 'lis-tg', chatId: '556', state: 'pending_human', reason: 'asked_for_person', openedAt: now, lastMessageAt: now, lastText: 'A person please', autoReplies: { count: 0, windowStart: now } });
      await store.messages.insert({ id: 'm21', contactId: 'c2', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: 'Do you buy Swiss francs?', at: new Date(Date.now() - 2000).toISOString() });
      await store.messages.insert({ id: 'm22', contactId: 'c2', branchId: 'lisboa', channel: 'telegram', direction: 'out', text: 'Yes, at every branch.', handledBy: 'bot', status: 'sent', at: new Date(Date.now() - 1000).toISOString() });
      await store.messages.insert({ id: 'm23', contactId: 'c2', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: 'A person please', at: now });
      const { page } = await b.page({ width: 390, height: 844 });
      await signIn(page, second.url, 'viewer', PASSWORDS.viewer);
      await page.getByRole('tab', { name: 'Activity' }).click();
      const row = page.locator('[data-conversation="c2"]');
      await row.getByRole('button', { name: 'Show messages with Joana Reis' }).click();
      const messages = page.getByTestId('messages-c2');
      await messages.getByText('Yes, at every branch.').waitFor();
      expect(await messages.locator('li').allTextContents()).toEqual([expect.stringContaining('Do you buy Swiss francs?'), expect.stringContaining('Yes, at every branch.'), expect.stringContaining('A person please')]);
      expect(await row.getByRole('button', { name: /^Hide messages/ }).getAttribute('aria-expanded')).toBe('true');
      await b.shot(page, 'activity-conversation');
      await row.getByRole('button', { name: 'Resolve hand-off of Joana Reis: the bot answers again' }).click();
      await row.locator('.badge.bot').waitFor();
      expect((await store.conversations.get('c2'))!.state).toBe('bot');
      expect(await store.auditEvents.findOne({ type: 'conversation.resolved' })).toMatchObject({ actor: 'viewer (dashboard)' });
      await page.close();
    },
    LONG,
  );

  it(
    'reports n-of-m requests a bulk approval recorded (waiting for another approver) as recorded, not as failures',
    async () => {
      const [a1, a2, a3] = [await requestApproval(t, 'Refund two-person 1', { requiredApprovals: 2 }), await requestApproval(t, 'Refund two-person 2', { requiredApprovals: 2 }), await requestApproval(t, 'Refund one-person 3')];
      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      for (const a of [a1, a2, a3]) await page.locator(`[data-approval="${a.id}"] input[type=checkbox]`).check();
      await page.getByText('3 selected').waitFor();
      await page.getByRole('button', { name: 'Approve selected' }).click();
      await page.getByText('1 of 3 approved; 2 recorded, waiting for another approver').waitFor();
      expect(await page.locator('#action-status').textContent()).not.toMatch(/not decided|fail/i);
      expect((await t.running.store.approvals.get(a1.id))!).toMatchObject({ status: 'pending', approvals: [{ by: 'ana', via: 'dashboard' }] });
      expect((await t.running.store.approvals.get(a3.id))!.status).toBe('approved');
      // Ana's part is done: no Approve button for her on those two (Reject stays), until another approver acts.
      const item = page.locator(`[data-approval="${a1.id}"]`);
      await item.getByText('You approved; waiting for another approver.').waitFor();
      expect(await item.getByRole('button', { name: /^Approve/ }).count()).toBe(0);
      expect(await item.getByRole('button', { name: /^Reject/ }).count()).toBe(1);
      for (const a of [a1, a2]) await t.call(`/api/approvals/${a.id}/decision`, { method: 'POST', json: { decision: 'reject' } });
      await page.close();
    },
    LONG,
  );

  it(
    'with 1,000+ pending requests: every one counted (also as unloaded ones are decided), the soonest to expire shown first, the list capped and all of them selectable at once',
    async () => {
      const store = t.running.store;
      const template = (await store.approvals.find({ where: { status: 'pending' }, limit: 1 }))[0];
      const base = Date.now();
      for (let i = 0; i < 1100; i++) {
        const { version: _v, idempotencyKey: _k, ...rest } = template;
        await store.approvals.insert({ ...rest, id: `bulkload-${String(i).padStart(4, '0')}`, code: `Z${String(i).padStart(5, '0')}`, summary: `Load ${i}`, createdAt: new Date(base + i).toISOString(), expiresAt: new Date(base + 3600_000 + i).toISOString() });
      }
      const pendingTotal = await store.approvals.count({ status: 'pending' });
      const conn = await openSocket(url, { cookie: await login() });
      conn.socket.close();
      const snapshot = conn.snapshot as { approvals: Array<{ status: string; id: string }>; pendingTotal: number };
      expect(snapshot.pendingTotal).toBe(pendingTotal);
      expect(snapshot.approvals.filter((a) => a.status === 'pending')).toHaveLength(1000);
      expect(snapshot.approvals.some((a) => a.id === template.id)).toBe(true); // the oldest pending is not pushed out
      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      await page.locator('#pending-count', { hasText: String(pendingTotal) }).waitFor();
      await page.getByText(/Showing 200 of 1\d{3}, pending ones expiring soonest first/).waitFor();
      expect(await page.locator('#approvals-list > li').count()).toBe(200);
      const soonest = (await store.approvals.find({ where: { status: 'pending' }, orderBy: { field: 'expiresAt' }, limit: 1 }))[0];
      expect(await page.locator('#approvals-list > li').first().getAttribute('data-approval')).toBe(soonest.id);
      // One the page never loaded (it expires last) is decided elsewhere: the count follows.
      const hidden = pendingTotal - 1000;
      await page.getByText(`${hidden} more pending requests, expiring later than these`).waitFor();
      expect((await t.call('/api/approvals/bulkload-1099/decision', { method: 'POST', json: { decision: 'reject' } })).status).toBe(200);
      await page.locator('#pending-count', { hasText: String(pendingTotal - 1) }).waitFor();
      await page.getByText(`${hidden - 1} more pending requests, expiring later than these`).waitFor();
      await page.getByLabel('Select all shown that you may decide').check();
      await page.getByText('200 selected').waitFor();
      await page.close();
    },
    LONG,
  );
});
