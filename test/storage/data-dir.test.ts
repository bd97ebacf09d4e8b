import { afterEach, describe, expect, it } from '@jest/globals';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { boot, type Running } from '../../src/boot.js';
import { systemClock } from '../../src/core/clock.js';
import { openStore } from '../../src/storage/open-store.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const mode = (path: string) => statSync(path).mode & 0o777;

/** Boots the real coordinator on `dataDir` (no ADMIN_TOKEN: it generates DATA_DIR/admin-token too). */
async function start(root: string, dataDir: string, extra: Record<string, string> = {}) {
  const { logger, entries } = memoryLogger();
  const running: Running = await boot({
    environment: { PORT: '0', DASHBOARD_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_DIR: join(root, 'logs'), COORDINATOR_CONFIG: join(root, 'none.yaml'), ...extra },
    logger,
  });
  return { running, entries };
}

describe('data dir permissions', () => {
  it('a fresh start creates the data dir 0700 and every file in it 0600, whatever the umask', async () => {
    const root = tempDir();
    cleanups.push(root.cleanup);
    const dataDir = join(root.path, 'data', 'nested');
    const umask = process.umask(0o000); // the most permissive umask: modes must not depend on it
    cleanups.push(() => void process.umask(umask));
    const { running } = await start(root.path, dataDir);
    await running.coordinator.audit.append({ type: 'test', actor: 'tester' });
    const files = readdirSync(dataDir);
    expect(files).toEqual(expect.arrayContaining(['coordinator.db', 'coordinator.pid', 'admin-token', 'audit-key', 'audit-head']));
    expect(mode(dataDir)).toBe(0o700);
    expect(Object.fromEntries(files.map((f) => [f, mode(join(dataDir, f))]))).toEqual(Object.fromEntries(files.map((f) => [f, 0o600])));
    await running.stop();
    // What SQLite left behind after closing (-wal, -shm) is owner-only too.
    for (const f of readdirSync(dataDir)) expect([f, mode(join(dataDir, f))]).toEqual([f, 0o600]);
  });

  it('refuses to start on a data dir other users can read, naming it, the chmod that fixes it and the option', async () => {
    const root = tempDir();
    cleanups.push(root.cleanup);
    const dataDir = join(root.path, 'data');
    await (await start(root.path, dataDir)).running.stop();

    chmodSync(dataDir, 0o755);
    const refusal = start(root.path, dataDir);
    await expect(refusal).rejects.toMatchObject({ code: 'config_invalid' });
    const message = await refusal.then(
      () => '',
      (error: Error) => error.message,
    );
    expect(message).toContain(`The data dir ${dataDir} can be read by other users of this machine:`);
    expect(message).toContain(`${dataDir} is mode 0755 (expected 0700)`);
    expect(message).toContain(`chmod 700 '${dataDir}'`);
    expect(message).toContain('ALLOW_INSECURE_DATA_DIR=true');

    chmodSync(dataDir, 0o700);
    chmodSync(join(dataDir, 'coordinator.db'), 0o644);
    await expect(start(root.path, dataDir)).rejects.toThrow(`chmod 600 '${join(dataDir, 'coordinator.db')}'`);
    // The runner opens its store through the same function, so it refuses too.
    await expect(openStore({ dataDir, logger: memoryLogger().logger, clock: systemClock })).rejects.toThrow(/coordinator\.db is mode 0644 \(expected 0600\)/);

    // The option lets it start, and says so.
    chmodSync(dataDir, 0o755);
    const { running, entries } = await start(root.path, dataDir, { ALLOW_INSECURE_DATA_DIR: 'true' });
    cleanups.push(() => running.stop());
    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringMatching(/can be read by other users[\s\S]*Starting anyway: ALLOW_INSECURE_DATA_DIR is set/) }));
    expect(mode(dataDir)).toBe(0o755);
  });
});
