/**
 * Idle memory: the built coordinator (`node dist/src/main.js`, as `npm start`
 * runs it) with 100 agents across 10 branches, health checks running, nothing
 * else happening; its resident set (VmRSS) after it settles, next to a bare
 * Node process serving Express for scale. Goal: under 200 MB.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const AGENTS = 100;
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 8000);
const root = join(import.meta.dirname, '..');

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

async function started(child: ChildProcess, marker: RegExp): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (marker.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before starting: ${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export async function run(): Promise<void> {
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-if-stale.mjs')], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('the build failed');
  const dir = mkdtempSync(join(tmpdir(), 'bench-memory-'));
  const branches = Array.from({ length: 10 }, (_, b) => `  - id: b${b}\n    name: Branch ${b}\n    host: remote\n    agents:\n` + Array.from({ length: AGENTS / 10 }, (_, a) => `      - { id: a${b}-${a}, channel: whatsapp }`).join('\n')).join('\n');
  writeFileSync(join(dir, 'coordinator.yaml'), `branches:\n${branches}\n`);
  const env = { ...process.env, PORT: '0', DASHBOARD_PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), COORDINATOR_CONFIG: join(dir, 'coordinator.yaml'), ADMIN_TOKEN: 'bench-admin-token-0123456789', HEALTH_INTERVAL_MS: '2000', LOG_LEVEL: 'error' };
  // Its console (every runner-hosted agent is down: no runner connects) is not the point here.
  const ours = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const bare = spawn(process.execPath, ['-e', "require('express')().get('/', (q, s) => s.send('ok')).listen(0, '127.0.0.1', () => console.log('listening'))"], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await Promise.all([started(ours, /Coordinator running/), started(bare, /listening/)]);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const [mine, base] = [rssMb(ours.pid!), rssMb(bare.pid!)];
    console.log(`idle memory, ${AGENTS} agents (health checks every 2 s), ${SETTLE_MS / 1000} s after start`);
    console.log(`  coordinator (dist/src/main.js): ${mine.toFixed(0).padStart(5)} MB resident  (goal < 200 MB)`);
    console.log(`  bare Node + Express:            ${base.toFixed(0).padStart(5)} MB resident`);
  } finally {
    await Promise.all([stop(ours), stop(bare)]);
    rmSync(dir, { recursive: true, force: true });
  }
}
