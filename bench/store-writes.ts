/**
 * Durable write cost of the file store: our SqliteStore.insert (JSON document,
 * expression indexes, exclusive WAL, synchronous=FULL) against a bare
 * better-sqlite3 INSERT into a plain table with the same pragmas, measured in
 * one run on this machine. Prints ops/s for both and the ratio.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';

const N = Number(process.env.BENCH_WRITES ?? 2000);

async function ours(dir: string): Promise<number> {
  const store = SqliteStore.open({ dataDir: dir });
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    await store.messages.insert({ id: `m${i}`, contactId: `c${i % 50}`, branchId: 'lisboa', channel: 'telegram', direction: 'in', text: `message number ${i}`, at: new Date().toISOString() });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  return N / seconds;
}

function bare(dir: string): number {
  const db = new Database(join(dir, 'bare.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE messages (id TEXT PRIMARY KEY, contact_id TEXT, text TEXT, at TEXT)');
  const insert = db.prepare('INSERT INTO messages VALUES (?, ?, ?, ?)');
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) insert.run(`m${i}`, `c${i % 50}`, `message number ${i}`, new Date().toISOString());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  db.close();
  return N / seconds;
}

export async function run(): Promise<void> {
  const a = mkdtempSync(join(tmpdir(), 'bench-ours-'));
  const b = mkdtempSync(join(tmpdir(), 'bench-bare-'));
  try {
    const oursRate = await ours(a);
    const bareRate = bare(b);
    console.log(`store writes (${N} single durable inserts)`);
    console.log(`  SqliteStore.insert   ${oursRate.toFixed(0).padStart(8)} ops/s`);
    console.log(`  bare better-sqlite3  ${bareRate.toFixed(0).padStart(8)} ops/s`);
    console.log(`  ratio ours/bare      ${(oursRate / bareRate).toFixed(2)}`);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
}
