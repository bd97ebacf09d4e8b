import { afterEach, describe, expect, it } from '@jest/globals';
import { EventBus } from '../../src/coordination/event-bus.js';
import { computeMetrics } from '../../src/dashboard/dashboard-metrics.js';
import { LiveMetrics, RESEED_MS } from '../../src/dashboard/live-metrics.js';
import type { ApprovalRecord, MessageRecord } from '../../src/storage/records.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const dir = tempDir();
  const store = SqliteStore.open({ dataDir: dir.path });
  cleanups.push(dir.cleanup, () => store.close());
  const clock = new ManualClock(Date.parse('2026-12-03T10:00:00.000Z'));
  const bus = new EventBus(memoryLogger().logger);
  const live = new LiveMetrics({ store, clock, bus });
  cleanups.push(() => live.stop());
  const iso = (ago: number) => new Date(clock.now() - ago).toISOString();
  let n = 0;
  /** Stores an approval and announces it, as the engine does. */
  const approval = async (createdAgo: number, decision?: { outcome: 'approved' | 'rejected'; by: string; afterSec: number }) => {
    const created = iso(createdAgo);
    const doc: Omit<ApprovalRecord, 'version'> = {
      id: `a${++n}`, code: `C${n}`, branchId: 'lisboa', requesterId: 'agent', actionType: 'refund', summary: 'Refund', riskLevel: 'low', autonomy: 'ask',
      status: decision ? decision.outcome : 'pending', deliveries: [], expiresAt: iso(-3600_000), createdAt: created, updatedAt: created,
      ...(decision ? { decision: { outcome: decision.outcome, by: decision.by, via: 'api', at: new Date(Date.parse(created) + decision.afterSec * 1000).toISOString() } } : {}),
    };
    const stored = await store.approvals.insert(doc);
    bus.emit('approval.updated', stored);
    return stored;
  };
  const message = async (ago: number) => {
    const stored = await store.messages.insert({ id: `m${++n}`, contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: 'hi', at: iso(ago) });
    bus.emit('message.recorded', stored as MessageRecord);
    return stored;
  };
  return { store, clock, bus, live, approval, message };
}

describe('live dashboard metrics', () => {
  it('read from the store once, then moved by events: the same numbers as reading the store every time', async () => {
    const { store, clock, bus, live, approval, message } = setup();
    await approval(5 * 3600_000, { outcome: 'approved', by: 'ana', afterSec: 60 });
    await approval(30 * 3600_000); // older than 24 h: not counted
    await message(10 * 60_000);
    await store.agents.insert({ id: 'lis-tg', branchId: 'lisboa', kind: 'bot', channel: 'telegram', status: 'up', dependsOn: [], registeredAt: new Date(clock.now()).toISOString(), source: 'config' });
    expect(await live.snapshot()).toEqual(await computeMetrics(store, clock.now()));

    // From here the store is not read again: events move the numbers.
    const find = store.approvals.find.bind(store.approvals);
    let reads = 0;
    store.approvals.find = (options) => {
      reads++;
      return find(options);
    };
    await approval(60_000, { outcome: 'rejected', by: 'rui', afterSec: 30 });
    const auto = await approval(0, { outcome: 'approved', by: 'policy', afterSec: 0 });
    await message(0);
    await message(0);
    await store.agents.update('lis-tg', { status: 'down' });
    bus.emit('agent.status', { agentId: 'lis-tg', branchId: 'lisboa', from: 'up', to: 'down', at: new Date(clock.now()).toISOString() });
    bus.emit('approval.updated', auto); // the same approval announced twice counts once
    const ours = await live.snapshot();
    expect(reads).toBe(0);
    store.approvals.find = find;
    expect(ours).toEqual(await computeMetrics(store, clock.now()));
    expect(ours).toMatchObject({ approvalRate: 2 / 3, medianDecisionSec: 45, autoApprovedShare: 1 / 3, agents: { up: 0, down: 1 } });
    expect(ours.messagesPerMinute.reduce((a, b) => a + b, 0)).toBe(3);
    expect(ours.approvalsPerHour.reduce((a, b) => a + b, 0)).toBe(3);

    // Time passes: what falls out of the windows goes, without any read.
    await clock.advance(2 * 3600_000 - 1);
    const later = await live.snapshot();
    expect(later.messagesPerMinute.reduce((a, b) => a + b, 0)).toBe(0);
    expect(later).toEqual(await computeMetrics(store, clock.now()));
  });

  it('reads the store again every few minutes, which drops what left it without an event', async () => {
    const { store, clock, live, approval } = setup();
    const gone = await approval(60_000);
    await approval(60_000);
    expect((await live.snapshot()).approvalsPerHour.at(-1)).toBe(2);
    await store.approvals.delete(gone.id); // retention, say: no event
    expect((await live.snapshot()).approvalsPerHour.at(-1)).toBe(2);
    await clock.advance(RESEED_MS);
    expect((await live.snapshot()).approvalsPerHour.at(-1)).toBe(1);
  });

  it('an event heard while the store is being read is applied after it, and a message the read already counted is not counted twice', async () => {
    const { store, clock, bus, live, message } = setup();
    const first = await message(0);
    const reading = live.snapshot(); // the read starts now
    bus.emit('message.recorded', first as MessageRecord); // already in the store: counted by the read
    // Stored (applied at the call) and announced while the read is still under way, after its query ran.
    const doc = { id: 'during', contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in' as const, text: 'x', at: new Date(clock.now()).toISOString() };
    const storing = store.messages.insert(doc);
    bus.emit('message.recorded', { ...doc, version: 1 });
    const snapshot = await reading;
    await storing;
    expect(snapshot.messagesPerMinute.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('a message announced after a read that already counted it (its write unit was still sending) is counted once', async () => {
    const { store, clock, bus, live } = setup();
    const doc = { id: 'in-unit', contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in' as const, text: 'x', at: new Date(clock.now()).toISOString() };
    const stored = await store.messages.insert(doc); // visible to reads; its event waits for the unit
    await live.snapshot();
    await clock.advance(5_000);
    bus.emit('message.recorded', stored);
    expect((await live.snapshot()).messagesPerMinute.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('the last bar is the 60 seconds up to now, not the calendar minute in progress', async () => {
    const { clock, live, message } = setup();
    await live.snapshot();
    await clock.advance(30_000);
    for (let i = 0; i < 3; i++) await message(0);
    await clock.advance(32_000); // into the next calendar minute, 32 s after the messages
    expect((await live.snapshot()).messagesPerMinute.at(-1)).toBe(3);
  });
});
