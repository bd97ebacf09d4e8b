/**
 * `POST /api/approvals` (validation, policy, durable insert, hash-chained audit,
 * routing) against a bare Express endpoint that parses the same JSON and does
 * one durable SQLite insert with the same pragmas — autocannon, one run, same
 * machine. Prints throughput and p50/p99 latency for both and the ratio.
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

const TOKEN = 'bench-admin-token-0123456789';
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
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
    return await load(`${running.api.url}/api/approvals`, { authorization: `Bearer ${TOKEN}` });
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
    const ours = await load(`${running.api.url}/api/approvals`, { authorization: `Bearer ${TOKEN}` });
    const base = await load(`${bare.url}/approvals`, {});
    const stored = await running.store.approvals.count();
    console.log(`POST /api/approvals, 10 connections, ${DURATION} s each`);
    console.log(`  ours:          ${ours.rps.toFixed(0).padStart(6)} req/s  p50 ${ours.p50} ms  p99 ${ours.p99} ms  (${stored} approvals stored, errors ${ours.errors})`);
    console.log(`  bare Express:  ${base.rps.toFixed(0).padStart(6)} req/s  p50 ${base.p50} ms  p99 ${base.p99} ms  (one durable insert, errors ${base.errors})`);
    console.log(`  ratio ours/bare throughput ${(ours.rps / base.rps).toFixed(2)}`);
    const dark = await withUnreachableTelegram(dir);
    console.log(`  ours, Telegram unreachable (every prompt to a manager on it stays in the outbox): ${dark.rps.toFixed(0).padStart(6)} req/s  p50 ${dark.p50} ms  p99 ${dark.p99} ms  (errors ${dark.errors})`);
  } finally {
    await bare.close();
    db.close();
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
