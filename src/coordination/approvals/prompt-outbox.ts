import type { BranchConfig, CoordinatorConfig, ManagerConfig } from '../../config/config-schema.js';
import type { Logger } from '../../config/logger.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { ConflictError } from '../../core/errors.js';
import type { ApprovalRecord, Delivery, PromptJobRecord, Unreached } from '../../storage/records.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import type { EventBus } from '../event-bus.js';
import { Semaphore } from '../../core/semaphore.js';
import type { ApprovalDelivery } from './approval-delivery.js';

/** Sends running at once (each is one chat API call); the rest wait their turn. */
const MAX_IN_FLIGHT = 8;
/** Backoff after every channel of a manager failed: 2 s, 4 s, ... up to 5 minutes, until the approval is decided. */
const retryDelayMs = (attempts: number) => Math.min(300_000, 2000 * 2 ** Math.max(0, attempts - 1));
const MAX_TIMER_MS = 2 ** 31 - 1;
const OPEN: ReadonlyArray<PromptJobRecord['status']> = ['queued', 'sending', 'waiting'];

export interface PromptOutboxDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  bus: EventBus;
  audit: AuditLog;
  delivery: ApprovalDelivery;
  config: () => CoordinatorConfig;
}

/**
 * Approval prompts, persisted before the request is answered and sent from
 * here: so a requester never waits for a chat platform, a manager whose only
 * channel is down is asked when it comes back, and a restart loses none.
 *
 * Each job is one manager (or one branch chat) for one approval and tier; its
 * id makes a second enqueue of the same target a no-op, and a send is claimed
 * by compare-and-set (queued → sending), so two processes never send the same
 * prompt at once. A crash between the platform's answer and the record of it
 * is the one case resent after a restart (at-least-once, like any outbox).
 */
