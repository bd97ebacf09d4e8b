import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((c) => c()));

const SETUP = join(process.cwd(), 'scripts', 'setup.ts');
const TSX = join(process.cwd(), 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');

function run(cwd: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', TSX, SETUP, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('npm run setup', () => {
  it('creates .env, coordinator.yaml, data and logs when absent, and says which agents lack credentials', () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const r = run(dir.path);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir.path, '.env'))).toBe(true);
    expect(existsSync(join(dir.path, 'coordinator.yaml'))).toBe(true);
    expect(existsSync(join(dir.path, 'data'))).toBe(true);
    expect(existsSync(join(dir.path, 'logs'))).toBe(true);
    expect(r.out).toMatch(/coordinator\.yaml is valid — 2 branch\(es\)/);
    expect(r.out).toMatch(/lisboa-telegram \(telegram\): lacks credentials: set LISBOA_TELEGRAM_TOKEN in \.env/);
    expect(r.out).toMatch(/Next:/);
  });

  it('never overwrites existing files', () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    writeFileSync(join(dir.path, '.env'), 'PORT=4000\n');
    writeFileSync(join(dir.path, 'coordinator.yaml'), 'branches: []\n');
    const r = run(dir.path);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir.path, '.env'), 'utf8')).toBe('PORT=4000\n');
    expect(readFileSync(join(dir.path, 'coordinator.yaml'), 'utf8')).toBe('branches: []\n');
    expect(r.out).toMatch(/kept\s+\.env/);
    expect(r.out).toMatch(/127\.0\.0\.1:4000/);
  });

  it('--check exits non-zero and names the problem, creating nothing', () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    writeFileSync(join(dir.path, '.env'), 'HEALTH_INTERVAL_MS=5\n');
    const bad = run(dir.path, ['--check']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/env HEALTH_INTERVAL_MS: expected at least 1000 ms/);
    writeFileSync(join(dir.path, '.env'), '');
    writeFileSync(join(dir.path, 'coordinator.yaml'), 'branches:\n  - id: b1\n    name: B\n    timezone: Nowhere/City\n');
    const badYaml = run(dir.path, ['--check']);
    expect(badYaml.code).toBe(1);
    expect(badYaml.out).toMatch(/branches\[0\]\.timezone: expected an IANA time zone/);
    expect(existsSync(join(dir.path, 'data'))).toBe(false);
    writeFileSync(join(dir.path, 'coordinator.yaml'), 'branches: []\n');
    expect(run(dir.path, ['--check']).code).toBe(0);
  });
});
