import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UptimeCounter } from '../../src/coordination/health/uptime-counter.js';
import { newId } from '../../src/core/ids.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';

const HOUR = 3600_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A deterministic pseudo-random sequence (so a failure can be replayed). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('UptimeCounter', () => {
  it('gives exactly what counting the stored checks of the last 24 hours gives, across a restart mid-hour, hour edges and 30 hours', async () => {
    for (const seed of [1, 42]) {
      const dir = mkdtempSync(join(tmpdir(), 'uptime-'));
      dirs.push(dir);
      const store = SqliteStore.open({ dataDir: dir });
      const rnd = random(seed);
      // A day and a half of history written by an earlier process, every 30 s or so.
      const clock = new ManualClock(Date.parse('2026-03-02T10:17:23.000Z'));
      const store1 = async (agentId: string, ok: boolean) => store.healthChecks.insert({ id: newId(clock.now()), agentId, at: new Date(clock.now()).toISOString(), ok, latencyMs: 1 });
      const start = clock.now();
      for (let t = start - 36 * HOUR; t < start; t += 20_000 + Math.floor(rnd() * 20_000)) {
        await store.healthChecks.insert({ id: newId(t), agentId: rnd() < 0.5 ? 'a' : 'b', at: new Date(t).toISOString(), ok: rnd() < 0.9, latencyMs: 1 });
      }
      const counter = new UptimeCounter({ store, clock });
      const brute = async (agentId: string) => {
        const at = { gte: new Date(clock.now() - 24 * HOUR).toISOString(), lte: new Date(clock.now()).toISOString() };
        return { total: await store.healthChecks.count({ agentId, at }), ok: await store.healthChecks.count({ agentId, at, ok: true }) };
      };
      // This process's checks for 30 hours, compared with the brute count now and then (and at hour edges).
      for (let step = 0; step < 3600; step++) {
        await clock.advance(20_000 + Math.floor(rnd() * 20_000));
        const agentId = rnd() < 0.5 ? 'a' : 'b';
        const ok = rnd() < 0.85;
        const check = await store1(agentId, ok);
        counter.record(agentId, check.at, ok);
        const nearEdge = clock.now() % HOUR < 40_000;
        if (nearEdge || step % 97 === 0) {
          for (const id of ['a', 'b']) expect({ seed, step, id, tally: await counter.last24h(id) }).toEqual({ seed, step, id, tally: await brute(id) });
        }
      }
      await store.close();
    }
  }, 60_000);

  it('reads the history for an hour only once when it is complete', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uptime-'));
    dirs.push(dir);
    const store = SqliteStore.open({ dataDir: dir });
    const clock = new ManualClock(Date.parse('2026-03-02T10:30:00.000Z'));
    for (let t = clock.now() - 30 * HOUR; t < clock.now(); t += 30_000) await store.healthChecks.insert({ id: newId(t), agentId: 'a', at: new Date(t).toISOString(), ok: true, latencyMs: 1 });
    const counter = new UptimeCounter({ store, clock });
    let counts = 0;
    const count = store.healthChecks.count.bind(store.healthChecks);
    store.healthChecks.count = (where) => {
      counts++;
      return count(where);
    };
    expect(await counter.last24h('a')).toEqual({ total: 2880, ok: 2880 });
    const first = counts;
    counts = 0;
    await counter.last24h('a');
    // Again: only the window's first partial hour and the hour the process started in (2 queries each).
    expect(counts).toBe(4);
    expect(first).toBeGreaterThan(40);
    await store.close();
  });
});
