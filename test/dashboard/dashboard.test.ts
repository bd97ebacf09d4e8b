import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { io as connectSocket } from 'socket.io-client';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import type { TestCoordinator } from '../helpers/test-coordinator.js';
import type { FakeBot } from '../helpers/fake-channel.js';
import { until } from '../helpers/until.js';
import { AGENT_TOKEN, PASSWORDS, requestApproval, signIn, startDashboardCoordinator } from './dashboard-setup.js';

const LONG = 90_000;

/** WCAG contrast ratio of two computed `rgb(r, g, b)` colours. */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, bl] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

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
      await page.getByText('Wrong username or password.').waitFor();
      expect(await page.getByRole('alert').textContent()).toBe('Wrong username or password.');
      expect(await page.locator('#app').isHidden()).toBe(true);
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
    'reports no Content-Security-Policy violation (nor any console error) on any panel, and would notice one',
    async () => {
      const { page } = await b.page();
      const errors: string[] = [];
      let signedIn = false; // before, the page's session check is refused (401) and Chromium logs that
      page.on('console', (m) => {
        if (m.type() === 'error' && signedIn) errors.push(m.text());
      });
      await page.addInitScript('window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));');
      const violations = () => page.evaluate<string[]>('window.__csp');
      const approval = await requestApproval(t, 'Refund CSP check 3');
      await signIn(page, url, 'ana', PASSWORDS.ana);
      signedIn = true;
      bots.get('lis-wa')!.emit({ type: 'pairing', agentId: 'lis-wa', qr: '2@csp-qr-ref,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv' });
      bots.get('lis-wa')!.emit({ type: 'pairing', agentId: 'lis-wa', pairingCode: 'CSPC0DE1' });
      await page.locator('[data-testid="pairing-lis-wa"] .code').waitFor();
      await page.locator('[data-agent="lis-tg"] .strip rect').first().waitFor();
      await page.getByRole('tab', { name: /Approvals/ }).click();
      await page.getByRole('button', { name: `Reject ${approval.code}: Refund CSP check 3` }).click();
      await page.getByRole('dialog').waitFor();
      await page.keyboard.press('Escape');
      await page.getByRole('tab', { name: 'Activity' }).click();
      await page.locator('#metrics svg rect').first().waitFor();
      // A deliberate violation (an inline style attribute) as a marker: reports are queued in order, so once it is
      // reported, any violation of the panels above would have been reported before it. It is the only one.
      await page.evaluate('document.body.setAttribute("style", "outline: 1px solid red")');
      const reported = await until('the deliberate violation reported', async () => ((await violations()).length > 0 ? violations() : null));
      expect(reported).toEqual([expect.stringMatching(/^style-src(-attr)? inline$/)]);
      // Console messages keep their order too: the marker's is the first and only error.
      await until('the deliberate violation logged', () => errors.length > 0);
      expect(errors).toEqual([expect.stringMatching(/Content Security Policy/)]);
      bots.get('lis-wa')!.emit({ type: 'pairing', agentId: 'lis-wa', paired: true });
      expect((await t.call(`/api/approvals/${approval.id}/cancel`, { method: 'POST', token: AGENT_TOKEN })).status).toBe(200);
      await page.close();
    },
    LONG,
  );

  it(
    'shows what a request will do: message.send names the recipient and the exact text; other details as key: value lines, never JSON; times with the zone',
    async () => {
      const now = new Date().toISOString();
      await t.running.store.contacts.insert({ id: 'c-preview', branchId: 'lisboa', channel: 'telegram', externalId: '5551', name: 'Joana Reis', firstSeenAt: now, lastSeenAt: now, optedOut: false, tags: [] });
      const send = await requestApproval(t, 'Tell Joana her cake is ready', { actionType: 'message.send', details: { contactId: 'c-preview', text: 'Olá Joana, o seu bolo está pronto <b>hoje</b>.' } });
      const refund = await requestApproval(t, 'Refund order 4410', { details: { orderId: 4410, amount: { value: 12.5, currency: 'EUR' }, note: 'damaged box' } });
      const { page } = await b.page();
      try {
        await signIn(page, url, 'ana', PASSWORDS.ana);
        await page.getByRole('tab', { name: /Approvals/ }).click();
        const what = (id: string) => page.locator(`[data-approval="${id}"] [data-testid="what"]`);
        await what(send.id).waitFor();
        // The customer's name and the exact words, as text (the markup is shown, not rendered).
        expect(await what(send.id).textContent()).toBe('Sends to Joana Reis (telegram) exactly:\nOlá Joana, o seu bolo está pronto <b>hoje</b>.');
        const lines = (await what(refund.id).textContent())!;
        expect(lines).toContain('orderId: 4410');
        expect(lines).toContain('note: damaged box');
        expect(lines).not.toMatch(/^\s*[{[]/);
        // Times in the branch's zone, with the zone.
        expect(await page.locator(`[data-approval="${refund.id}"] p.meta`).filter({ hasText: 'Requested by' }).textContent()).toMatch(/at \d{4}-\d\d-\d\d \d\d:\d\d UTC · expires in .* \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)/);
      } finally {
        // Withdrawn either way, so the next tests' queues hold only their own requests.
        for (const a of [send, refund]) await t.call(`/api/approvals/${a.id}/cancel`, { method: 'POST', token: AGENT_TOKEN });
        await page.close();
      }
    },
    LONG,
  );

  it(
    'approves from the dashboard as the linked manager (audited, via dashboard), soonest to expire first, keeping keyboard focus in the list',
    async () => {
      // Within the policy's 1 h TTL for critical risk (a longer expiresInSec is refused).
      const approval = await requestApproval(t, 'Refund 12 EUR to order 7', { expiresInSec: 1800 });
      const later = await requestApproval(t, 'Refund 13 EUR to order 8', { expiresInSec: 3600 });
      const sooner = await requestApproval(t, 'Refund 14 EUR to order 9', { expiresInSec: 600 });
      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      const item = page.locator(`[data-approval="${approval.id}"]`);
      await item.getByText(/expires in/).waitFor();
      await item.locator('.badge.critical').waitFor();
      const order = () => page.locator('#approvals-list > li').evaluateAll((els) => els.map((e) => e.getAttribute('data-approval')));
      const mine = [sooner.id, approval.id, later.id];
      expect((await order()).filter((id) => mine.includes(id!))).toEqual(mine);
      await b.shot(page, 'approvals-queue');
      const focused = () => page.evaluate<string | null>('document.activeElement?.getAttribute("data-key") ?? document.activeElement?.id ?? null');
      // By keyboard: the decided item loses its buttons; focus moves to the next item's Approve, not to the page body.
      await item.getByRole('button', { name: /^Approve/ }).focus();
      await page.keyboard.press('Enter');
      await until('approved', async () => (await t.running.store.approvals.get(approval.id))?.status === 'approved');
      await until('focus on the next item', async () => (await focused()) === `approve-${later.id}`);
      await page.keyboard.press('Enter');
      await until('focus back on the one before', async () => (await focused()) === `approve-${sooner.id}`);
      await page.keyboard.press('Enter');
      await page.getByText('No approval requests match these filters.').waitFor();
      await until('focus on the list heading once the list is empty', async () => (await focused()) === 'requests-title');
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
    'shows a request created through the REST API after sign-in, without a reload, and counts it',
    async () => {
      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      await page.locator('#approvals-list > li').first().waitFor();
      const count = async () => Number((await page.locator('#pending-count').textContent()) || 0);
      const before = await count();
      const approval = await requestApproval(t, 'Refund created after sign-in 77');
      await page.getByRole('button', { name: `Approve ${approval.code}: Refund created after sign-in 77` }).waitFor();
      await page.locator(`[data-approval="${approval.id}"]`).getByText(/expires in/).waitFor();
      expect(await count()).toBe(before + 1);
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
      // Announced as the conversation pipeline announces every message it stores (the metrics follow these events).
      t.running.coordinator.bus.emit('message.recorded', msg);
      const { page } = await b.page();
      await signIn(page, url, 'viewer', PASSWORDS.viewer);
      await page.getByRole('tab', { name: 'Activity' }).click();
      const row = page.locator('[data-conversation="cv1"]');
      await row.getByText('Maria Silva').waitFor();
      await row.locator('.badge.bot').waitFor();
      await page.locator('[data-testid="metric-messages"] .value', { hasText: '1' }).waitFor();
      // Every approval of this run is less than an hour old: the last hour's bar and the 24 h total agree.
      const total = await store.approvals.count({});
      await page.locator('[data-testid="metric-approvals"] .value', { hasText: `${total} in the last hour · ${total} in 24 h` }).waitFor();
      const later = new Date().toISOString();
      const updated = (await store.conversations.update('cv1', { state: 'pending_human', reason: 'asked_for_person', lastText: 'I want to talk to a person', lastMessageAt: later }))!;
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
    'works at phone width (a 300-character word in a message too) with keyboard navigation and visible focus, and loads well under 200 KB of JS, all from this origin',
    async () => {
      const store = t.running.store;
      const now = new Date().toISOString();
      const word = 'Pneumonoultramicroscopic'.repeat(13).slice(0, 300);
      await store.contacts.insert({ id: 'c-long', branchId: 'lisboa', channel: 'telegram', externalId: '558', name: 'Long Word', firstSeenAt: now, lastSeenAt: now, optedOut: false, tags: [] });
      await store.conversations.insert({ id: 'cv-long', contactId: 'c-long', branchId: 'lisboa', channel: 'telegram', agentId: 'lis-tg', chatId: '558', state: 'pending_human', reason: 'asked_for_person', openedAt: now, lastMessageAt: now, lastText: word, autoReplies: { count: 0, windowStart: now } });
      await store.messages.insert({ id: 'm-long', contactId: 'c-long', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: word, at: now });
      const { page } = await b.page({ width: 390, height: 844 });
      const js: Array<{ url: string; bytes: number }> = [];
      const reading: Array<Promise<void>> = [];
      page.on('response', (res) => {
        if (res.request().resourceType() === 'script') reading.push(res.body().then((body) => void js.push({ url: res.url(), bytes: body.length })));
      });
      await signIn(page, url, 'ana', PASSWORDS.ana);
      // Signed in means every script was loaded and ran; their bodies are read asynchronously.
      await Promise.all(reading);
      expect(js.length).toBeGreaterThan(0);
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
      // On the dark header the focus ring is light: at least 3:1 against the header.
      await page.getByRole('button', { name: 'Log out' }).focus();
      const [style, ring, header] = await page.evaluate<[string, string, string]>('[getComputedStyle(document.activeElement).outlineStyle, getComputedStyle(document.activeElement).outlineColor, getComputedStyle(document.querySelector(".top")).backgroundColor]');
      expect(style).toBe('solid');
      expect(contrast(ring, header)).toBeGreaterThanOrEqual(3);
      await page.getByRole('tab', { name: 'Activity' }).click();
      const row = page.locator('[data-conversation="cv-long"]');
      await row.getByText(word).waitFor();
      await row.getByRole('button', { name: 'Show messages with Long Word' }).click();
      await page.getByTestId('messages-cv-long').getByText(word).waitFor();
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      expect(await row.evaluate((el) => el.getBoundingClientRect().right)).toBeLessThanOrEqual(390);
      await b.shot(page, 'phone-activity');
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
    // Refused by engine.io at the handshake (nothing is kept for it): the client only sees the transport fail.
    const refused = () => t.running.coordinator.dashboard.connections().refused.unauthorized;
    const before = refused();
    expect(await tryConnect()).toEqual({ ok: false, message: 'websocket error' });
    expect((await tryConnect('coord_session=eyJzaWQiOiJ4In0.forged')).ok).toBe(false);
    expect(refused() - before).toBe(2);
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
