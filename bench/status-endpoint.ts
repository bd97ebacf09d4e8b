/**
 * `GET /coordination/status` with 500 agents over real HTTP on loopback, against
 * a bare Express endpoint returning the same JSON from memory, measured with
 * autocannon, interleaved A B A B in one run. Prints medians with their spread
 * and the throughput ratio.
 */
import autocannon from 'autocannon';
import express from 'express';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boot } from '../src/boot.js';
import { createLogger } from '../src/config/logger.js';
import { listen } from '../src/coordination/serve.js';
import { interleave, ratio, ROUNDS, show, spread } from './interleave.js';

const AGENTS = 500;
const TOKEN = 'bench-admin-token-0123456789';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

async function load(url: string, headers: Record<string, string>) {
  const result = await autocannon({ url, connections: 10, duration: SECONDS, headers });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-status-'));
  const branches = Array.from({ length: 10 }, (_, b) => `  - id: b${b}\n    name: Branch ${b}\n    host: remote\n    agents:\n` + Array.from({ length: AGENTS / 10 }, (_, a) => `      - { id: a${b}-${a}, channel: whatsapp }`).join('\n')).join('\n');
  writeFileSync(join(dir, 'coordinator.yaml'), `branches:\n${branches}\n`);
  const running = await boot({
    environment: { PORT: '0', DASHBOARD_PORT: '0', DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), COORDINATOR_CONFIG: join(dir, 'coordinator.yaml'), ADMIN_TOKEN: TOKEN, RATE_LIMIT_PER_MIN: '100000000', LOG_LEVEL: 'error' },
    logger: createLogger({ level: 'error', console: false, dir: join(dir, 'logs') }),
  });
  try {
    const body = await (await fetch(`${running.api.url}/coordination/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const bareApp = express();
    bareApp.get('/status', (_req, res) => {
      res.type('json').send(body);
    });
    const bare = await listen(bareApp, '127.0.0.1', 0);
    const runs = await interleave(
      ROUNDS,
      () => load(`${running.api.url}/coordination/status`, { authorization: `Bearer ${TOKEN}` }),
      () => load(`${bare.url}/status`, {}),
    );
    await bare.close();
    const [rps, baseRps] = [spread(runs.ours.map((r) => r.rps)), spread(runs.reference.map((r) => r.rps))];
    const [p99, baseP99] = [spread(runs.ours.map((r) => r.p99)), spread(runs.reference.map((r) => r.p99))];
    const errors = runs.ours.reduce((n, r) => n + r.errors, 0);
    console.log(`GET /coordination/status with ${AGENTS} agents (${(body.length / 1024).toFixed(0)} KiB), 10 connections, ${SECONDS} s per run, interleaved`);
    console.log(`  ours:          ${show(rps, 'req/s')}  p99 ${show(p99, 'ms')}  errors ${errors}`);
    console.log(`  bare Express:  ${show(baseRps, 'req/s')}  p99 ${show(baseP99, 'ms')}  (the same JSON from memory)`);
    console.log(`  ratio ours/bare throughput ${ratio(rps, baseRps)}`);
  } finally {
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
