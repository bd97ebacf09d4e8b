import type { ProbeResult } from '../../bots/bot-agent.js';
import type { Logger } from '../../config/logger.js';
import type { TimerHandle } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { DueQueue } from '../../core/due-queue.js';
import { idAt, newId } from '../../core/ids.js';
import { Semaphore } from '../../core/semaphore.js';
import type { AgentRecord, AgentStatus, CheckSummary } from '../../storage/records.js';
import type { CoreDeps } from '../module-deps.js';
import { alertKind, restartDelay, statusAfterCheck } from './status-rules.js';
import { UptimeCounter } from './uptime-counter.js';

/** A setting read when it is used (a function follows runtime changes such as `PATCH /config`), or a fixed value. */
export type Setting = number | (() => number);
const read = (setting: Setting): number => (typeof setting === 'function' ? setting() : setting);

export interface HealthOptions {
  /** Read at every scheduling, so `PATCH /config` takes effect at the next check. */
  intervalMs: () => number;
  /** Wait before retrying a failed probe (`HEALTH_RETRY_INTERVAL_MS`; by default min(10 s, interval), see `healthRetryIntervalMs`). */
  retryIntervalMs: Setting;
  /** Failed retries before an agent goes down (`HEALTH_RETRIES`; 0: down at the first failure). */
  retries: Setting;
  /** How long one probe may take (by default min(8 s, interval), see `healthTimeoutMs`: a hanging agent is a silent one). */
  timeoutMs: Setting;
  concurrency: number;
  restartBaseMs: number;
  restartMaxMs: number;
  /** Alert again while still down, every this many ms (0: never). */
  renotifyMs: number;
  /** Stored checks older than this are deleted, hourly. */
  historyMs: number;
  random?: () => number;
}

/** The default retry interval: at most 10 s, and never longer than the check interval itself. */
export const MAX_DEFAULT_RETRY_INTERVAL_MS = 10_000;

/**
 * How long to wait before retrying a failed probe: `HEALTH_RETRY_INTERVAL_MS`
 * when set, else min(10 s, `HEALTH_INTERVAL_MS`) — so a 1 s interval retries
 * every second and a silent agent is down in about three seconds, not twenty.
 */
export function healthRetryIntervalMs(env: { HEALTH_INTERVAL_MS: number; HEALTH_RETRY_INTERVAL_MS?: number }): number {
  return env.HEALTH_RETRY_INTERVAL_MS ?? Math.min(MAX_DEFAULT_RETRY_INTERVAL_MS, env.HEALTH_INTERVAL_MS);
}

/** The longest a probe waits by default; shorter when checks are more frequent. */
export const MAX_DEFAULT_TIMEOUT_MS = 8_000;

/**
 * How long one probe may take: min(8 s, `HEALTH_INTERVAL_MS`), so with a 1 s
 * interval a hanging agent is down in about five seconds, not twenty-six.
 */
export function healthTimeoutMs(env: { HEALTH_INTERVAL_MS: number }): number {
  return Math.min(MAX_DEFAULT_TIMEOUT_MS, env.HEALTH_INTERVAL_MS);
}

export const DEFAULT_HEALTH_OPTIONS: Omit<HealthOptions, 'intervalMs'> = {
  retryIntervalMs: MAX_DEFAULT_RETRY_INTERVAL_MS,
  retries: 2,
  timeoutMs: MAX_DEFAULT_TIMEOUT_MS,
  concurrency: 32,
  restartBaseMs: 5_000,
  restartMaxMs: 5 * 60_000,
  renotifyMs: 0,
  historyMs: 7 * 24 * 3600_000,
};

export type Prober = (agent: AgentRecord, signal: AbortSignal) => Promise<ProbeResult>;
export type AlertKind = 'down' | 'blocked' | 'resolved' | 'renotify';
export type Alerter = (agent: AgentRecord, kind: AlertKind, reason: string | undefined) => Promise<void>;
export type Restarter = (agent: AgentRecord) => Promise<void>;

