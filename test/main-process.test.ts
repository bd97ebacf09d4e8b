import { afterEach, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { spawnCoordinator, type Spawned } from './helpers/spawn-coordinator.js';
import { stopChild } from './helpers/stop-child.js';
import { tempDir } from './helpers/temp-dir.js';
import { until } from './helpers/until.js';

const cleanups: Array<() => void> = [];
const children: Spawned[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await stopChild(c.child);
  cleanups.splice(0).forEach((c) => c());
});

function baseEnv(dir: string): Record<string, string> {
  return { PORT: '0', DASHBOARD_PORT: '0', DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), COORDINATOR_CONFIG: join(dir, 'none.yaml'), ADMIN_TOKEN: 'process-test-admin-token' };
}

function start(env: Record<string, string>): Spawned {
  const s = spawnCoordinator(env);
  children.push(s);
  return s;
}

describe('the coordinator process', () => {
  it('refuses to start on invalid configuration, with one line per problem, exit code 1', async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const s = start({ ...baseEnv(dir.path), PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(await s.exited).toBe(1);
    expect(s.stderr()).toMatch(/Cannot start the coordinator/);
    expect(s.stderr()).toMatch(/env PORT: expected a port number/);
    expect(s.stderr()).toMatch(/env LOG_LEVEL: expected one of/);
  }, 30_000);

  it('refuses a second process on the same data dir with a clear message', async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const first = start(baseEnv(dir.path));
    await first.ready;
    const second = start(baseEnv(dir.path));
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toMatch(new RegExp(`Another coordinator process \\(pid ${first.child.pid} .*is using the data dir`));
  }, 30_000);

  it('on SIGTERM stops accepting, finishes the in-flight request, closes the store and exits 0', async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const s = start(baseEnv(dir.path));
    const url = new URL(await s.ready);
    const body = JSON.stringify({ logLevel: 'debug' });
    // The request is in flight when SIGTERM comes: its headers are parsed (the server answered
    // `100 Continue`) and its body is not finished until the process says it is shutting down.
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: '/config', method: 'PATCH', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: 'Bearer process-test-admin-token', expect: '100-continue' } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.on('continue', () => {
        req.write(body.slice(0, 5));
        s.child.kill('SIGTERM');
        until('the shutdown log line', () => /SIGTERM: shutting down/.test(s.stdout()), 10_000).then(() => req.end(body.slice(5)), reject);
      });
      req.flushHeaders();
    });
    const res = await response;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).logging.level).toBe('debug');
    expect(await s.exited).toBe(0);
    // New connections are refused once it has stopped.
    await expect(fetch(`${url.origin}/health`)).rejects.toThrow();
    const logFile = readdirSync(join(dir.path, 'logs')).find((f) => f.startsWith('coordinator-'))!;
    const log = readFileSync(join(dir.path, 'logs', logFile), 'utf8');
    expect(log).toMatch(/SIGTERM: shutting down/);
    expect(log).toMatch(/coordinator stopped/);
    // The store was closed cleanly: another process can open the data dir at once, and sees the change.
    const again = start(baseEnv(dir.path));
    const url2 = await again.ready;
    const config = (await (await fetch(`${url2}/config`, { headers: { authorization: "Bearer process-test-admin-token" } })).json()) as { overrides: unknown };
    expect(config.overrides).toEqual({ logLevel: 'debug' });
  }, 30_000);
});