export class PromptOutbox {
  private readonly timers = new Map<string, TimerHandle>();
  private readonly slots = new Semaphore(MAX_IN_FLIGHT);
  /** Jobs waiting for a slot or being sent by this process. */
  private readonly active = new Set<string>();
  /** Jobs due now, handed to the next turn of the event loop (not to the clock: only waits are timed). */
  private immediate = 0;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private readonly log: Logger;
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: PromptOutboxDeps) {
    this.log = deps.logger.child({ module: 'approvals' });
    // A channel that comes up sends what was waiting for it.
    this.unsubscribe = deps.bus.on('agent.status', (e) => {
      if (e.to === 'up') void this.wake(e.branchId, e.agentId).catch((error: unknown) => this.log.error('could not wake waiting prompts', { branchId: e.branchId, error }));
    });
  }

  /**
   * The prompt jobs of one round and the `unreached` entries they stand for,
   * without storing anything: the engine stores the entries with the approval
   * itself (one write) and then `add`s the jobs. Managers with no chat identity
   * on any channel get no job; `skip` leaves out managers already being asked.
   */
  plan(
    approvalId: string,
    branch: BranchConfig,
    managers: ManagerConfig[],
    tier: PromptJobRecord['tier'],
    how: { skip?: ReadonlySet<string | undefined>; step?: number; chats?: Array<{ agentId: string; chatId: string }> } = {},
  ): { jobs: Array<Omit<PromptJobRecord, 'version'>>; unreached: Unreached[] } {
    const now = isoNow(this.deps.clock);
    const { skip = new Set(), step } = how;
    const round = step ? `${tier}-${step}` : tier;
    const job = (key: string, target: Pick<PromptJobRecord, 'managerId' | 'agentId' | 'chatId'>): Omit<PromptJobRecord, 'version'> => ({
      id: `${approvalId}:${round}:${key}`,
      approvalId,
      branchId: branch.id,
      tier,
      ...(step ? { step } : {}),
      ...target,
      status: 'queued',
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    });
    const asked = managers.filter((m) => !skip.has(m.id) && this.deps.delivery.reachable(m));
    const jobs = asked.map((m) => job(`m:${m.id}`, { managerId: m.id }));
    const chats = how.chats ?? (tier === 'initial' ? this.deps.delivery.branchChats(branch) : []);
    for (const chat of chats) jobs.push(job(`c:${chat.agentId}`, chat));
    return { jobs, unreached: asked.map((m) => ({ managerId: m.id, tier, ...(step ? { step } : {}), state: 'queued', since: now })) };
  }

  /** Stores planned jobs (a job already stored is kept as it is) and starts sending them. */
  async add(approval: ApprovalRecord, jobs: Array<Omit<PromptJobRecord, 'version'>>, alreadyAsking = false): Promise<void> {
    this.start(await this.stage(approval, jobs, alreadyAsking));
  }

  /**
   * Stores planned jobs without sending any: in a write unit (an approval's creation) they become
   * durable with the approval, and `start` sends them after. Returns the jobs stored now.
   */
  async stage(approval: ApprovalRecord, jobs: Array<Omit<PromptJobRecord, 'version'>>, alreadyAsking = false): Promise<PromptJobRecord[]> {
    if (jobs.length === 0 && !alreadyAsking) {
      this.log.warn(`approval ${approval.code}: no manager who may decide it has a chat identity, and no approvals chat is configured; it waits on the dashboard and API`, { approvalId: approval.id });
      await this.deps.audit.append({ type: 'approval.undelivered', actor: 'coordinator', branchId: approval.branchId, approvalId: approval.id, data: { reason: 'nobody to ask' } });
    }
    // Issued together, so the file store commits them in one batch.
    const stored = await Promise.all(
      jobs.map((doc) =>
        this.deps.store.prompts.insert(doc).catch((error: unknown) => {
          if (!(error instanceof ConflictError)) throw error;
          return null;
        }),
      ),
    );
    return stored.filter((job): job is PromptJobRecord => job !== null);
  }

  /** Starts sending jobs stored by `stage`. */
  start(jobs: readonly PromptJobRecord[]): void {
    for (const job of jobs) this.schedule(job);
  }

  /**
   * The managers a later round would ask that are being asked already: their
   * prompt went out, or is still on its way (that one reaches them).
   */
  async alreadyAsked(approval: ApprovalRecord): Promise<Set<string | undefined>> {
    const open = await this.deps.store.prompts.find({ where: { approvalId: approval.id, status: { in: [...OPEN] } } });
    return new Set([...open.map((j) => j.managerId), ...approval.deliveries.filter((d) => d.status === 'sent').map((d) => d.managerId)].filter(Boolean));
  }

  /**
   * Queues a later round (an escalation step) for an approval already stored:
   * its `unreached` entries are added by compare-and-set. Managers already
   * asked (`alreadyAsked`) are not asked again.
   */
  async enqueue(approval: ApprovalRecord, branch: BranchConfig, managers: ManagerConfig[], tier: PromptJobRecord['tier'], how: { step?: number; chats?: Array<{ agentId: string; chatId: string }> } = {}): Promise<ApprovalRecord> {
    const skip = await this.alreadyAsked(approval);
    const { jobs, unreached } = this.plan(approval.id, branch, managers, tier, { ...how, skip });
    const stored = unreached.length > 0 ? await this.patch(approval.id, (a) => ({ unreached: [...(a.unreached ?? []).filter((u) => !unreached.some((w) => w.managerId === u.managerId)), ...unreached] })) : approval;
    // "Nobody to ask" is the initial round's warning; a later round with nobody new only says so.
    if (jobs.length === 0) this.log.info(`approval ${approval.code}: the ${tier}${how.step ? ` step ${how.step}` : ''} round has nobody new to ask`, { approvalId: approval.id });
    await this.add(stored ?? approval, jobs, true);
    return stored ?? approval;
  }

  /** Schedules every open job (those due while we were down go at once; a send caught by a stop is tried again). */
  async resume(): Promise<void> {
    for (let job of await this.deps.store.prompts.find({ where: { status: { in: [...OPEN] } } })) {
      // Claimed by a process that stopped mid-send: sent again (the platform's answer may not have been recorded).
      if (job.status === 'sending') job = (await this.deps.store.prompts.update(job.id, { status: 'queued', updatedAt: isoNow(this.deps.clock) }, { version: job.version })) ?? job;
      this.schedule(job);
    }
  }

  /** Marks the open jobs of a decided approval dropped, so nothing more is sent for it. */
  async dropFor(approvalId: string): Promise<void> {
    for (const job of await this.deps.store.prompts.find({ where: { approvalId, status: { in: ['queued', 'waiting'] } } })) {
      this.unschedule(job.id);
      await this.deps.store.prompts.update(job.id, { status: 'dropped', updatedAt: isoNow(this.deps.clock) }, { version: job.version });
    }
  }

  /**
   * Sends now what waits for a channel of this branch, and what was backing
   * off after failed sends; `agentId`: also the jobs naming that agent (the
   * business's ops chat is another branch's agent).
   */
  async wake(branchId: string, agentId?: string): Promise<void> {
    const waiting = { in: ['waiting', 'queued'] as PromptJobRecord['status'][] };
    const jobs = await this.deps.store.prompts.find({ where: { branchId, status: waiting } });
    if (agentId) jobs.push(...(await this.deps.store.prompts.find({ where: { agentId, status: waiting } })).filter((j) => j.branchId !== branchId));
    for (const job of jobs) this.schedule(job, 0);
  }

  /** Resolves once every send started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.immediate > 0 || this.running.size > 0) {
      if (this.running.size > 0) await Promise.allSettled([...this.running]);
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    for (const t of this.timers.values()) this.deps.clock.clearTimeout(t);
    this.timers.clear();
    // Jobs still waiting for a slot return at once (run checks `stopped`); the sends under way finish.
    await Promise.allSettled([...this.running]);
  }

  private schedule(job: PromptJobRecord, delayMs?: number): void {
    if (this.stopped || job.status === 'sent' || job.status === 'dropped') return;
    if (job.status === 'waiting' && delayMs === undefined) return;
    this.unschedule(job.id);
    const delay = delayMs ?? Math.max(0, Date.parse(job.nextAttemptAt) - this.deps.clock.now());
    if (delay === 0) {
      this.immediate++;
      setImmediate(() => {
        this.immediate--;
        if (!this.stopped) this.enter(job.id);
      });
      return;
    }
    this.timers.set(
      job.id,
      this.deps.clock.setTimeout(() => {
        this.timers.delete(job.id);
        this.enter(job.id);
      }, Math.min(delay, MAX_TIMER_MS)),
    );
  }

  private unschedule(id: string): void {
    const t = this.timers.get(id);
    if (t) this.deps.clock.clearTimeout(t);
    this.timers.delete(id);
  }

  /** Runs a due job when a slot is free: at most MAX_IN_FLIGHT sends at once; a job already waiting or running is not doubled. */
  private enter(id: string): void {
    if (this.active.has(id)) return;
    this.active.add(id);
    const work: Promise<void> = this.slots
      .run(() => (this.stopped ? Promise.resolve() : this.run(id)))
      .catch((error: unknown) => void this.log.error('approval prompt failed to run', { promptJobId: id, error }))
      .finally(() => {
        this.active.delete(id);
        this.running.delete(work);
      });
    this.running.add(work);
  }

  /** One attempt at one job. */
  private async run(id: string): Promise<void> {
    const { store, clock } = this.deps;
    const job = await store.prompts.get(id);
    if (!job || (job.status !== 'queued' && job.status !== 'waiting')) return;
    const approval = await store.approvals.get(job.approvalId);
    const branch = this.deps.config().branches.find((b) => b.id === job.branchId);
    if (!approval || approval.status !== 'pending' || !branch) {
      await store.prompts.update(id, { status: 'dropped', updatedAt: isoNow(clock) }, { version: job.version });
      if (approval && job.managerId) await this.patch(approval.id, (a) => ({ unreached: (a.unreached ?? []).filter((u) => u.managerId !== job.managerId) }));
      return;
    }
    const claimed = await store.prompts.update(id, { status: 'sending', updatedAt: isoNow(clock) }, { version: job.version });
    if (!claimed) return; // another process (or timer) has it
    const sent = await this.deps.delivery.send(claimed, approval, branch);
    const now = isoNow(clock);
    const attempts = claimed.attempts + 1;
    if (sent.result === 'sent' || sent.result === 'gone') {
      await store.prompts.update(id, { status: sent.result === 'sent' ? 'sent' : 'dropped', attempts, lastError: sent.reason, updatedAt: now });
    } else if (sent.result === 'waiting') {
      await store.prompts.update(id, { status: 'waiting', attempts, lastError: sent.reason, updatedAt: now });
    } else {
      const next = new Date(clock.now() + retryDelayMs(attempts)).toISOString();
      const updated = await store.prompts.update(id, { status: 'queued', attempts, lastError: sent.reason, nextAttemptAt: next, updatedAt: now });
      if (updated) this.schedule(updated);
    }
    const unreachedState: Unreached['state'] | undefined = sent.result === 'waiting' ? 'waiting' : sent.result === 'failed' ? 'retrying' : undefined;
    const recorded = await this.patch(approval.id, (a) => ({
      deliveries: [...a.deliveries, ...sent.deliveries],
      unreached: job.managerId
        ? [
            ...(a.unreached ?? []).filter((u) => u.managerId !== job.managerId),
            ...(unreachedState ? [{ managerId: job.managerId, tier: job.tier, ...(job.step ? { step: job.step } : {}), state: unreachedState, reason: sent.reason, since: a.unreached?.find((u) => u.managerId === job.managerId)?.since ?? now }] : []),
          ]
        : a.unreached,
    }));
    await this.audit(approval, claimed, sent);
    if (!recorded) return;
    if (recorded.status !== 'pending') {
      // Decided while this prompt was going out: show the outcome on it too.
      for (const d of sent.deliveries) await this.deps.delivery.updateOne(recorded, branch, d);
    }
    this.deps.bus.emit('approval.updated', recorded);
  }

  private async audit(approval: ApprovalRecord, job: PromptJobRecord, sent: { result: string; deliveries: Delivery[]; reason?: string }): Promise<void> {
    for (const d of sent.deliveries) this.deps.bus.emit('approval.prompt', { channel: d.channel, result: d.status });
    if (sent.result === 'waiting') this.deps.bus.emit('approval.prompt', { channel: 'none', result: 'waiting' });
    for (const d of sent.deliveries) {
      await this.deps.audit.append({ type: d.status === 'sent' ? 'approval.delivered' : 'approval.delivery-failed', actor: 'coordinator', branchId: approval.branchId, approvalId: approval.id, agentId: d.agentId, data: d });
    }
    const who = job.managerId ?? `${job.agentId} ${job.chatId}`;
    if (sent.result === 'waiting' && job.status !== 'waiting') {
      this.log.warn(`approval ${approval.code}: ${who} not reached yet (${sent.reason}); the prompt goes out when a channel comes up`, { approvalId: approval.id });
      await this.deps.audit.append({ type: 'approval.delivery-waiting', actor: 'coordinator', branchId: approval.branchId, approvalId: approval.id, data: { target: who, tier: job.tier, reason: sent.reason } });
    }
    if (sent.result === 'gone') {
      this.log.warn(`approval ${approval.code}: prompt to ${who} dropped: ${sent.reason}`, { approvalId: approval.id });
      await this.deps.audit.append({ type: 'approval.delivery-dropped', actor: 'coordinator', branchId: approval.branchId, approvalId: approval.id, data: { target: who, tier: job.tier, reason: sent.reason } });
    }
  }

  /** Applies a change to the stored approval by compare-and-set, retried, so concurrent writers never lose each other's fields. */
  private async patch(id: string, change: (a: ApprovalRecord) => Partial<ApprovalRecord>): Promise<ApprovalRecord | null> {
    for (;;) {
      const current = await this.deps.store.approvals.get(id);
      if (!current) return null;
      const updated = await this.deps.store.approvals.update(id, { ...change(current), updatedAt: isoNow(this.deps.clock) }, { version: current.version });
      if (updated) return updated;
    }
  }
}
