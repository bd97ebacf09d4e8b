import { BUILTIN_CHANNELS } from '../../src/bots/channels.js';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { DomainEvents } from '../../src/coordination/event-bus.js';
import { createAlerter } from '../../src/coordination/alerts.js';
import { LAST_CHECK_STORED_EVERY } from '../../src/coordination/health/health-monitor.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

const YAML = `
business:
  name: Test
  opsAlerts: { agent: ops-slack, chat: C0OPS }
branches:
  - id: lisboa
    name: Lisboa
    managers: [{ id: ana, name: Ana, role: owner, telegram: 1001, whatsapp: "+351910000001" }]
    agents:
      - { id: lis-tg, channel: telegram, token: t }
      - { id: lis-wa, channel: whatsapp }
      - { id: lis-dep, channel: whatsapp, dependsOn: [lis-tg] }
  - id: ops
    name: Ops
    agents:
      - { id: ops-slack, channel: slack, botToken: xoxb-1, signingSecret: s }
`;

const INTERVAL = 30_000;
const RETRY = 10_000;

interface Harness {
  t: TestCoordinator;
  clock: ManualClock;
  bots: Map<string, FakeBot>;
  bot(id: string): FakeBot;
  status(id: string): Promise<string | undefined>;
  events: { [K in keyof DomainEvents]?: Array<DomainEvents[K]> };
}

