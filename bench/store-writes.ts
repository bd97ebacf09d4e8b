/**
 * Durable write cost of the file store: our SqliteStore.insert (JSON document,
 * expression indexes, exclusive WAL, our own fsync of the WAL off the event
 * loop before a write is acknowledged) against a bare
 * better-sqlite3 INSERT into a plain table with the same pragmas, one fsync per
 * write (the naive design). Two loads: one writer awaiting each write (no
 * sharing possible), and 64 concurrent writers (their writes share commits).
 * Interleaved A B A B in one run; prints medians, spread and the ratios, and
 * how busy the event loop was (a synchronous fsync holds it; ours leaves it
 * free for other requests while the disk works).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import { interleave, ratio, ROUNDS, show, spread } from './interleave.js';

const N = Number(process.env.BENCH_WRITES ?? 1000);
const WRITERS = 64;

interface Run {
  rate: number;
  /** Share of the run's wall time the event loop was busy (not waiting for I/O). */
  busy: number;
}

async function ours(parent: string, writers: number): Promise<Run> {
  const dir = mkdtempSync(join(parent, 'ours-'));
  const store = SqliteStore.open({ dataDir: dir });
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < N; i = next++) {
      await store.messages.insert({ id: `m${i}`, contactId: `c${i % 50}`, branchId: 'lisboa', channel: 'telegram', direction: 'in', text: `message number ${i}`, at: new Date().toISOString() });
    }
  };
  const started = process.hrtime.bigint();
  const loop = performance.eventLoopUtilization();
  await Promise.all(Array.from({ length: writers }, writer));
  const busy = performance.eventLoopUtilization(loop).utilization;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  return { rate: N / seconds, busy };
}

/** better-sqlite3 is synchronous: however many callers there are, each insert is its own transaction and fsync. */
async function bare(parent: string): Promise<Run> {
  const dir = mkdtempSync(join(parent, 'bare-'));
  const db = new Database(join(dir, 'bare.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE messages (id TEXT PRIMARY KEY, contact_id TEXT, text TEXT, at TEXT)');
  const insert = db.prepare('INSERT INTO messages VALUES (?, ?, ?, ?)');
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) insert.run(`m${i}`, `c${i % 50}`, `message number ${i}`, new Date().toISOString());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  db.close();
  // Synchronous from start to end: the event loop can do nothing else meanwhile.
  return { rate: N / seconds, busy: 1 };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-writes-'));
  try {
    const one = await interleave(ROUNDS, () => ours(dir, 1), () => bare(dir));
    const many = await interleave(ROUNDS, () => ours(dir, WRITERS), () => bare(dir));
    const rates = (runs: Run[]) => spread(runs.map((r) => r.rate));
    const busy = (runs: Run[]) => `event loop busy ${(spread(runs.map((r) => r.busy)).median * 100).toFixed(0)}%`;
    const [o1, b1, o64, b64] = [rates(one.ours), rates(one.reference), rates(many.ours), rates(many.reference)];
    console.log(`store writes (${N} durable inserts per run, interleaved)`);
    console.log(`  one writer      SqliteStore.insert   ${show(o1, 'ops/s')}   ${busy(one.ours)}`);
    console.log(`                  bare better-sqlite3  ${show(b1, 'ops/s')}   ${busy(one.reference)}   ratio ${ratio(o1, b1)}`);
    console.log(`  ${WRITERS} writers      SqliteStore.insert   ${show(o64, 'ops/s')}   ${busy(many.ours)}`);
    console.log(`                  bare better-sqlite3  ${show(b64, 'ops/s')}   ${busy(many.reference)}   ratio ${ratio(o64, b64)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
