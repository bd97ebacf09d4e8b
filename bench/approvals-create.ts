/**
 * `POST /api/approvals` (validation, policy, durable insert, hash-chained audit,
 * routing) against a bare Express endpoint that parses the same JSON and does
 * one durable SQLite insert with the same pragmas — autocannon, interleaved
 * A B A B in one run. Prints medians of throughput and p99 with their spread,
 * and the ratios.
 */
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import express from 'express';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boot } from '../src/boot.js';
import { createLogger } from '../src/config/logger.js';
import { listen } from '../src/coordination/serve.js';
import { interleave, ratio, ROUNDS, show, spread } from './interleave.js';

const TOKEN = 'bench-admin-token-0123456789';
const DURATION = Number(process.env.BENCH_SECONDS ?? 4);
const BODY = JSON.stringify({ branchId: 'lisboa', actionType: 'refund', summary: 'Refund 20 EUR to order 1234', details: { orderId: '1234', amount: 20 } });

async function load(url: string, headers: Record<string, string>) {
  const r = await autocannon({ url, method: 'POST', connections: 10, duration: DURATION, headers: { 'content-type': 'application/json', ...headers }, body: BODY });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, total: r.requests.total };
}

/**
 * The same load on a coordinator whose managers are on Telegram and whose Bot
 * API address accepts connections and never answers: the requests must not
 * wait for it (the prompts go to the outbox).
 */
async function withUnreachableTelegram(parent: string) {
  const sockets = new Set<Socket>();
  const hole = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
  const dir = join(parent, 'dark');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'coordinator.yaml'),
    'branches:\n  - id: lisboa\n    name: Lisboa\n    managers: [{ id: ana, name: Ana, role: owner, telegram: 1001 }, { id: rui, name: Rui, role: owner, telegram: 1002 }]\n    agents: [{ id: lis-tg, channel: telegram, token: "1:bench" }]\n',
  );
  const running = await boot({
    environment: { PORT: '0', DASHBOARD_PORT: '0', DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), COORDINATOR_CONFIG: join(dir, 'coordinator.yaml'), ADMIN_TOKEN: TOKEN, RATE_LIMIT_PER_MIN: '100000000', LOG_LEVEL: 'error', TELEGRAM_API_ROOT: `http://127.0.0.1:${(hole.address() as AddressInfo).port}` },
    logger: createLogger({ level: 'error', console: false, dir: join(dir, 'logs') }),
  });
  try {
    const runs = [];
    for (let i = 0; i < ROUNDS; i++) runs.push(await load(`${running.api.url}/api/approvals`, { authorization: `Bearer ${TOKEN}` }));
    return runs;
  } finally {
    for (const s of sockets) s.destroy();
    await running.stop();
    // The bot may have opened new connections while stopping: close() waits for every one of them.
    const closed = new Promise((resolve) => hole.close(resolve));
    for (const s of sockets) s.destroy();
    await closed;
  }
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-approvals-'));
  // One branch, no chat agents: each request is validated, classified, stored, audited and routed (to nobody).
  writeFileSync(join(dir, 'coordinator.yaml'), 'branches:\n  - id: lisboa\n    name: Lisboa\n    managers: [{ id: ana, name: Ana, role: owner }]\n');
  const running = await boot({
    environment: { PORT: '0', DASHBOARD_PORT: '0', DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), COORDINATOR_CONFIG: join(dir, 'coordinator.yaml'), ADMIN_TOKEN: TOKEN, RATE_LIMIT_PER_MIN: '100000000', LOG_LEVEL: 'error' },
    logger: createLogger({ level: 'error', console: false, dir: join(dir, 'logs') }),
  });
  const db = new Database(join(dir, 'bare.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE approvals (id TEXT PRIMARY KEY, doc TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO approvals VALUES (?, ?)');
  const bareApp = express();
  bareApp.use(express.json());
  bareApp.post('/approvals', (req, res) => {
    const doc = { id: randomUUID(), ...req.body, status: 'pending', createdAt: new Date().toISOString() };
    insert.run(doc.id, JSON.stringify(doc));
    res.status(201).json({ approval: doc });
  });
  const bare = await listen(bareApp, '127.0.0.1', 0);
  try {
    const runs = await interleave(
      ROUNDS,
      () => load(`${running.api.url}/api/approvals`, { authorization: `Bearer ${TOKEN}` }),
      () => load(`${bare.url}/approvals`, {}),
    );
    const stored = await running.store.approvals.count();
    const rps = spread(runs.ours.map((r) => r.rps));
    const baseRps = spread(runs.reference.map((r) => r.rps));
    const p99 = spread(runs.ours.map((r) => r.p99));
    const baseP99 = spread(runs.reference.map((r) => r.p99));
    const errors = (list: Array<{ errors: number }>) => list.reduce((n, r) => n + r.errors, 0);
    console.log(`POST /api/approvals, 10 connections, ${DURATION} s per run, interleaved`);
    console.log(`  ours:          ${show(rps, 'req/s')}  p99 ${show(p99, 'ms')}  (${stored} approvals stored, errors ${errors(runs.ours)})`);
    console.log(`  bare Express:  ${show(baseRps, 'req/s')}  p99 ${show(baseP99, 'ms')}  (one durable insert each, errors ${errors(runs.reference)})`);
    console.log(`  ratio ours/bare throughput ${ratio(rps, baseRps)}, p99 ${ratio(p99, baseP99)}`);
    const dark = await withUnreachableTelegram(dir);
    console.log(`  ours, Telegram unreachable (every prompt to a manager on it stays in the outbox):`);
    console.log(`                 ${show(spread(dark.map((r) => r.rps)), 'req/s')}  p99 ${show(spread(dark.map((r) => r.p99)), 'ms')}  (goal p99 < 50 ms; errors ${errors(dark)})`);
  } finally {
    await bare.close();
    db.close();
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