const open: TestCoordinator[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function harness(health: Record<string, unknown> = {}): Promise<Harness> {
  const clock = new ManualClock();
  const { registry, bots } = fakeChannels();
  const t = await startTestCoordinator({
    yaml: YAML,
    clock,
    channels: registry,
    health: { retryIntervalMs: RETRY, retries: 2, timeoutMs: 5000, restartBaseMs: 5000, restartMaxMs: 20_000, random: () => 1, ...health },
  });
  open.push(t);
  const events: Harness['events'] = {};
  for (const name of ['agent.status', 'agent.restart-scheduled', 'alert.sent', 'alert.undeliverable'] as const) {
    t.running.coordinator.bus.on(name, (payload) => {
      ((events[name] ??= []) as unknown[]).push(payload);
    });
  }
  await clock.advance(0);
  return {
    t,
    clock,
    bots,
    events,
    bot: (id) => bots.get(id)!,
    status: async (id) => (await t.running.store.agents.get(id))?.status,
  };
}

describe('health monitor', () => {
  it('starts every agent up, then: failure -> pending -> retried -> down, one alert through a healthy channel, restarts with capped backoff, recovers with one resolved alert', async () => {
    const h = await harness();
    for (const id of ['lis-tg', 'lis-wa', 'lis-dep', 'ops-slack']) expect(await h.status(id)).toBe('up');
    expect(h.bot('lis-tg').starts).toBe(1);

    h.bot('lis-tg').health = 'fail';
    await h.clock.advance(INTERVAL);
    expect(await h.status('lis-tg')).toBe('pending');
    await h.clock.advance(RETRY);
    expect(await h.status('lis-tg')).toBe('pending');
    await h.clock.advance(RETRY);
    expect(await h.status('lis-tg')).toBe('down');
    const agent = await h.t.running.store.agents.get('lis-tg');
    expect(agent?.statusReason).toBe('connection refused');

    // Every check is stored; the transitions are audited.
    expect(await h.t.running.store.healthChecks.count({ agentId: 'lis-tg', ok: false })).toBe(3);
    const audit = await h.t.running.store.auditEvents.find({ where: { agentId: 'lis-tg', type: 'agent.status' }, orderBy: { field: 'seq' } });
    expect(audit.map((e) => (e.data as { to: string }).to)).toEqual(['up', 'pending', 'down']);

    // The alert went through the branch's healthy WhatsApp bot to the manager, never through the down bot.
    expect(h.bot('lis-wa').sent).toEqual([{ chatId: '+351910000001', text: expect.stringMatching(/^DOWN: lis-tg \(telegram, Lisboa\) — connection refused\. Restarting it automatically\.$/) }]);
    const downId = String(h.bot('lis-wa').sent.length); // the fake bot numbers its messages 1, 2, …
    expect(h.bot('lis-tg').sent).toEqual([]);

    // Dependents are blocked, not probed.
    await h.clock.advance(INTERVAL);
    expect(await h.status('lis-dep')).toBe('blocked');
    const depProbes = h.bot('lis-dep').probes;

    // Restarts: 5 s, 10 s, 20 s, then capped at 20 s.
    await h.clock.advance(60_000);
    const delays = (h.events['agent.restart-scheduled'] ?? []).filter((e) => e.agentId === 'lis-tg').map((e) => e.delayMs);
    expect(delays.slice(0, 4)).toEqual([5000, 10_000, 20_000, 20_000]);
    expect(h.bot('lis-tg').starts).toBeGreaterThanOrEqual(4);
    expect(h.bot('lis-dep').probes).toBe(depProbes);

    // Still exactly one DOWN alert (no storm).
    expect(h.bot('lis-wa').sent.filter((m) => m.text.startsWith('DOWN: lis-tg')).length).toBe(1);

    h.bot('lis-tg').health = 'ok';
    await h.clock.advance(20_000);
    expect(await h.status('lis-tg')).toBe('up');
    await h.clock.advance(0);
    expect(await h.status('lis-dep')).toBe('up');
    const texts = h.bot('lis-wa').sent.map((m) => m.text);
    expect(texts.filter((x) => x.startsWith('RESOLVED: lis-tg'))).toHaveLength(1);
    // The incident is a thread in each chat: RESOLVED answers the DOWN alert.
    expect(h.bot('lis-wa').sent.find((m) => m.text.startsWith('RESOLVED: lis-tg'))?.options).toEqual({ replyTo: downId });
    expect(texts.some((x) => /^BLOCKED: lis-dep .*dependency lis-tg is down/.test(x))).toBe(true);
    // lis-tg is healthy again and first in the branch's order, so it carries lis-dep's resolution (to Ana's Telegram id).
    expect(h.bot('lis-tg').sent).toContainEqual({ chatId: '1001', text: expect.stringMatching(/^RESOLVED: lis-dep/) });
    // Restart backoff starts over after recovery.
    const before = (h.events['agent.restart-scheduled'] ?? []).length;
    h.bot('lis-tg').health = 'fail';
    await h.clock.advance(INTERVAL + 2 * RETRY);
    const after = (h.events['agent.restart-scheduled'] ?? []).slice(before);
    expect(after[0]).toMatchObject({ agentId: 'lis-tg', attempt: 1, delayMs: 5000 });
  });

  it('an incident survives a restart: a new alerter on the same store answers the DOWN alert and knows how long it lasted', async () => {
    const h = await harness();
    // An incident left open weeks ago (the agent went to maintenance, never RESOLVED) is not reused.
    await h.t.running.store.settings.put({ id: 'alert-incident:lis-tg', value: { since: 0, roots: [{ agentId: 'lis-wa', chatId: '+351910000001', messageId: '99' }] }, updatedAt: new Date(0).toISOString() });
    h.bot('lis-tg').health = 'fail';
    await h.clock.advance(INTERVAL + 2 * RETRY);
    expect(await h.status('lis-tg')).toBe('down');
    const down = h.bot('lis-wa').sent.find((m) => m.text.startsWith('DOWN: lis-tg'))!;
    expect(down.options).toBeUndefined();
    const downId = String(h.bot('lis-wa').sent.indexOf(down) + 1);
    await h.clock.advance(5 * 60_000);
    // What a restarted coordinator builds: nothing of the old one's memory, only the store.
    const c = h.t.running.coordinator;
    const alert = createAlerter({ settings: c.settings, store: h.t.running.store, hosts: c.hosts, bus: c.bus, logger: memoryLogger().logger, clock: h.clock, channels: BUILTIN_CHANNELS });
    await alert((await h.t.running.store.agents.get('lis-tg'))!, 'resolved', undefined);
    const resolved = h.bot('lis-wa').sent.at(-1)!;
    expect(resolved).toEqual({ chatId: '+351910000001', text: 'RESOLVED: lis-tg (telegram, Lisboa) is up again after 5m.', options: { replyTo: downId } });
    expect(await h.t.running.store.settings.get('alert-incident:lis-tg')).toBeNull();
  });

  it('falls back to the ops channel when the branch has no other healthy bot, and reports an alert that cannot go anywhere', async () => {
    const h = await harness();
    h.bot('lis-wa').health = 'fail';
    h.bot('lis-dep').health = 'fail';
    await h.clock.advance(INTERVAL + 2 * RETRY);
    expect(await h.status('lis-wa')).toBe('down');
    h.bot('lis-tg').health = 'fail';
    await h.clock.advance(INTERVAL);
    await h.clock.advance(RETRY);
    await h.clock.advance(RETRY);
    expect(await h.status('lis-tg')).toBe('down');
    const ops = h.bot('ops-slack').sent;
    expect(ops.some((m) => m.chatId === 'C0OPS' && m.text.startsWith('DOWN: lis-tg'))).toBe(true);

    h.bot('ops-slack').health = 'fail';
    await h.clock.advance(INTERVAL + 2 * RETRY);
    expect(await h.status('ops-slack')).toBe('down');
    const undeliverable = h.events['alert.undeliverable'] ?? [];
    expect(undeliverable.some((e) => e.agentId === 'ops-slack' && e.why === 'no healthy channel')).toBe(true);
    expect(h.t.logs.some((e) => e.level === 'warn' && /no healthy channel for alert: DOWN: ops-slack/.test(String(e.message)))).toBe(true);
  });

  it('a failure that needs a human goes down at once and is not restarted', async () => {
    const h = await harness();
    h.bot('lis-tg').health = 'needs-human';
    await h.clock.advance(INTERVAL);
    expect(await h.status('lis-tg')).toBe('down');
    await h.clock.advance(10 * INTERVAL);
    expect(h.bot('lis-tg').starts).toBe(1);
    expect(h.events['agent.restart-scheduled'] ?? []).toEqual([]);
    expect(h.bot('lis-wa').sent[0].text).toMatch(/It needs a person/);
  });

  it('a bot reconnecting by itself goes down after the retries but is not restarted over its own backoff', async () => {
    const h = await harness();
    h.bot('lis-tg').health = 'reconnecting';
    await h.clock.advance(INTERVAL + 2 * RETRY);
    expect(await h.status('lis-tg')).toBe('down');
    await h.clock.advance(10 * INTERVAL);
    expect(h.bot('lis-tg').starts).toBe(1);
    expect(h.events['agent.restart-scheduled'] ?? []).toEqual([]);
    expect(h.bot('lis-wa').sent[0].text).toMatch(/reconnecting\. It is reconnecting by itself\.$/);
    h.bot('lis-tg').health = 'ok';
    await h.clock.advance(INTERVAL);
    expect(await h.status('lis-tg')).toBe('up');
  });

  it('maintenance pauses checks, restarts and alerts, and is audited', async () => {
    const h = await harness();
    const on = await h.t.call('/api/agents/lis-wa/maintenance', { method: 'POST', json: { enabled: true } });
    expect(on.status).toBe(200);
    expect(on.body.agent).toMatchObject({ status: 'maintenance', statusReason: 'maintenance by admin' });
    const probes = h.bot('lis-wa').probes;
    h.bot('lis-wa').health = 'fail';
    await h.clock.advance(5 * INTERVAL);
    expect(h.bot('lis-wa').probes).toBe(probes);
    expect(await h.status('lis-wa')).toBe('maintenance');
    expect(h.bot('lis-tg').sent).toEqual([]);
    h.bot('lis-wa').health = 'ok';
    const off = await h.t.call('/api/agents/lis-wa/maintenance', { method: 'POST', json: { enabled: false } });
    expect(off.body.agent.status).toBe('pending');
    await h.clock.advance(0);
    expect(await h.status('lis-wa')).toBe('up');
    const audit = await h.t.running.store.auditEvents.find({ where: { agentId: 'lis-wa' } });
    expect(audit.some((e) => e.actor === 'admin' && (e.data as { to: string }).to === 'maintenance')).toBe(true);
    const bad = await h.t.call('/api/agents/lis-wa/maintenance', { method: 'POST', json: { enabled: 'yes' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.issues[0].path).toBe('enabled');
  });

  it('a hanging probe times out without delaying the other agents', async () => {
    const h = await harness();
    h.bot('lis-tg').health = 'hang';
    const waProbes = h.bot('lis-wa').probes;
    await h.clock.advance(INTERVAL);
    // lis-wa was checked on time while lis-tg's probe hangs.
    expect(h.bot('lis-wa').probes).toBe(waProbes + 1);
    expect(h.t.running.coordinator.monitor.lastCheck('lis-wa')?.at).toBe(new Date(h.clock.now()).toISOString());
    expect(await h.status('lis-tg')).toBe('up');
    await h.clock.advance(5000);
    const tg = await h.t.running.store.agents.get('lis-tg');
    expect(tg).toMatchObject({ status: 'pending', statusReason: 'no answer within 5000 ms' });
  });

  it('a steady agent writes its record only every LAST_CHECK_STORED_EVERY checks (and at once when a check says something new); readers see the latest check', async () => {
    const h = await harness();
    const { store } = h.t.running;
    const version = async () => (await store.agents.get('lis-wa'))!.version;
    const before = await version();
    const checksBefore = await store.healthChecks.count({ agentId: 'lis-wa' });
    await h.clock.advance((LAST_CHECK_STORED_EVERY - 1) * INTERVAL);
    // Every check is in the history; the record was not rewritten for any of them.
    expect(await store.healthChecks.count({ agentId: 'lis-wa' })).toBe(checksBefore + LAST_CHECK_STORED_EVERY - 1);
    expect(await version()).toBe(before);
    const now = new Date(h.clock.now()).toISOString();
    expect((await store.agents.get('lis-wa'))!.lastCheck!.at).not.toBe(now);
    // The API and the status overview show the check that just ran, not the stored one.
    const detail = await h.t.call('/api/agents/lis-wa');
    expect((detail.body as { agent: { lastCheck: { at: string } } }).agent.lastCheck.at).toBe(now);
    const list = await h.t.call('/api/agents?branchId=lisboa');
    expect((list.body as { agents: Array<{ id: string; lastCheck: { at: string } }> }).agents.find((a) => a.id === 'lis-wa')!.lastCheck.at).toBe(now);
    const status = await h.t.call('/coordination/status');
    const lisboa = (status.body as { branches: Array<{ id: string; agents: Array<{ id: string; lastCheck: { at: string } }> }> }).branches.find((b) => b.id === 'lisboa')!;
    expect(lisboa.agents.find((a) => a.id === 'lis-wa')!.lastCheck.at).toBe(now);
    // The tenth check is stored.
    await h.clock.advance(INTERVAL);
    expect(await version()).toBe(before + 1);
    expect((await store.agents.get('lis-wa'))!.lastCheck!.at).toBe(new Date(h.clock.now()).toISOString());
    // A check that says something new (a failure, here with its status change) is stored at once.
    h.bot('lis-wa').health = 'fail';
    await h.clock.advance(INTERVAL);
    expect((await store.agents.get('lis-wa'))).toMatchObject({ status: 'pending', lastCheck: { ok: false, at: new Date(h.clock.now()).toISOString() } });
  });

  it('stopping does not wait for a probe that hangs', async () => {
    const h = await harness();
    h.bot('lis-tg').health = 'hang';
    await h.clock.advance(INTERVAL);
    const started = Date.now();
    await h.t.running.coordinator.monitor.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    // Nothing was stored for the probe cut short.
    expect(await h.t.running.store.healthChecks.count({ agentId: 'lis-tg', ok: false })).toBe(0);
  });

  it('keeps check history for the configured period and prunes the rest hourly', async () => {
    const h = await harness({ historyMs: 2 * 3600_000 });
    await h.clock.advance(3600_000);
    const count = () => h.t.running.store.healthChecks.count({ agentId: 'lis-wa' });
    const afterOneHour = await count();
    expect(afterOneHour).toBeGreaterThan(100);
    await h.clock.advance(2 * 3600_000);
    // Only the last two hours remain (about 240 checks at one per 30 s), plus the one at the edge.
    expect(await count()).toBeLessThanOrEqual(242);
    expect(await count()).toBeGreaterThanOrEqual(238);
  });

  it('re-notifies while still down when a re-notify interval is set', async () => {
    const h = await harness({ renotifyMs: 60_000 });
    h.bot('lis-tg').health = 'needs-human';
    await h.clock.advance(INTERVAL);
    await h.clock.advance(3 * INTERVAL);
    const texts = h.bot('lis-wa').sent.map((m) => m.text);
    expect(texts.filter((x) => x.startsWith('DOWN: lis-tg'))).toHaveLength(1);
    expect(texts.filter((x) => x.startsWith('Still down: lis-tg'))).toHaveLength(1);
  });
});

describe('health retry timing follows HEALTH_INTERVAL_MS, HEALTH_RETRY_INTERVAL_MS and HEALTH_RETRIES', () => {
  /** A coordinator whose retry interval and count come from the environment (no test override of them). */
  async function envHarness(env: Record<string, string>) {
    const clock = new ManualClock();
    const { registry, bots } = fakeChannels();
    const t = await startTestCoordinator({ yaml: YAML, clock, channels: registry, env, health: { timeoutMs: 500, restartBaseMs: 3_600_000, restartMaxMs: 3_600_000, random: () => 1 } });
    open.push(t);
    await clock.advance(0);
    const status = async (id: string) => (await t.running.store.agents.get(id))?.status;
    return { t, clock, bot: (id: string) => bots.get(id)!, status };
  }

  it('with HEALTH_INTERVAL_MS=1000 and the defaults, a failing agent is retried every second and down in 3 s (was ~21 s: retries fixed at 10 s)', async () => {
    const h = await envHarness({ HEALTH_INTERVAL_MS: '1000' });
    expect(await h.status('lis-tg')).toBe('up');
    h.bot('lis-tg').health = 'fail';
    await h.clock.advance(1000);
    expect(await h.status('lis-tg')).toBe('pending');
    await h.clock.advance(1000);
    expect(await h.status('lis-tg')).toBe('pending');
    await h.clock.advance(1000);
    expect(await h.status('lis-tg')).toBe('down');
    const audit = await h.t.running.store.auditEvents.find({ where: { agentId: 'lis-tg', type: 'agent.status' }, orderBy: { field: 'seq' } });
    expect(audit.map((e) => [(e.data as { to: string }).to, e.at])).toEqual([
      ['up', '2026-03-02T10:00:00.000Z'],
      ['pending', '2026-03-02T10:00:01.000Z'],
      ['down', '2026-03-02T10:00:03.000Z'],
    ]);
  });

  it('with HEALTH_INTERVAL_MS=1000 a hanging agent is down in 6 s: the probe timeout follows the interval too (was 8 s per probe, ~27 s)', async () => {
    const clock = new ManualClock();
    const { registry, bots } = fakeChannels();
    const t = await startTestCoordinator({ yaml: YAML, clock, channels: registry, env: { HEALTH_INTERVAL_MS: '1000' }, health: { restartBaseMs: 3_600_000, restartMaxMs: 3_600_000 } });
    open.push(t);
    await clock.advance(0);
    bots.get('lis-tg')!.health = 'hang';
    // 1 s: a check hangs, times out at 2 s (pending); retries at 3 s and 5 s time out at 4 s and 6 s (down).
    for (let i = 0; i < 6; i++) await clock.advance(1000);
    expect((await t.running.store.agents.get('lis-tg'))?.status).toBe('down');
    const checks = await t.running.store.healthChecks.find({ where: { agentId: 'lis-tg', ok: false }, orderBy: { field: 'at' } });
    expect(checks.map((c) => c.detail)).toEqual(['no answer within 1000 ms', 'no answer within 1000 ms', 'no answer within 1000 ms']);
  });

  it('explicit HEALTH_RETRY_INTERVAL_MS and HEALTH_RETRIES are honoured', async () => {
    const h = await envHarness({ HEALTH_INTERVAL_MS: '30000', HEALTH_RETRY_INTERVAL_MS: '500', HEALTH_RETRIES: '4' });
    h.bot('lis-tg').health = 'fail';
    await h.clock.advance(30_000);
    expect(await h.status('lis-tg')).toBe('pending');
    await h.clock.advance(3 * 500);
    expect(await h.status('lis-tg')).toBe('pending');
    expect(await h.t.running.store.healthChecks.count({ agentId: 'lis-tg', ok: false })).toBe(4);
    await h.clock.advance(500);
    expect(await h.status('lis-tg')).toBe('down');
    expect(await h.t.running.store.healthChecks.count({ agentId: 'lis-tg', ok: false })).toBe(5);
  });

  it('HEALTH_RETRIES=0 takes a failing agent down at its first failed check', async () => {
    const h = await envHarness({ HEALTH_INTERVAL_MS: '5000', HEALTH_RETRIES: '0' });
    h.bot('lis-wa').health = 'fail';
    await h.clock.advance(5000);
    expect(await h.status('lis-wa')).toBe('down');
    expect(await h.t.running.store.healthChecks.count({ agentId: 'lis-wa', ok: false })).toBe(1);
  });

  it('the default retry interval follows a runtime change of the check interval (PATCH /config healthIntervalMs)', async () => {
    const h = await envHarness({});
    const patched = await h.t.call('/config', { method: 'PATCH', json: { healthIntervalMs: 2000 } });
    expect(patched.status).toBe(200);
    h.bot('lis-tg').health = 'fail';
    // The check already scheduled at the old 30 s interval runs first; from then on both intervals are 2 s.
    await h.clock.advance(30_000);
    expect(await h.status('lis-tg')).toBe('pending');
    await h.clock.advance(2000);
    expect(await h.status('lis-tg')).toBe('pending');
    await h.clock.advance(2000);
    expect(await h.status('lis-tg')).toBe('down');
  });
});