/**
 * An agent's record gets its `lastCheck` written when the check says something
 * new (up or down, another detail), with a status change, or after this many
 * checks: the rest of the time the latest check lives in memory (`lastCheck`),
 * and readers overlay it, so a sweep writes one row per agent, not two.
 */
export const LAST_CHECK_STORED_EVERY = 10;

/**
 * Checks running at once (probes are bounded further by `concurrency`). Enough for the writes of
 * one turn to share a commit, few enough that a sweep's garbage dies young.
 */
export const MAX_CHECKS_IN_FLIGHT = 256;

interface Tracked {
  failures: number;
  restartTimer?: TimerHandle;
  /** The latest check (stored in the record at least every LAST_CHECK_STORED_EVERY checks). */
  lastCheck?: CheckSummary;
  /** Checks counted from a per-agent offset: at each multiple of LAST_CHECK_STORED_EVERY the record's `lastCheck` is written. */
  phase: number;
  /** Waiting in the FIFO of due checks (at most once). */
  queued?: boolean;
  /** `checkNow` callers waiting for a check that waits in the FIFO (every place was taken). */
  whenChecked?: Array<() => void>;
  restartAttempt: number;
  needsHuman: boolean;
  /** The last probe said the bot reconnects by itself: no restarts from here. */
  reconnecting?: boolean;
  lastAlertAt?: number;
  running?: Promise<void>;
}

/** Where in the LAST_CHECK_STORED_EVERY cycle an agent starts (a hash of its id: stable, spread). */
function cycleOffset(agentId: string): number {
  let h = 0;
  for (let i = 0; i < agentId.length; i++) h = (h * 31 + agentId.charCodeAt(i)) | 0;
  return (h >>> 0) % LAST_CHECK_STORED_EVERY;
}

/** Agents the monitor leaves alone until their configuration changes. */
function inactive(agent: AgentRecord): boolean {
  return agent.statusReason?.startsWith('missing credentials') === true || agent.statusReason === 'disabled in the config file';
}

/**
 * Checks every agent on its own timer (injected clock), so one slow or hanging
 * probe never delays another; a semaphore bounds how many probes run at once.
 * Status changes are compare-and-set in the store, audited, published on the
 * bus and alerted; a `down` bot is restarted with capped, jittered backoff
 * unless its probe says a human must act.
 */
export class HealthMonitor {
  private readonly tracked = new Map<string, Tracked>();
  /** Every agent's next check, on one clock timer. */
  private readonly due: DueQueue<string>;
  /**
   * Agents whose check is due, waiting for one of MAX_CHECKS_IN_FLIGHT places: a sweep that comes
   * due at once is a queue of ids, not ten thousand checks each holding its records and promises
   * (which would outlive the young generation and make every GC copy them).
   */
  private ready: string[] = [];
  private readyHead = 0;
  private inFlight = 0;
  /** Running probes' time limits, on one clock timer too. */
  private readonly deadlines: DueQueue<number>;
  private readonly onDeadline = new Map<number, () => void>();
  private probeSeq = 0;
  /** Checks run since the start (a cache of what shows `lastCheck` is stale once it moves). */
  private checksRun = 0;
  private readonly semaphore: Semaphore;
  private readonly log: Logger;
  /** Each agent's checks over the last 24 hours, counted by the hour (`GET /api/agents/:id`, the dashboard's cards). */
  readonly uptime: UptimeCounter;
  private stopped = false;
  private pruneTimer?: TimerHandle;

  constructor(
    private readonly deps: CoreDeps & {
      probe: Prober;
      alert: Alerter;
      restart: Restarter;
      options: HealthOptions;
    },
  ) {
    this.semaphore = new Semaphore(deps.options.concurrency);
    this.log = deps.logger.child({ module: 'health' });
    this.due = new DueQueue(deps.clock, (agentId) => this.enqueue(agentId));
    this.uptime = new UptimeCounter({ store: deps.store, clock: deps.clock });
    this.deadlines = new DueQueue(deps.clock, (probe) => this.onDeadline.get(probe)?.());
  }

