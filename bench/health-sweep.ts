/**
 * One full health sweep over 10,000 agents: the CPU time it takes (probe
 * bookkeeping, one stored check per agent, status updates), as a share of the
 * 30-second interval. Probes answer at once so only the coordinator's own work
 * is measured. Prints the same sweep with storage alone (the bare inserts) for
 * the ratio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/coordination/audit-log.js';
import { EventBus } from '../src/coordination/event-bus.js';
import { DEFAULT_HEALTH_OPTIONS, HealthMonitor, LAST_CHECK_STORED_EVERY } from '../src/coordination/health/health-monitor.js';
import { createLogger } from '../src/config/logger.js';
import type { Clock, TimerHandle } from '../src/core/clock.js';
import { newId } from '../src/core/ids.js';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const INTERVAL = 30_000;

/** Timers fire only when `fire()` is called: one call is one sweep. */
class SweepClock implements Clock {
  private t = Date.now();
  private timers = new Map<number, () => void>();
  private n = 0;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, _ms: number): TimerHandle {
    this.timers.set(++this.n, fn);
    return { id: this.n };
  }
  clearTimeout(h: TimerHandle) {
    this.timers.delete(h.id as number);
  }
  fire(): number {
    const due = [...this.timers.values()];
    this.timers.clear();
    this.t += INTERVAL;
    due.forEach((fn) => fn());
    return due.length;
  }
}

async function until(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) await new Promise((r) => setTimeout(r, 25));
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-health-'));
  const store = SqliteStore.open({ dataDir: dir });
  try {
    const logger = createLogger({ level: 'error', console: false, dir: join(dir, 'logs') });
    const now = new Date().toISOString();
    for (let i = 0; i < AGENTS; i++) {
      await store.agents.insert({ id: `a${i}`, branchId: `b${i % 100}`, kind: 'bot', channel: 'telegram', status: 'up', dependsOn: [], registeredAt: now, source: 'api' });
    }
    const clock = new SweepClock();
    const monitor = new HealthMonitor({
      store,
      clock,
      logger,
      bus: new EventBus(logger),
      audit: new AuditLog({ store, clock }),
      probe: async () => ({ ok: true, latencyMs: 5 }),
      alert: async () => undefined,
      restart: async () => undefined,
      options: { ...DEFAULT_HEALTH_OPTIONS, intervalMs: () => INTERVAL },
    });
    await monitor.start();
    const sweep = async () => {
      const before = monitor.checks();
      const cpu = process.cpuUsage();
      const wall = process.hrtime.bigint();
      clock.fire();
      // A sweep ends when every agent was checked and has armed its next check, which it does after
      // its writes are durable (firing earlier would skip it next sweep). Counters, not a count(*)
      // of the checks table, which would add its own cost to the measurement.
      await until(async () => monitor.checks() >= before + AGENTS && monitor.stats().scheduled >= AGENTS);
      const used = process.cpuUsage(cpu);
      return { cpuMs: (used.user + used.system) / 1000, wallMs: Number(process.hrtime.bigint() - wall) / 1e6 };
    };
    await sweep(); // warm-up (first checks)
    // A steady agent's record is written every LAST_CHECK_STORED_EVERY checks: a whole cycle of sweeps is measured.
    const sweeps: Array<{ cpuMs: number; wallMs: number }> = [];
    for (let i = 0; i < LAST_CHECK_STORED_EVERY; i++) sweeps.push(await sweep());
    const cpu = sweeps.map((x) => x.cpuMs).sort((a, b) => a - b);
    const ours = { cpuMs: cpu.reduce((a, b) => a + b, 0) / cpu.length, minMs: cpu[0]!, maxMs: cpu[cpu.length - 1]!, wallMs: sweeps.reduce((a, b) => a + b.wallMs, 0) / sweeps.length };
    await monitor.stop();

    const bareCpu = process.cpuUsage();
    for (let i = 0; i < AGENTS; i++) {
      await store.healthChecks.insert({ id: newId(), agentId: `a${i}`, at: now, ok: true, latencyMs: 5 });
    }
    const bare = process.cpuUsage(bareCpu);
    const bareMs = (bare.user + bare.system) / 1000;

    console.log(`health sweep over ${AGENTS} agents (probes answer at once)`);
    console.log(`  one sweep (mean of ${sweeps.length}): ${ours.cpuMs.toFixed(0)} ms CPU (min ${ours.minMs.toFixed(0)}, max ${ours.maxMs.toFixed(0)}), ${ours.wallMs.toFixed(0)} ms wall = ${((ours.cpuMs / INTERVAL) * 100).toFixed(1)}% of the ${INTERVAL / 1000} s interval`);
    console.log(`  storing the checks alone: ${bareMs.toFixed(0)} ms CPU; ratio sweep/storage ${(ours.cpuMs / bareMs).toFixed(2)}`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
