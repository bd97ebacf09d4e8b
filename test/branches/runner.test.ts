import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { BotEvent } from '../../src/bots/bot-agent.js';
import { stopChild } from '../helpers/stop-child.js';
import { until } from '../helpers/until.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
  - id: porto
    name: Porto
    host: remote
    agents:
      - { id: porto-tg, channel: telegram, token: t }
  - id: faro
    name: Faro
    host: remote
    agents:
      - { id: faro-tg, channel: telegram, token: t }
`;


describe('remote runner', () => {
  let t: TestCoordinator;
  let token = '';
  const children: ChildProcess[] = [];
  const runner = (args: string[], runnerToken: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/fake-runner.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', COORDINATOR_URL: t.url, RUNNER_TOKEN: runnerToken, COORDINATOR_CONFIG: join(t.dir, 'coordinator.yaml'), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    children.push(child);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, exited, output: () => output };
  };
  const status = async (id: string) => (await t.running.store.agents.get(id))?.status;

  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, env: { HEALTH_INTERVAL_MS: '1000' }, health: { retryIntervalMs: 300, retries: 2, timeoutMs: 1000, restartBaseMs: 60_000 } });
    const res = await t.call('/api/runners', { method: 'POST', json: { name: 'r-porto', branches: ['porto'] } });
    expect(res.status).toBe(201);
    token = res.body.token;
  });
  afterAll(async () => {
    await Promise.all(children.map(stopChild));
    await t.close();
  });

  it('refuses runner tokens for branches that are not remote or do not exist', async () => {
    const res = await t.call('/api/runners', { method: 'POST', json: { name: 'r-x', branches: ['lisboa', 'nowhere'] } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues.map((i: { message: string }) => i.message)).toEqual([expect.stringMatching(/set "host: remote"/), "unknown branch 'nowhere'"]);
  });

  it('connects, is probed like a local agent, relays sends and inbound events; goes down when killed and comes back when restarted', async () => {
    expect(await status('porto-tg')).not.toBe('up');
    const events: BotEvent[] = [];
    t.running.coordinator.hosts.onEvent((e) => events.push(e));
    const first = runner(['--branch', 'porto'], token);
    await until('porto-tg up', async () => (await status('porto-tg')) === 'up');
    const ref = await t.running.coordinator.hosts.send('porto-tg', 'chat-9', 'hello from the coordinator');
    expect(ref).toEqual({ chatId: 'chat-9', messageId: '1' });
    await until('an inbound message', async () => events.find((e) => e.type === 'message' && e.message.agentId === 'porto-tg'));
    const view = await t.call('/coordination/status');
    expect(view.body.branches.find((b: { id: string }) => b.id === 'porto').agents[0]).toMatchObject({ id: 'porto-tg', status: 'up', remote: true });

    const restarts: string[] = [];
    const alerts: string[] = [];
    const offs = [
      t.running.coordinator.bus.on('agent.restart-scheduled', (e) => void restarts.push(e.agentId)),
      t.running.coordinator.bus.on('alert.sent', (e) => void (e.agentId === 'porto-tg' && alerts.push(e.text))),
      t.running.coordinator.bus.on('alert.undeliverable', (e) => void (e.agentId === 'porto-tg' && alerts.push(e.text))),
    ];
    first.child.kill('SIGKILL');
    await first.exited;
    await until('porto-tg down', async () => (await status('porto-tg')) === 'down', 10_000);
    expect((await t.running.store.agents.get('porto-tg'))?.statusReason).toMatch(/runner is not connected/);
    // The coordinator cannot restart a bot whose runner is gone: it does not try, and the alert says what brings it back.
    await until('the DOWN alert', async () => alerts.length > 0);
    for (const off of offs) off();
    expect(restarts).toEqual([]);
    expect(alerts[0]).toMatch(/^DOWN: porto-tg .* — its runner is not connected\. It comes back when its runner connects again: check the runner process/);

    runner(['--branch', 'porto'], token);
    await until('porto-tg up again', async () => (await status('porto-tg')) === 'up');
  }, 40_000);

  it('refuses a runner without a valid token, and one asking for a branch outside its scope', async () => {
    const bad = runner(['--branch', 'porto'], 'not-a-token');
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/refused this runner: unauthorized/);
    const wrong = runner(['--branch', 'faro'], token);
    expect(await wrong.exited).toBe(1);
    expect(wrong.output()).toMatch(/not allowed to host: faro-tg/);
    expect(await status('faro-tg')).not.toBe('up');
  }, 30_000);
});