  /** The latest check of an agent, newer than its stored record's `lastCheck` between writes (see LAST_CHECK_STORED_EVERY). */
  lastCheck(agentId: string): CheckSummary | undefined {
    return this.tracked.get(agentId)?.lastCheck;
  }

  /** The record with its latest check: the monitor's when it is newer than the stored `lastCheck`. */
  live(agent: AgentRecord): AgentRecord {
    const latest = this.tracked.get(agent.id)?.lastCheck;
    return latest && (!agent.lastCheck || latest.at > agent.lastCheck.at) ? { ...agent, lastCheck: latest } : agent;
  }

  /** How many checks have run: it moves whenever some agent's latest check changes. */
  checks(): number {
    return this.checksRun;
  }

  /** Agents watched, how many have their next check armed, and the FIFO's length (for the benchmark and tests). */
  stats(): { tracked: number; scheduled: number; fifo: number } {
    return { tracked: this.tracked.size, scheduled: this.due.size, fifo: this.ready.length - this.readyHead };
  }

  /** Starts watching every stored agent; the first checks run at once. */
  async start(): Promise<void> {
    for (const agent of await this.deps.store.agents.find()) this.track(agent.id, 0);
    this.schedulePrune();
  }

  /** Deletes checks older than `historyMs`; runs hourly. Returns how many went. */
  async prune(): Promise<number> {
    const cutoff = this.deps.clock.now() - this.deps.options.historyMs;
    const before = new Date(cutoff).toISOString();
    // A check's id starts with the time it was made (newId): the primary key finds the old ones,
    // so the table needs no index on `at` that every check would pay for.
    const removed = await this.deps.store.healthChecks.deleteWhere({ id: { lt: idAt(cutoff) } });
    if (removed > 0) this.log.info(`pruned ${removed} health checks older than ${before}`);
    return removed;
  }

  private schedulePrune(): void {
    if (this.stopped) return;
    this.pruneTimer = this.deps.clock.setTimeout(() => {
      void this.prune()
        .catch((error: unknown) => this.log.error('pruning health checks failed', { error }))
        .finally(() => this.schedulePrune());
    }, 3600_000);
  }

  track(agentId: string, firstDelayMs = 0): void {
    if (this.stopped) return;
    // Agents start at different points of the LAST_CHECK_STORED_EVERY cycle, so a sweep writes a tenth
    // of the records instead of every tenth sweep writing all of them.
    if (!this.tracked.has(agentId)) this.tracked.set(agentId, { failures: 0, phase: cycleOffset(agentId), restartAttempt: 0, needsHuman: false });
    this.schedule(agentId, firstDelayMs);
  }

  untrack(agentId: string): void {
    const t = this.tracked.get(agentId);
    if (!t) return;
    this.due.cancel(agentId);
    for (const resolve of t.whenChecked?.splice(0) ?? []) resolve();
    this.uptime.forget(agentId);
    if (t.restartTimer) this.deps.clock.clearTimeout(t.restartTimer);
    this.tracked.delete(agentId);
  }

  /** Stops all timers and waits for checks already running. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pruneTimer) this.deps.clock.clearTimeout(this.pruneTimer);
    const running = [...this.tracked.values()].map((t) => t.running);
    for (const id of [...this.tracked.keys()]) this.untrack(id);
    this.due.stop();
    this.ready = [];
    this.readyHead = 0;
    // A probe that hangs would hold the stop until its time limit: end them now.
    for (const end of [...this.onDeadline.values()]) end();
    await Promise.all(running);
    this.deadlines.stop();
  }

  /** A due check: into the FIFO, once (a check running now re-arms the timer when it ends). */
  private enqueue(agentId: string): void {
    const t = this.tracked.get(agentId);
    if (!t || t.running) return;
    this.line(agentId, t);
    this.pump();
  }

