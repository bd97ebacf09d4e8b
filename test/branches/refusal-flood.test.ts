import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'socket.io-client';
import { AgentHosts } from '../../src/branches/agent-host.js';
import { attachRunnerGateway, type RunnerGateway } from '../../src/branches/runner-gateway.js';
import { coordinatorConfigSchema } from '../../src/config/config-schema.js';
import type { Principal } from '../../src/coordination/auth.js';
import { fakeChannels } from '../helpers/fake-channel.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { connected, runnerSocket } from '../helpers/runner-socket.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

// Red-team finding B on issue 14: 5000 refused `event` packets on /agents wrote 5000 warn lines
// (~1 MB in 3 s); refusal audits were capped, the log line was not, and the connection stayed open.
const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    agents:
      - { id: lis-tg, channel: telegram, token: t }
  - id: porto
    name: Porto
    host: remote
    agents:
      - { id: porto-tg, channel: telegram, token: t2 }
  - id: faro
    name: Faro
    host: remote
    agents:
      - { id: faro-tg, channel: telegram, token: t3 }
`;

describe('a connection flooding refused payloads is logged in bounds and closed; others are unaffected', () => {
  let t: TestCoordinator;
  const tokens: Record<string, string> = {};
  const sockets: Socket[] = [];
  const open = async (token: string) => {
    const socket = runnerSocket(t.url, token);
    sockets.push(socket);
    await connected(socket);
    return socket;
  };
  const registered = async (runner: string, agent: string) => {
    const socket = await open(tokens[runner]!);
    expect(await socket.emitWithAck('register', { runner, agents: [agent] })).toEqual({ ok: true, value: { accepted: [agent] } });
    return socket;
  };
  const linesAbout = (subject: string) => t.logs.filter((l) => l.module === 'runners' && String(l.message).includes(subject));
  const at = () => new Date().toISOString();

  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, channels: fakeChannels().registry });
    for (const [name, branch] of [
      ['r-porto', 'porto'],
      ['r-faro', 'faro'],
    ] as const) {
      const res = await t.call('/api/runners', { method: 'POST', json: { name, branches: [branch] } });
      expect(res.status).toBe(201);
      tokens[name] = res.body.token;
    }
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await t.close();
  });

  it('1000 refused events: at most 20 refusal lines and one summary, the connection closed and audited once; an honest runner carries on', async () => {
    const honest = await registered('r-faro', 'faro-tg');
    const flooder = await registered('r-porto', 'porto-tg');
    const closed = new Promise<string>((resolve) => flooder.once('disconnect', (reason) => resolve(String(reason))));
    const lisboa = { agentId: 'lis-tg', channel: 'telegram', chatId: '5', senderId: '5', text: 'hi', at: at() };
    for (let i = 0; i < 1000; i++) flooder.emit('event', { type: 'message', message: lisboa });
    expect(await closed).toBe('io server disconnect');

    const closing = await until('the closing line', () => linesAbout('closing the connection of runner r-porto').at(0));
    expect(closing).toMatchObject({ level: 'warn', message: expect.stringMatching(/201 refused payloads within a minute/) });
    const refusalLines = linesAbout('refused from runner r-porto');
    const summaries = linesAbout('more payloads from runner r-porto without logging each');
    expect(refusalLines).toHaveLength(20);
    expect(summaries).toEqual([expect.objectContaining({ level: 'warn', message: expect.stringMatching(/^refused 181 more payloads from runner r-porto .*latest: event message: agent lis-tg is not one this runner hosts/) })]);
    expect(linesAbout('r-porto').length).toBeLessThan(30);

    const audits = await until('the flood audited', async () => {
      const found = await t.running.store.auditEvents.find({ where: { type: 'runner.flood-refused' } });
      return found.length > 0 ? found : null;
    });
    expect(audits).toEqual([expect.objectContaining({ actor: 'runner:r-porto', data: expect.objectContaining({ runner: 'r-porto', refused: 201, limit: 200 }) })]);
    const refusalAudits = await t.running.store.auditEvents.count({ type: 'runner.refused', actor: 'runner:r-porto' });
    expect(refusalAudits).toBeLessThanOrEqual(20);

    // The honest runner on the same port: still connected, its events accepted and served.
    expect(honest.connected).toBe(true);
    expect(await honest.emitWithAck('event', { type: 'message', message: { ...lisboa, agentId: 'faro-tg', chatId: '9', senderId: '9' } })).toEqual({ ok: true, value: null });
    await until('the Faro contact', () => t.running.store.contacts.findOne({ branchId: 'faro', externalId: '9' }));
    expect(linesAbout('r-faro').filter((l) => /refused|closing/.test(String(l.message)))).toEqual([]);
    // The flooder may connect again (with a fresh budget): the token is not revoked, only the connection closed.
    expect((await open(tokens['r-porto']!)).connected).toBe(true);
  });

  it('an action agent token sending refused packets gets the same bounds', async () => {
    await addRequester(t, 'refunds', 'lisboa', 'agent-token-refunds-flood1');
    const socket = await open('agent-token-refunds-flood1');
    const closed = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(String(reason))));
    for (let i = 0; i < 1000; i++) socket.emit('register', { runner: 'x', agents: ['porto-tg'] }, () => undefined);
    expect(await closed).toBe('io server disconnect');
    expect(linesAbout('refused from agent refunds')).toHaveLength(20);
    expect(linesAbout('more payloads from agent refunds')).toHaveLength(1);
    await until('the flood audited', async () => (await t.running.store.auditEvents.count({ type: 'runner.flood-refused', actor: 'agent:refunds' })) > 0);
    expect(await t.running.store.auditEvents.count({ type: 'runner.flood-refused', actor: 'agent:refunds' })).toBe(1);
  });
});

describe('refusals past the per-minute log budget are summed into one line when their minute ends', () => {
  let server: Server;
  let gateway: RunnerGateway;
  let url = '';
  let clock = 1_000_000;
  const { logger, entries } = memoryLogger();
  const principals: Record<string, Principal> = { 'agent-token-slow-flood-01': { role: 'agent', subject: 'slow' } };

  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = coordinatorConfigSchema.parse({ branches: [{ id: 'lisboa', name: 'Lisboa' }] });
    gateway = attachRunnerGateway({ server, hosts: new AgentHosts(), authenticate: async (token) => (token ? (principals[token] ?? null) : null), config: () => config, logger, now: () => clock });
  });
  afterAll(async () => {
    await gateway.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('30 refusals: 20 lines; a minute later the next refusal first says how many went unlogged, then is logged; the connection stays', async () => {
    const socket = runnerSocket(url, 'agent-token-slow-flood-01');
    await connected(socket);
    const lines = () => entries.filter((e) => /refused .*agent slow|from agent slow/.test(String(e.message))).map((e) => String(e.message));
    for (let i = 0; i < 30; i++) expect(await socket.emitWithAck('decide', { n: i })).toEqual({ ok: false, error: 'an agent token cannot host bots; use a runner token' });
    expect(lines()).toHaveLength(20);
    clock += 61_000;
    expect((await socket.emitWithAck('decide', { n: 30 })).ok).toBe(false);
    expect(lines().slice(20)).toEqual([
      'refused 10 more payloads from agent slow without logging each (latest: decide: an agent token cannot host bots; use a runner token)',
      'refused from agent slow: decide: an agent token cannot host bots; use a runner token',
    ]);
    expect(socket.connected).toBe(true);
    expect(gateway.stats().closed).toEqual({ revoked: 0, flood: 0 });
    socket.disconnect();
  });
});
