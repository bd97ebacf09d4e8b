import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startDemo, type Demo } from '../../scripts/demo/run-demo.js';
import { until } from '../helpers/until.js';

describe('npm run demo', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({ port: 0, dashboardPort: 0, healthIntervalMs: 1000, pace: 0.25 });
  });
  afterAll(async () => {
    await demo?.stop();
  });

  it('moves every panel: FAQ answers, a hand-off answered by staff, approvals decided in Telegram, an agent down', async () => {
    const store = demo.running.store;
    await until('an FAQ answered', async () => (await store.messages.find({ where: { direction: 'out', handledBy: 'bot' }, limit: 1 })).length > 0, 30_000);
    await until('a decision from Telegram', async () => (await store.approvals.find({ where: { status: { in: ['approved', 'rejected', 'executed'] } } })).some((a) => a.decision?.via === 'telegram'), 30_000);
    await until('a staff reply relayed', async () => (await store.messages.find({ where: { direction: 'out' } })).some((m) => m.handledBy?.startsWith('staff:')), 40_000);
    await until('inventory-sync down', async () => (await store.agents.get('inventory-sync'))?.status === 'down', 40_000);
    expect(demo.stats.approvalsRequested).toBeGreaterThan(0);
    expect((await fetch(`${demo.dashboardUrl}/`)).status).toBe(200);
    // The printed login works, and as a manager-linked operator it may decide.
    const login = await fetch(`${demo.dashboardUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard', origin: demo.dashboardUrl },
      body: JSON.stringify({ username: demo.login.username, password: demo.login.password }),
    });
    expect(login.status).toBe(200);
    expect(((await login.json()) as { user: { managerId?: string } }).user).toMatchObject({ managerId: 'ana' });
  }, 90_000);
});