  /** Into the FIFO, unless it waits there already. */
  private line(agentId: string, t: Tracked): void {
    if (t.queued) return;
    t.queued = true;
    this.ready.push(agentId);
  }

  private pump(): void {
    while (this.inFlight < MAX_CHECKS_IN_FLIGHT && this.readyHead < this.ready.length) {
      const agentId = this.ready[this.readyHead++]!;
      // The FIFO keeps its size proportional to what waits, even when it never drains (probes slower than the interval).
      if (this.readyHead === this.ready.length || (this.readyHead >= 1024 && this.readyHead * 2 >= this.ready.length)) {
        this.ready = this.ready.slice(this.readyHead);
        this.readyHead = 0;
      }
      const t = this.tracked.get(agentId);
      if (!t?.queued) continue; // untracked, or checked meanwhile by checkNow
      t.queued = false;
      void this.run(agentId, t);
    }
  }

  /** Runs one check in one of the MAX_CHECKS_IN_FLIGHT places (concurrent calls share one run). */
  private run(agentId: string, t: Tracked): Promise<void> {
    if (t.running) return t.running;
    this.inFlight++;
    const running = this.check(agentId, t)
      .catch((error: unknown) => {
        this.log.error('health check failed to run', { agentId, error });
        this.schedule(agentId, this.deps.options.intervalMs()); // and it runs again, not never
      })
      .finally(() => {
        t.running = undefined;
        this.inFlight--;
        for (const resolve of t.whenChecked?.splice(0) ?? []) resolve();
        this.pump();
      });
    t.running = running;
    return running;
  }

  private schedule(agentId: string, delayMs: number): void {
    if (!this.tracked.has(agentId) || this.stopped) return;
    this.due.schedule(agentId, delayMs);
  }

  /**
   * Runs one check of one agent now (after a restart, a reconnect, a heartbeat); concurrent calls
   * share one run. When every place is taken (a reconnect storm), it waits in the FIFO like a due
   * check, and resolves once that check has run.
   */
  checkNow(agentId: string): Promise<void> {
    const t = this.tracked.get(agentId);
    if (!t) return Promise.resolve();
    if (t.running) return t.running;
    if (this.inFlight < MAX_CHECKS_IN_FLIGHT) {
      t.queued = false; // its place in the FIFO, if any, is skipped
      return this.run(agentId, t);
    }
    const checked = new Promise<void>((resolve) => (t.whenChecked ??= []).push(resolve));
    this.line(agentId, t);
    return checked;
  }

