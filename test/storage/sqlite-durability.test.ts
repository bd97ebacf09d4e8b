import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { CodedError, ErrorCode } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((c) => c()));

describe('SQLite file store durability', () => {
  it('keeps every acknowledged write after the writer is killed with SIGKILL', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/storage/crash-writer.ts', dir.path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: string[] = [];
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.startsWith('ack ')) acked.push(line.slice(4));
        if (acked.length >= 300 && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
    });
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    expect(acked.length).toBeGreaterThanOrEqual(300);

    const store = SqliteStore.open({ dataDir: dir.path });
    try {
      const stored = new Set((await store.messages.find()).map((m) => m.id));
      const lost = acked.filter((id) => !stored.has(id));
      expect(lost).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses a second store on the same data dir with a clear message, and allows it after close', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const first = SqliteStore.open({ dataDir: dir.path });
    let error: unknown;
    try {
      SqliteStore.open({ dataDir: dir.path });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CodedError);
    expect((error as CodedError).code).toBe(ErrorCode.DataDirLocked);
    expect((error as Error).message).toMatch(/Another coordinator process \(pid \d+ .*\) is using the data dir .*DATA_DIR/);
    await first.close();
    const second = SqliteStore.open({ dataDir: dir.path });
    await second.close();
  });
});
