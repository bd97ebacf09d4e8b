import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { stopChild } from '../helpers/stop-child.js';
import { until } from '../helpers/until.js';

const YAML = `
branches:
  - id: porto
    name: Porto
    host: remote
    agents:
      - { id: porto-tg, channel: telegram, token: t }
`;

/** A port free right now on loopback, so the coordinator can come back on the same one. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('a runner across a coordinator restart', () => {
  let t: TestCoordinator;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    // A fixed port and the same data dir across the restart, as a deploy does.
    t = await startTestCoordinator({ yaml: YAML, env: { PORT: String(await freePort()), HEALTH_INTERVAL_MS: '1000' }, health: { retryIntervalMs: 300, retries: 2, timeoutMs: 1000, restartBaseMs: 60_000 } });
  });
  afterAll(async () => {
    if (child) await stopChild(child);
    await t.close();
  });

  const registrations = (from: number) => t.logs.slice(from).filter((e) => typeof e.message === 'string' && /^runner runner-porto connected, hosting porto-tg/.test(e.message));
  const status = async () => (await t.running.store.agents.get('porto-tg'))?.status;

  it('reconnects by itself after a normal restart (io server disconnect), registers again, and its agent comes back up', async () => {
    const res = await t.call('/api/runners', { method: 'POST', json: { name: 'r-porto', branches: ['porto'] } });
    child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/fake-runner.ts', '--branch', 'porto'], {
      env: { PATH: process.env.PATH ?? '', COORDINATOR_URL: t.url, RUNNER_TOKEN: res.body.token, COORDINATOR_CONFIG: join(t.dir, 'coordinator.yaml'), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    await until('porto-tg up', async () => (await status()) === 'up', 20_000);
    const url = t.url;

    const mark = t.logs.length;
    await t.restart();
    expect(t.url).toBe(url);
    const restartedAt = Date.now();
    // The new process accepts the runner again: it registers, hosts the agent, and the agent is probed up.
    await until('the runner registered with the new coordinator', () => registrations(mark).length > 0, 20_000);
    expect(t.running.coordinator.hosts.hosts('porto-tg')).toBe(true);
    await until('porto-tg checked up after the restart', async () => {
      const agent = await t.running.store.agents.get('porto-tg');
      return agent?.status === 'up' && agent.lastCheck !== undefined && Date.parse(agent.lastCheck.at) >= restartedAt - 1000;
    }, 20_000);
    expect(output).toMatch(/the coordinator ended the connection \(io server disconnect\); connecting again in \d+ ms/);
    expect(child.exitCode).toBeNull();
  }, 60_000);
});
