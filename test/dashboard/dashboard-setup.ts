import type { Page } from 'playwright-core';
import { createDashboard, type Dashboard, type DashboardDeps } from '../../src/dashboard/create-dashboard-app.js';
import { hashPassword } from '../../src/dashboard/password-hash.js';
import { systemClock } from '../../src/core/clock.js';
import { listen } from '../../src/coordination/serve.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';

export const PASSWORDS = { ana: 'ana-secret-password', viewer: 'viewer-secret-password' };
export const AGENT_TOKEN = 'agent-token-dashboard-tests-1';
/** Cheap scrypt cost for tests (the schema's minimum); production hashes use N=32768. */
const FAST = { N: 1024, r: 8, p: 1 };

/** A coordinator with two branches of fake bots, an operator linked to manager Ana, and a view-only operator; `extraYaml` adds top-level config. */
export async function startDashboardCoordinator(extraYaml = '', env: Record<string, string> = {}): Promise<{ t: TestCoordinator; bots: Map<string, FakeBot>; dashboardUrl: string }> {
  const { registry, bots } = fakeChannels();
  const yaml = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: "x" }
      - { id: lis-wa, channel: whatsapp }
  - id: porto
    name: Porto
    managers:
      - { id: rui, name: Rui, role: manager, telegram: 1002 }
    agents:
      - { id: por-slack, channel: slack, botToken: "x", signingSecret: "y" }
operators:
  - { username: ana, name: Ana Lopes, manager: ana, passwordHash: "${await hashPassword(PASSWORDS.ana, FAST)}" }
  - { username: viewer, passwordHash: "${await hashPassword(PASSWORDS.viewer, FAST)}" }
${extraYaml}`;
  const t = await startTestCoordinator({
    yaml,
    channels: registry,
    env: { HEALTH_INTERVAL_MS: '1000', ...env },
    health: { retries: 0, retryIntervalMs: 200, timeoutMs: 1000, restartBaseMs: 60_000 },
  });
  await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
  return { t, bots, dashboardUrl: t.running.dashboard.url };
}

/** Requests an approval as the test's action agent; returns it. */
export async function requestApproval(t: TestCoordinator, summary: string, extra: Record<string, unknown> = {}) {
  const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary, ...extra } });
  if (res.status !== 201) throw new Error(`approval not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.approval as { id: string; code: string };
}

/** Signs in through the login form and waits for the live connection. */
export async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('#live.on').waitFor();
}

/**
 * A second dashboard over the same coordinator (as another replica would be,
 * sharing its store), given the conversation service and optional session and
 * live timings: how create-coordinator.ts would build it once it passes `conversations`.
 */
export async function startSecondDashboard(
  t: TestCoordinator,
  options: Pick<DashboardDeps, 'sessionTtlMs' | 'live' | 'socketLimits' | 'trustProxy'> = {},
): Promise<{ url: string; dashboard: Dashboard; close(): Promise<void> }> {
  const c = t.running.coordinator;
  const dashboard = await createDashboard({
    store: t.running.store,
    clock: systemClock,
    logger: t.running.logger,
    bus: c.bus,
    audit: c.audit,
    settings: c.settings,
    registry: c.registry,
    approvals: c.approvals,
    monitor: c.monitor,
    hosts: c.hosts,
    adminTokenHash: c.adminToken.hash,
    apiUrl: () => t.url,
    conversations: c.conversations,
    ...options,
  });
  const listening = await listen(dashboard.app, '127.0.0.1', 0);
  await dashboard.attach(listening.server);
  return {
    url: listening.url,
    dashboard,
    async close() {
      await dashboard.close();
      await listening.close();
    },
  };
}

/** POSTs to a dashboard as its page does (JSON, the CSRF header), with a session cookie. */
export async function dashboardPost(url: string, path: string, cookie: string, body: unknown = {}, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-requested-with': 'dashboard', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, cookie: res.headers.get('set-cookie')?.split(';')[0] ?? '' };
}