  private async check(agentId: string, t: Tracked): Promise<void> {
    const { store, clock, options } = this.deps;
    const agent = await store.agents.get(agentId);
    if (!agent) return this.untrack(agentId);
    if (agent.status === 'maintenance' || inactive(agent)) return this.schedule(agentId, options.intervalMs());

    const blocker = await this.downDependency(agent);
    if (blocker) {
      await this.transition(agent, 'blocked', `dependency ${blocker.id} is ${blocker.status}`);
      return this.schedule(agentId, options.intervalMs());
    }

    // A check that waited for a probe slot while the monitor stopped starts no probe.
    const result = await this.semaphore.run(() => (this.stopped ? Promise.resolve(null) : this.probeWithTimeout(agent)));
    if (this.stopped || !result) return;
    const at = isoNow(clock);
    const latencyMs = result.latencyMs ?? 0;
    await store.healthChecks.insert({ id: newId(clock.now()), agentId, at, ok: result.ok, latencyMs, detail: result.detail });
    this.uptime.record(agentId, at, result.ok);
    t.failures = result.ok ? 0 : t.failures + 1;
    t.needsHuman = !result.ok && Boolean(result.needsHuman);
    t.reconnecting = !result.ok && Boolean(result.reconnecting);
    const from = agent.status === 'blocked' ? 'pending' : agent.status;
    const to = result.ok ? 'up' : t.needsHuman ? 'down' : statusAfterCheck(from, false, t.failures, read(options.retries));
    const reason = result.ok ? undefined : (result.detail ?? 'probe failed');
    const lastCheck: CheckSummary = { at, ok: result.ok, latencyMs, detail: result.detail };
    t.lastCheck = lastCheck;
    this.checksRun++;
    const changing = agent.status !== to || agent.statusReason !== reason;
    const news = agent.lastCheck?.ok !== lastCheck.ok || agent.lastCheck?.detail !== lastCheck.detail;
    let latest: AgentRecord | null = agent;
    // By phase, not by a count reset at each write: agents stay spread over the cycle after an outage
    // changed them all at once. A status change writes `lastCheck` with it.
    const due = ++t.phase % LAST_CHECK_STORED_EVERY === 0;
    if (!changing && (news || due)) latest = await store.agents.update(agentId, { lastCheck });
    if (!latest) return this.untrack(agentId);
    // (Most checks change nothing: no call, no promise, for them.)
    const after = latest.status === to && latest.statusReason === reason ? latest : ((await this.transition(latest, to, reason, 'health-monitor', { lastCheck })) ?? latest);
    if (this.stopped || !this.tracked.has(agentId)) return;

    if (to === 'up') {
      t.restartAttempt = 0;
      if (t.restartTimer) this.deps.clock.clearTimeout(t.restartTimer);
      t.restartTimer = undefined;
      // Only an agent that just came up can unblock others (one that stayed up blocked nobody).
      if (agent.status !== 'up') await this.wakeDependents(agentId);
    } else if (to === 'down') {
      if (latest.status === 'down') await this.maybeRenotify(after, t);
      if (agent.kind === 'bot' && !t.needsHuman && !t.reconnecting && !t.restartTimer) this.scheduleRestart(after, t);
    }
    this.schedule(agentId, to === 'pending' ? read(options.retryIntervalMs) : options.intervalMs());
  }

  private async probeWithTimeout(agent: AgentRecord): Promise<ProbeResult> {
    const controller = new AbortController();
    const started = this.deps.clock.now();
    const timeoutMs = read(this.deps.options.timeoutMs);
    const probe = ++this.probeSeq;
    const timeout = new Promise<ProbeResult>((resolve) => {
      this.onDeadline.set(probe, () => {
        controller.abort();
        resolve({ ok: false, detail: `no answer within ${timeoutMs} ms`, latencyMs: timeoutMs });
      });
      this.deadlines.schedule(probe, timeoutMs);
    });
    try {
      const result = await Promise.race([
        this.deps.probe(agent, controller.signal).catch((error: unknown): ProbeResult => ({ ok: false, detail: error instanceof Error ? error.message : String(error) })),
        timeout,
      ]);
      return result.latencyMs === undefined ? { ...result, latencyMs: this.deps.clock.now() - started } : result;
    } finally {
      this.deadlines.cancel(probe);
      this.onDeadline.delete(probe);
    }
  }

  private async downDependency(agent: AgentRecord): Promise<AgentRecord | null> {
    for (const depId of agent.dependsOn ?? []) {
      const dep = await this.deps.store.agents.get(depId);
      if (dep && (dep.status === 'down' || dep.status === 'blocked')) return dep;
    }
    return null;
  }

  private async wakeDependents(agentId: string): Promise<void> {
    const blocked = await this.deps.store.agents.find({ where: { status: 'blocked' } });
    for (const dependent of blocked) if (dependent.dependsOn.includes(agentId)) this.schedule(dependent.id, 0);
  }

