import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { heartbeatPaused } from '../../scripts/demo/actors.js';
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

  it('moves every panel: FAQ answers, a hand-off answered by staff, approvals decided in Telegram, an agent down and up again', async () => {
    const store = demo.running.store;
    await until('an FAQ answered', async () => (await store.messages.find({ where: { direction: 'out', handledBy: 'bot' }, limit: 1 })).length > 0, 30_000);
    await until('a decision from Telegram', async () => (await store.approvals.find({ where: { status: { in: ['approved', 'rejected', 'executed'] } } })).some((a) => a.decision?.via === 'telegram'), 30_000);
    // Both branches' hand-offs are answered by their own staff (none pile up at Porto).
    for (const branchId of ['lisboa', 'porto']) {
      await until(`a staff reply relayed at ${branchId}`, async () => (await store.messages.find({ where: { direction: 'out', branchId } })).some((m) => m.handledBy?.startsWith('staff:')), 40_000);
    }
    // The agents asking for approvals send heartbeats: they are up, not "no heartbeat yet".
    for (const id of ['refund-assistant', 'promo-planner']) await until(`${id} up`, async () => (await store.agents.get(id))?.status === 'up', 30_000);
    await until('inventory-sync down', async () => (await store.agents.get('inventory-sync'))?.status === 'down', 40_000);
    await until('inventory-sync up again', async () => (await store.agents.get('inventory-sync'))?.status === 'up', 30_000);
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
  }, 120_000);

  it('at real pace, inventory-sync holds its heartbeats early enough to be down within ~30 s, and beats again later', () => {
    // Down = last heartbeat + 10 s (stale at the demo's 5 s interval) + a check (<= 5 s) + two retries (2 x 2.5 s).
    const firstPause = Array.from({ length: 120 }, (_, s) => s * 1000).find(heartbeatPaused)!;
    expect(firstPause + 10_000 + 5_000 + 5_000).toBeLessThanOrEqual(30_000);
    expect(heartbeatPaused(0)).toBe(false);
    expect(heartbeatPaused(firstPause + 25_000)).toBe(true); // still holding: it is shown down for a while
    expect(heartbeatPaused(firstPause + 60_000)).toBe(false); // back up within the second minute
  });

  it('a start that fails stops what it started and deletes its temporary data', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('coordinator-demo-')));
    try {
      await expect(startDemo({ port, dashboardPort: 0 })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      taken.close();
    }
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('coordinator-demo-') && !before.has(f))).toEqual([]);
  });
});
