import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import type { TestCoordinator } from '../helpers/test-coordinator.js';
import { dashboardPost, PASSWORDS, signIn, startDashboardCoordinator } from './dashboard-setup.js';

const LONG = 90_000;

/**
 * Learned auto-approval rules decide for people, so accepting or revoking one
 * takes what deciding takes: an operator linked to an approver of the rule's
 * branch (or the admin token, as on the REST API). Ana manages Lisboa only;
 * "viewer" is linked to no manager.
 */
describe('dashboard: who may accept and revoke learned rules', () => {
  let t: TestCoordinator;
  let url: string;
  let b: TestBrowser;

  /** Makes the engine suggest auto-approving `actionType` at `branchId` (as a run of approvals would). */
  const suggest = async (branchId: string, actionType: string) => {
    const { learned } = t.running.coordinator.approvals;
    for (let i = 0; i < t.running.coordinator.settings.config.approvals.learnAfter; i++) await learned.record(branchId, actionType, 'medium', true);
    return `${branchId}.${actionType}`;
  };
  const rule = async (id: string) => (await t.running.coordinator.approvals.learned.list()).find((r) => r.id === id);
  const login = async (body: unknown) => (await dashboardPost(url, '/login', '', body)).cookie;

  beforeAll(async () => {
    ({ t, dashboardUrl: url } = await startDashboardCoordinator());
    b = await launchBrowser();
  }, LONG);
  afterAll(async () => {
    await b?.close();
    await t?.close();
  });

  it('refuses (403, audited, nothing changes) a view-only operator and an operator of another branch; lets the branch approver and the admin token', async () => {
    const lisboa = await suggest('lisboa', 'crm.update');
    const porto = await suggest('porto', 'crm.update');
    const [ana, viewer, admin] = [await login({ username: 'ana', password: PASSWORDS.ana }), await login({ username: 'viewer', password: PASSWORDS.viewer }), await login({ token: 'test-admin-token-0123456789' })];

    const refused = await dashboardPost(url, `/api/rules/${lisboa}/accept`, viewer);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await rule(lisboa)).toMatchObject({ status: 'suggested' });
    expect(await rule(lisboa)).not.toHaveProperty('decidedBy');
    expect(await t.running.store.auditEvents.findOne({ type: 'approval.rule-refused', actor: 'dashboard:viewer', branchId: 'lisboa' })).toBeTruthy();
    expect(await t.running.store.auditEvents.findOne({ type: 'approval.rule-accepted' })).toBeFalsy();

    expect((await dashboardPost(url, `/api/rules/${porto}/accept`, ana)).status).toBe(403); // Ana is no approver at Porto
    expect(await rule(porto)).toMatchObject({ status: 'suggested' });
    expect((await dashboardPost(url, '/api/rules/lisboa.nothing/accept', ana)).status).toBe(404);

    const accepted = await dashboardPost(url, `/api/rules/${lisboa}/accept`, ana);
    expect(accepted).toMatchObject({ status: 200, body: { rule: { id: lisboa, status: 'active', decidedBy: 'dashboard:ana' } } });
    expect((await dashboardPost(url, `/api/rules/${lisboa}/revoke`, viewer)).status).toBe(403);
    expect(await rule(lisboa)).toMatchObject({ status: 'active' });
    expect(await t.running.coordinator.approvals.learned.activeRuleFor('lisboa', 'crm.update', 'medium')).toMatch(/accepted by dashboard:ana/);

    expect((await dashboardPost(url, `/api/rules/${lisboa}/revoke`, admin)).status).toBe(200);
    expect(await rule(lisboa)).toMatchObject({ status: 'revoked', decidedBy: 'dashboard:admin' });
    expect((await dashboardPost(url, `/api/rules/${porto}/accept`, admin)).status).toBe(200);

    // What the page is told, so it shows buttons only where they work.
    const me = async (cookie: string) => ((await (await fetch(`${url}/api/me`, { headers: { cookie } })).json()) as { user: { canManageRules: string[] } }).user.canManageRules;
    expect(await me(ana)).toEqual(['lisboa']);
    expect(await me(viewer)).toEqual([]);
    expect(await me(admin)).toEqual(['lisboa', 'porto']);
  });

  it(
    'shows accept and revoke buttons, named after their rule, only to users who may use them',
    async () => {
      const lisboa = await suggest('lisboa', 'task.create');
      await suggest('porto', 'task.create');
      const viewer = await b.page();
      await signIn(viewer.page, url, 'viewer', PASSWORDS.viewer);
      await viewer.page.getByRole('tab', { name: /Approvals/ }).click();
      const viewerRules = viewer.page.locator('#rules-list');
      await viewerRules.getByText('Auto-approve task.create at Lisboa').waitFor();
      await viewerRules.getByText('Auto-approve task.create at Porto').waitFor();
      expect(await viewerRules.getByRole('button').count()).toBe(0);

      const { page } = await b.page();
      await signIn(page, url, 'ana', PASSWORDS.ana);
      await page.getByRole('tab', { name: /Approvals/ }).click();
      const rules = page.locator('#rules-list');
      await rules.getByText('Auto-approve task.create at Porto').waitFor();
      expect(await rules.locator(`[data-rule="porto.task.create"]`).getByRole('button').count()).toBe(0);
      await rules.getByRole('button', { name: 'Accept suggestion: task.create at Lisboa' }).click();
      await rules.getByRole('button', { name: 'Revoke rule: task.create at Lisboa' }).waitFor();
      expect(await rule(lisboa)).toMatchObject({ status: 'active', decidedBy: 'dashboard:ana' });
      // The view-only page follows live, still without buttons.
      await viewerRules.locator(`[data-rule="${lisboa}"] .badge`, { hasText: 'active' }).waitFor();
      expect(await viewerRules.getByRole('button').count()).toBe(0);
      await b.shot(page, 'approvals-rules');
      await page.close();
      await viewer.page.close();
    },
    LONG,
  );
});
