import { afterEach, describe, expect, it } from '@jest/globals';
import { AuditLog } from '../../src/coordination/audit-log.js';
import { EventBus } from '../../src/coordination/event-bus.js';
import { DEFAULT_HEALTH_OPTIONS, HealthMonitor, MAX_CHECKS_IN_FLIGHT } from '../../src/coordination/health/health-monitor.js';
import type { ProbeResult } from '../../src/bots/bot-agent.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A file store with `agents` bot agents, and a monitor over it whose probes answer only when the test says. */
async function sweepSetup(agents: number, options: { concurrency: number; timeoutMs: number; intervalMs: number }) {
  const dir = tempDir();
  const store = SqliteStore.open({ dataDir: dir.path });
  cleanups.push(dir.cleanup, () => store.close());
  const now = new Date().toISOString();
  await Promise.all(Array.from({ length: agents }, (_, i) => store.agents.insert({ id: `a${i}`, branchId: 'b', kind: 'bot', channel: 'telegram', status: 'up', dependsOn: [], registeredAt: now, source: 'api' })));
  const held: Array<() => void> = [];
  const probes = new Map<string, number>();
  const probe = (agent: { id: string }) => {
    probes.set(agent.id, (probes.get(agent.id) ?? 0) + 1);
    return new Promise<ProbeResult>((resolve) => held.push(() => resolve({ ok: true, latencyMs: 1 })));
  };
  const clock = new ManualClock();
  const { logger } = memoryLogger();
  const monitor = new HealthMonitor({
    store,
    clock,
    logger,
    bus: new EventBus(logger),
    audit: new AuditLog({ store, clock }),
    probe,
    alert: async () => undefined,
    restart: async () => undefined,
    options: { ...DEFAULT_HEALTH_OPTIONS, concurrency: options.concurrency, timeoutMs: options.timeoutMs, intervalMs: () => options.intervalMs },
  });
  cleanups.push(() => monitor.stop());
  await monitor.start();
  return { store, clock, monitor, held, probes };
}

describe('a health sweep that comes due all at once', () => {
  it('runs a bounded number of checks at a time (the rest wait as ids), and checks every agent', async () => {
    const agents = MAX_CHECKS_IN_FLIGHT * 3;
    const { store, clock, monitor, held } = await sweepSetup(agents, { concurrency: 32, timeoutMs: 60_000, intervalMs: 30_000 });
    // Count the agent reads a check starts with (the real store's method, counted).
    const get = store.agents.get.bind(store.agents);
    let reads = 0;
    store.agents.get = (id) => {
      reads++;
      return get(id);
    };
    await clock.advance(0);
    // Every agent is due; 32 probes run, and no more checks than the bound have started.
    expect(held).toHaveLength(32);
    expect(reads).toBeLessThanOrEqual(MAX_CHECKS_IN_FLIGHT);
    // Let every probe answer as it comes: every agent gets its check, and re-arms.
    while (monitor.checks() < agents) {
      held.splice(0).forEach((answer) => answer());
      await new Promise((r) => setImmediate(r));
    }
    expect(reads).toBe(agents);
    expect(await store.healthChecks.count()).toBe(agents);
    await settle();
    expect(monitor.stats()).toEqual({ tracked: agents, scheduled: agents, fifo: 0 });
  });

  it('a check asked for while its due check waits in line runs once, and asking again while every place is taken waits in line', async () => {
    const agents = MAX_CHECKS_IN_FLIGHT + 8;
    const { store, clock, monitor, held, probes } = await sweepSetup(agents, { concurrency: 1000, timeoutMs: 60_000, intervalMs: 30_000 });
    await clock.advance(0);
    // Every place is taken; 8 due checks wait in line.
    expect(held).toHaveLength(MAX_CHECKS_IN_FLIGHT);
    expect(monitor.stats().fifo).toBe(8);
    const last = `a${agents - 1}`;
    // Asked for while it waits (a heartbeat, a reconnect): it still waits in line, once, and the caller hears when it ran.
    const asked = monitor.checkNow(last);
    void monitor.checkNow(last);
    expect(monitor.stats().fifo).toBe(8);
    while (monitor.checks() < agents) {
      held.splice(0).forEach((answer) => answer());
      await new Promise((r) => setImmediate(r));
    }
    await asked;
    expect([...probes.values()].every((n) => n === 1)).toBe(true);
    expect(probes.size).toBe(agents);
    expect(await store.healthChecks.count()).toBe(agents);
    // With a place free, checkNow runs at once, and the due check that then comes finds it running: one probe.
    const first = monitor.checkNow('a0');
    await until('a0 probed again', () => probes.get('a0') === 2);
    await clock.advance(30_000); // a0's due check comes while it runs
    held.splice(0).forEach((answer) => answer());
    await first;
    await settle();
    expect(probes.get('a0')).toBe(2);
    expect(monitor.stats().fifo).toBe(0);
  });

  it('the line of due checks stays as long as what waits in it when probes are slower than the interval', async () => {
    const agents = MAX_CHECKS_IN_FLIGHT * 3;
    const { clock, monitor, held } = await sweepSetup(agents, { concurrency: 1000, timeoutMs: 600_000, intervalMs: 1000 });
    // Many intervals pass while only a few probes answer each time: checks are always due, never more than once each.
    for (let round = 0; round < 40; round++) {
      held.splice(0, 64).forEach((answer) => answer());
      await clock.advance(1000);
      expect(monitor.stats().fifo).toBeLessThanOrEqual(agents);
    }
  });
});