  /** Stores, audits, publishes and alerts one status change (compare-and-set: a concurrent change wins). */
  async transition(agent: AgentRecord, to: AgentStatus, reason: string | undefined, actor = 'health-monitor', also: Pick<Partial<AgentRecord>, 'lastCheck'> = {}): Promise<AgentRecord | null> {
    if (agent.status === to && agent.statusReason === reason) return agent;
    const at = isoNow(this.deps.clock);
    const since = agent.status === to ? agent.statusSince : at;
    const updated = await this.deps.store.agents.update(agent.id, { ...also, status: to, statusReason: reason, statusSince: since }, { status: agent.status });
    if (!updated || agent.status === to) return updated;
    this.log.info(`agent ${agent.id}: ${agent.status} -> ${to}${reason ? ` (${reason})` : ''}`, { agentId: agent.id, from: agent.status, to });
    await this.deps.audit.append({ type: 'agent.status', actor, agentId: agent.id, branchId: agent.branchId, data: { from: agent.status, to, reason } });
    this.deps.bus.emit('agent.status', { agentId: agent.id, branchId: agent.branchId, from: agent.status, to, reason, at });
    const kind = alertKind(agent.status, to);
    if (kind) await this.sendAlert(updated, kind, reason);
    return updated;
  }

  private async sendAlert(agent: AgentRecord, kind: AlertKind, reason: string | undefined): Promise<void> {
    const t = this.tracked.get(agent.id);
    if (t) t.lastAlertAt = this.deps.clock.now();
    await this.deps.alert(agent, kind, reason).catch((error: unknown) => this.log.error('alert failed', { agentId: agent.id, error }));
  }

  private async maybeRenotify(agent: AgentRecord, t: Tracked): Promise<void> {
    const every = this.deps.options.renotifyMs;
    if (!every || t.lastAlertAt === undefined || this.deps.clock.now() - t.lastAlertAt < every) return;
    await this.sendAlert(agent, 'renotify', agent.statusReason);
  }

  private scheduleRestart(agent: AgentRecord, t: Tracked): void {
    const { restartBaseMs, restartMaxMs } = this.deps.options;
    const delay = restartDelay(t.restartAttempt, restartBaseMs, restartMaxMs, this.deps.options.random ?? Math.random);
    this.log.info(`agent ${agent.id}: restart #${t.restartAttempt + 1} in ${delay} ms`, { agentId: agent.id, attempt: t.restartAttempt + 1, delayMs: delay });
    this.deps.bus.emit('agent.restart-scheduled', { agentId: agent.id, attempt: t.restartAttempt + 1, delayMs: delay });
    t.restartTimer = this.deps.clock.setTimeout(() => {
      t.restartAttempt++;
      void (async () => {
        try {
          const current = await this.deps.store.agents.get(agent.id);
          if (!current || current.status !== 'down' || this.stopped) return;
          await this.deps.restart(current).catch((error: unknown) => this.log.warn('restart failed', { agentId: agent.id, error }));
          await this.checkNow(agent.id);
        } finally {
          t.restartTimer = undefined;
        }
        const after = await this.deps.store.agents.get(agent.id);
        if (after?.status === 'down' && !t.needsHuman && !t.reconnecting && !this.stopped && this.tracked.has(agent.id)) this.scheduleRestart(after, t);
      })();
    }, delay);
  }

  /** Puts an agent in or out of maintenance: checks, restarts and alerts pause while in it. */
  async setMaintenance(agentId: string, on: boolean, actor: string): Promise<AgentRecord | null> {
    const agent = await this.deps.store.agents.get(agentId);
    if (!agent) return null;
    const t = this.tracked.get(agentId);
    if (on && agent.status !== 'maintenance') {
      if (t?.restartTimer) this.deps.clock.clearTimeout(t.restartTimer);
      if (t) t.restartTimer = undefined;
      return this.transition(agent, 'maintenance', `maintenance by ${actor}`, actor);
    }
    if (!on && agent.status === 'maintenance') {
      if (t) t.failures = 0;
      const updated = await this.transition(agent, 'pending', undefined, actor);
      this.schedule(agentId, 0);
      return updated;
    }
    return agent;
  }
}
