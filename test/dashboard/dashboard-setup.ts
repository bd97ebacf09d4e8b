import type { Page } from 'playwright-core';
import { hashPassword } from '../../src/dashboard/password-hash.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';

export const PASSWORDS = { ana: 'ana-secret-password', viewer: 'viewer-secret-password' };
export const AGENT_TOKEN = 'agent-token-dashboard-tests-1';
/** Cheap scrypt cost for tests (the schema's minimum); production hashes use N=32768. */
const FAST = { N: 1024, r: 8, p: 1 };

/** A coordinator with two branches of fake bots, an operator linked to manager Ana, and a view-only operator; `extraYaml` adds top-level config. */
export async function startDashboardCoordinator(extraYaml = ''): Promise<{ t: TestCoordinator; bots: Map<string, FakeBot>; dashboardUrl: string }> {
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
    env: { HEALTH_INTERVAL_MS: '1000' },
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
