/**
 * Dashboard fan-out: 500 signed-in Socket.IO pages on loopback; one approval
 * created through `POST /api/approvals` → the time until each page has its
 * `approval` event (p50/p99 over every page and event). The reference is a bare
 * Socket.IO server broadcasting an event of the same size to 500 clients.
 * Interleaved event by event (A B A B) in one run. Goal: p99 under 100 ms.
 */
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { boot } from '../src/boot.js';
import { createLogger } from '../src/config/logger.js';
import { ROUNDS, show, spread } from './interleave.js';

const PAGES = Number(process.env.BENCH_PAGES ?? 500);
const EVENTS = 10 * ROUNDS;
const TOKEN = 'bench-admin-token-0123456789';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function open(url: string, headers: Record<string, string>, ready: string): Promise<Socket[]> {
  const sockets: Socket[] = [];
  // In groups, as pages open over time (and under the per-address cap's burst).
  for (let i = 0; i < PAGES; i += 50) {
    const group = Array.from({ length: Math.min(50, PAGES - i) }, () => connect(url, { extraHeaders: headers, transports: ['websocket'], reconnection: false, forceNew: true }));
    await Promise.all(group.map((s) => new Promise<void>((resolve, reject) => {
      s.once(ready, () => resolve());
      s.once('connect_error', reject);
    })));
    sockets.push(...group);
  }
  return sockets;
}

/** Resolves with each socket's delay (ms) from `t0` until it received `event` matching `which`. */
function arrivals(sockets: Socket[], event: string, which: (payload: unknown) => boolean, t0: () => number): Promise<number[]> {
  return Promise.all(sockets.map((s) => new Promise<number>((resolve) => {
    const on = (payload: unknown) => {
      if (!which(payload)) return;
      s.off(event, on);
      resolve(performance.now() - t0());
    };
    s.on(event, on);
  })));
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-fanout-'));
  writeFileSync(join(dir, 'coordinator.yaml'), 'branches:\n  - id: lisboa\n    name: Lisboa\n    managers: [{ id: ana, name: Ana, role: owner }]\n');
  const running = await boot({
    environment: {
      PORT: '0', DASHBOARD_PORT: '0', DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), COORDINATOR_CONFIG: join(dir, 'coordinator.yaml'),
      ADMIN_TOKEN: TOKEN, RATE_LIMIT_PER_MIN: '100000000', LOG_LEVEL: 'error', SOCKET_MAX_CONNECTIONS: String(PAGES + 100), SOCKET_MAX_PER_ADDRESS: String(PAGES + 100),
      // Every page comes from 127.0.0.1 here: lift the per-address caps a real deployment keeps.
      HTTP_MAX_PER_ADDRESS: String(PAGES + 100),
    },
    logger: createLogger({ level: 'error', console: false, dir: join(dir, 'logs') }),
  });
  const bareHttp = createServer();
  const bare = new Server(bareHttp, { transports: ['websocket'] });
  await new Promise<void>((resolve) => bareHttp.listen(0, '127.0.0.1', resolve));
  let ours: Socket[] = [];
  let refs: Socket[] = [];
  try {
    const base = running.dashboard.url;
    const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard' }, body: JSON.stringify({ token: TOKEN }) });
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    ours = await open(base, { cookie, origin: base }, 'snapshot');
    bare.on('connection', (s) => s.emit('ready'));
    refs = await open(`http://127.0.0.1:${(bareHttp.address() as AddressInfo).port}`, {}, 'ready');

    const oursMs: number[] = [];
    const refMs: number[] = [];
    let sample: unknown;
    for (let e = 0; e < EVENTS; e++) {
      // Ours: the whole path, from the request to every page.
      let t0 = 0;
      const summary = `fan-out ${e}`;
      const got = arrivals(ours, 'approval', (a) => (a as { summary?: string }).summary === summary, () => t0);
      t0 = performance.now();
      const res = await fetch(`${running.api.url}/api/approvals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ branchId: 'lisboa', actionType: 'refund', summary, details: { orderId: String(e), amount: 20 } }),
      });
      sample = (await res.json() as { approval: unknown }).approval;
      oursMs.push(...(await got));
      // The reference: the same-sized payload broadcast by a bare server.
      let r0 = 0;
      const gotRef = arrivals(refs, 'approval', (a) => (a as { summary?: string }).summary === summary, () => r0);
      r0 = performance.now();
      bare.emit('approval', { ...(sample as object), summary });
      refMs.push(...(await gotRef));
    }
    // Sorted copies: oursMs stays in arrival order, event by event, for the per-event figure below.
    const [o, r] = [[...oursMs].sort((a, b) => a - b), [...refMs].sort((a, b) => a - b)];
    console.log(`dashboard fan-out: ${PAGES} signed-in pages, ${EVENTS} approvals created one after another (interleaved with the reference)`);
    console.log(`  ours (POST /api/approvals -> every page): p50 ${percentile(o, 50).toFixed(1)} ms  p99 ${percentile(o, 99).toFixed(1)} ms  max ${o[o.length - 1]!.toFixed(1)} ms  (goal p99 < 100 ms)`);
    console.log(`  bare Socket.IO broadcast:                p50 ${percentile(r, 50).toFixed(1)} ms  p99 ${percentile(r, 99).toFixed(1)} ms  max ${r[r.length - 1]!.toFixed(1)} ms`);
    console.log(`  per-event p99, ours: ${show(spread(chunks(oursMs, PAGES).map((c) => percentile(c.sort((a, b) => a - b), 99))), 'ms', 1)}`);
  } finally {
    for (const s of [...ours, ...refs]) s.disconnect();
    await new Promise((resolve) => bare.close(resolve));
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function chunks(values: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}
