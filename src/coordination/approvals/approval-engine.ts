import { createHash, randomInt } from 'node:crypto';
import { canonicalJson } from '../../core/canonical-json.js';
import type { BranchConfig, ManagerConfig } from '../../config/config-schema.js';
import type { Logger } from '../../config/logger.js';
import type { TimerHandle } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { CodedError, ConflictError, ErrorCode, NotFoundError, ValidationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { ApprovalRecord, Decision, PromptJobRecord, RiskLevel } from '../../storage/records.js';
import { inWriteUnit } from '../../storage/write-unit.js';
import type { Principal } from '../auth.js';
import type { CoreDeps } from '../module-deps.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import { managerByIdentity } from '../../branches/manager-identity.js';
import type { ChannelRegistry } from '../../bots/channel-registry.js';
import type { ApprovalDelivery } from './approval-delivery.js';
import { LearnedRules } from './learned-rules.js';
import { assignedTeam, autoApproves, classifyRisk, eligibleManagers, resolveAutonomy, ttlSec, whyNotDecide } from './policy.js';
import { firstRound, resolveChain, targetsOf } from './escalation-chain.js';
import { requesterApprovalView, seesApproval, type ReadScope } from '../read-scope.js';
import type { PromptOutbox } from './prompt-outbox.js';
import type { WebhookOutbox } from './webhook-outbox.js';

export interface CreateApprovalInput {
  branchId: string;
  actionType: string;
  summary: string;
  details?: unknown;
  riskLevel?: RiskLevel;
  teamId?: string;
  expiresInSec?: number;
  callbackUrl?: string;
  requiredApprovals?: number;
}

/** Who decides: a token (admin or a manager's) from the API, or a chat identity from a channel. */
export type Decider = { kind: 'principal'; principal: Principal } | { kind: 'chat'; channel: string; userId: string };

export interface DecideInput {
  approvalId: string;
  decision: 'approve' | 'reject';
  reason?: string;
  decider: Decider;
  /** The channel or surface it came through: api, dashboard, telegram, slack, whatsapp. */
  via: string;
  /**
   * The decider's read scope, where its reads are scoped (API tokens): an
   * approval outside it answers exactly as an unknown id (404, not audited),
   * so deciding cannot probe which ids and codes exist nor fill the audit log.
   * Inside it, a decider without the authority still gets 403, audited.
   */
  scope?: ReadScope;
}

export type DecideResult =
  | { outcome: 'decided'; approval: ApprovalRecord }
  | { outcome: 'recorded'; approval: ApprovalRecord; remaining: number }
  | { outcome: 'too_late'; approval: ApprovalRecord };

const MAX_TIMER_MS = 2 ** 31 - 1;
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function canonicalHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * What an approval approves, as a hash: SHA-256 (hex) of the canonical JSON
 * (keys sorted, no spaces, undefined members left out) of `{actionType, details}`.
 * README "Checking what was approved" shows how a requester recomputes it.
 */
export function payloadHash(actionType: string, details: unknown): string {
  return canonicalHash(details === undefined ? { actionType } : { actionType, details });
}

const RISK_ORDER: RiskLevel[] = ['low', 'medium', 'high', 'critical'];

/** The request may raise its risk, never lower it below what the action type is classified as. */
function riskFor(input: CreateApprovalInput, config: Parameters<typeof classifyRisk>[1]): { risk: RiskLevel; source: string } {
  const classified = classifyRisk(input.actionType, config);
  if (input.riskLevel && RISK_ORDER.indexOf(input.riskLevel) > RISK_ORDER.indexOf(classified.risk)) return { risk: input.riskLevel, source: 'request' };
  return classified;
}

/**
 * The channel-independent approval engine: policy, routing, first decision
 * wins (compare-and-set on the stored status), durable expiry and escalation,
 * and telling the requester (bus event for long-polls and sockets, signed
 * webhook through the outbox). Everything it does is audited.
 */
export class ApprovalEngine {
  private readonly timers = new Map<string, TimerHandle[]>();
  private readonly delivery: ApprovalDelivery;
  readonly learned: LearnedRules;
  private readonly log: Logger;
  private stopped = false;
  /** Expiry and escalation callbacks running now (stop waits for them). */
  private readonly firing = new Set<Promise<void>>();
  /** Built-in actions the coordinator executes itself once approved (e.g. `message.send`). */
  private readonly executors = new Map<string, (approval: ApprovalRecord) => Promise<{ success: boolean; error?: string; result?: unknown }>>();
  /** Built-in actions check their details when requested, so a bad request is a 400 now, not a failure after approval. */
  private readonly validators = new Map<string, (details: unknown, branchId: string) => Promise<void>>();
  /** Built-in actions say in words what they will do (shown in every prompt instead of the details). */
  private readonly previewers = new Map<string, (details: unknown, branchId: string) => Promise<string>>();

  constructor(
    private readonly deps: CoreDeps & {
      settings: RuntimeSettings;
      /** The channels, for matching a chat decider to a manager. */
      channels: ChannelRegistry;
      delivery: ApprovalDelivery;
      /** Where prompts are queued before the request is answered, and sent from. */
      prompts: PromptOutbox;
      outbox: WebhookOutbox;
    },
  ) {
    this.delivery = deps.delivery;
    this.learned = new LearnedRules({ store: deps.store, clock: deps.clock, audit: deps.audit, settings: deps.settings });
    this.log = deps.logger.child({ module: 'approvals' });
  }

  /** Registers a built-in action executed by the coordinator when approved. */
  registerExecutor(actionType: string, run: (approval: ApprovalRecord) => Promise<{ success: boolean; error?: string; result?: unknown }>): void {
    this.executors.set(actionType, run);
  }

  /** Describes an action type's effect for the prompt (after its validator accepted the details). */
  registerPreviewer(actionType: string, describe: (details: unknown, branchId: string) => Promise<string>): void {
    this.previewers.set(actionType, describe);
  }

  /** Checks `details` of an action type at request time; throws a ValidationError naming the field. */
  registerValidator(actionType: string, validate: (details: unknown, branchId: string) => Promise<void>): void {
    this.validators.set(actionType, validate);
  }

  private branch(branchId: string): BranchConfig {
    const branch = this.deps.settings.config.branches.find((b) => b.id === branchId);
    if (!branch) {
      const known = this.deps.settings.config.branches.map((b) => b.id).join(', ') || 'none';
      throw new ValidationError('Unknown branch', [{ path: 'branchId', message: `unknown branch '${branchId}' (known: ${known})` }]);
    }
    return branch;
  }

  async require(id: string): Promise<ApprovalRecord> {
    const approval = (await this.deps.store.approvals.get(id)) ?? (await this.deps.store.approvals.findOne({ code: id.toUpperCase() }));
    if (!approval) throw new NotFoundError('Approval', id);
    return approval;
  }

  private async newCode(): Promise<string> {
    for (;;) {
      const code = Array.from({ length: 6 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
      if (!(await this.deps.store.approvals.findOne({ code }))) return code;
    }
  }

  /** Creates (or, for a repeated Idempotency-Key, returns) an approval request. */
  async create(input: CreateApprovalInput, requester: Principal, idempotencyKey?: string): Promise<{ approval: ApprovalRecord; created: boolean }> {
    const { store, clock, settings } = this.deps;
    const requesterId = requester.subject;
    const requestHash = canonicalHash(input);
    if (idempotencyKey) {
      const existing = await store.approvals.findOne({ requesterId, idempotencyKey });
      if (existing) return this.replay(existing, requestHash);
    }
    const branch = this.branch(input.branchId);
    // An action agent asks for its own branch only (before any validator looks at that branch's data).
    const agent = requester.role === 'agent' ? await store.agents.get(requesterId) : null;
    if (agent && agent.branchId !== branch.id) {
      await this.deps.audit.append({ type: 'approval.refused', actor: requesterId, branchId: branch.id, data: { reason: `requester belongs to branch ${agent.branchId}`, actionType: input.actionType } });
      throw new CodedError(ErrorCode.Forbidden, `agent '${requesterId}' belongs to branch '${agent.branchId}' and cannot ask for approvals at '${branch.id}'`);
    }
    const team = await this.teamFor(input, requester, agent?.teamId);
    await this.validators.get(input.actionType)?.(input.details, branch.id);
    const preview = await this.previewers.get(input.actionType)?.(input.details, branch.id);
    const config = settings.config;
    const risk = riskFor(input, config);
    const autonomy = resolveAutonomy(config, branch, team);
    const maxTtl = ttlSec(config, risk.risk);
    if (input.expiresInSec !== undefined && input.expiresInSec > maxTtl) {
      // A longer life than the policy gives this risk would keep a stale request decidable: say the limit.
      throw new ValidationError('expiresInSec is above the policy', [{ path: 'expiresInSec', message: `expected at most ${maxTtl} seconds: the policy's time to live for ${risk.risk} risk (approvals.ttlSec.${risk.risk})` }]);
    }
    const now = clock.now();
    const ttl = input.expiresInSec ?? maxTtl;
    // Who is asked at once, who later, and what a request nobody decides becomes (escalation-chain.ts).
    const chain = resolveChain(config, branch, risk.risk);
    // A step due after the request expires never happens.
    const steps = chain.then.filter((step) => step.afterSec < ttl);
    const rule = autoApproves(autonomy.autonomy, risk.risk)
      ? `autonomy ${autonomy.autonomy} (${autonomy.source}) auto-approves ${risk.risk} risk`
      : await this.learned.activeRuleFor(branch.id, input.actionType, risk.risk);
    const id = newId(now);
    // The prompts are planned now and stored right after the approval (with who is still to be reached): they are
    // sent after the requester is answered, so chat platforms never hold up the request.
    const plan = rule ? undefined : this.deps.prompts.plan(id, branch, firstRound(config, branch, risk.risk, chain), 'initial');
    // A first round that asks nobody goes to the chain's first step at once, instead of waiting for it with nobody asked.
    const askedNobody = !plan || plan.unreached.length === 0;
    const base = {
      id,
      code: await this.newCode(),
      branchId: branch.id,
      teamId: team,
      requesterId,
      actionType: input.actionType,
      summary: input.summary,
      details: input.details,
      payloadHash: payloadHash(input.actionType, input.details),
      ...(preview ? { preview } : {}),
      riskLevel: risk.risk,
      status: 'pending' as const,
      autonomy: autonomy.autonomy,
      deliveries: [],
      ...(plan ? { unreached: plan.unreached } : {}),
      expiresAt: new Date(now + ttl * 1000).toISOString(),
      escalation: steps.length > 0 ? { dueAt: new Date(askedNobody ? now : now + steps[0].afterSec * 1000).toISOString(), steps, next: 0, source: chain.source, history: [] } : undefined,
      onTimeout: { action: chain.onTimeout, source: chain.source },
      callbackUrl: input.callbackUrl,
      idempotencyKey,
      requestHash,
      requiredApprovals: input.requiredApprovals ?? 1,
      approvals: [],
      createdAt: isoNow(clock),
      updatedAt: isoNow(clock),
    };
    // One write unit: the record, its audit event and its prompt jobs become durable together (one
    // fsync on the file store), and nothing is sent or announced before they are.
    const stored = await inWriteUnit(store, async (): Promise<{ approval: ApprovalRecord; jobs: PromptJobRecord[] } | { taken: ConflictError }> => {
      let approval: ApprovalRecord;
      try {
        approval = await store.approvals.insert(base);
      } catch (error) {
        // Two requests with the same key at once: the second sees the first (below, after the unit).
        if (error instanceof ConflictError && idempotencyKey) return { taken: error };
        throw error;
      }
      await this.deps.audit.append({
        type: 'approval.created',
        actor: requesterId,
        branchId: branch.id,
        approvalId: approval.id,
        data: { code: approval.code, actionType: approval.actionType, payloadHash: approval.payloadHash, risk: risk.risk, riskSource: risk.source, autonomy: autonomy.autonomy, autonomySource: autonomy.source },
      });
      return { approval, jobs: rule ? [] : await this.deps.prompts.stage(approval, plan?.jobs ?? [], steps.length > 0 && askedNobody) };
    });
    if ('taken' in stored) {
      const existing = await store.approvals.findOne({ requesterId, idempotencyKey });
      if (existing) return this.replay(existing, requestHash);
      throw stored.taken;
    }
    const { approval } = stored;

    this.deps.bus.emit('approval.created', { branchId: branch.id, risk: risk.risk, autoApproved: Boolean(rule) });
    if (rule) {
      const decided = await this.finish(approval, { outcome: 'approved', by: 'policy', via: 'policy', at: isoNow(clock), rule });
      await this.deps.audit.append({ type: 'approval.auto-approved', actor: 'policy', branchId: branch.id, approvalId: approval.id, data: { rule } });
      return { approval: decided ?? approval, created: true };
    }

    this.deps.prompts.start(stored.jobs);
    this.scheduleTimers(approval);
    this.deps.bus.emit('approval.updated', approval);
    return { approval, created: true };
  }

  /** Shows the outcome (or a pending approval's progress) on every copy of the prompt, redrawn with the prompt itself. */
  private updateCopies(approval: ApprovalRecord): Promise<void> {
    const branch = this.deps.settings.config.branches.find((b) => b.id === approval.branchId);
    return this.delivery.updateAll(approval, branch ?? { name: approval.branchId, timezone: 'UTC', managers: [] });
  }

  /** The first request's approval, once it is durable (it may still be being stored by that request). */
  private async replay(existing: ApprovalRecord, requestHash: string): Promise<{ approval: ApprovalRecord; created: boolean }> {
    if (existing.requestHash !== requestHash) {
      throw new ConflictError('This Idempotency-Key was already used with a different request body', { approvalId: existing.id });
    }
    await this.deps.store.barrier?.();
    return { approval: existing, created: false };
  }

  /** "Already decided": told once the decision that won is durable (another manager may have just made it). */
  private async tooLate(approval: ApprovalRecord): Promise<DecideResult> {
    await this.deps.store.barrier?.();
    return { outcome: 'too_late', approval };
  }

  /**
   * The team whose autonomy applies: an agent's is the one the admin assigned
   * (config or API), whatever the request says. A request may repeat its own
   * team (a no-op, so agents written for the old API keep working); naming any
   * other is refused (403) and audited. The admin token may name any
   * configured team, since it is the one that assigns them.
   */
  private async teamFor(input: CreateApprovalInput, requester: Principal, storedTeamId: string | undefined): Promise<string | undefined> {
    const config = this.deps.settings.config;
    if (requester.role === 'admin') {
      if (input.teamId && !Object.hasOwn(config.approvals.teams, input.teamId)) {
        throw new ValidationError('Unknown team', [{ path: 'teamId', message: `unknown team '${input.teamId}' (configure it under approvals.teams)` }]);
      }
      return input.teamId;
    }
    const assigned = assignedTeam(config, requester.subject, storedTeamId)?.teamId;
    if (input.teamId !== undefined && input.teamId !== assigned) {
      await this.deps.audit.append({ type: 'approval.refused', actor: requester.subject, branchId: input.branchId, data: { reason: 'request named a team it is not assigned to', teamId: input.teamId, assigned: assigned ?? null } });
      throw new CodedError(ErrorCode.Forbidden, `agent '${requester.subject}' is ${assigned ? `in team '${assigned}'` : 'in no team'}; teams are assigned by an admin (approvals.teams.<id>.agents or PATCH /api/agents/${requester.subject}), not chosen by a request: leave teamId out`, { path: 'teamId' });
    }
    return assigned;
  }

  /** Works out who the decider is and whether they may decide; refusals are audited. */
  private async authorise(approval: ApprovalRecord, branch: BranchConfig, decider: Decider): Promise<{ by: string; byName: string }> {
    const eligible = eligibleManagers(this.deps.settings.config, branch, approval.riskLevel);
    let manager: ManagerConfig | undefined;
    if (decider.kind === 'principal') {
      if (decider.principal.role === 'admin') return { by: 'admin', byName: 'admin' };
      if (decider.principal.role === 'manager') manager = branch.managers.find((m) => m.id === decider.principal.subject);
    } else {
      manager = managerByIdentity(branch, decider.channel, decider.userId, this.deps.channels);
    }
    if (!manager || !eligible.includes(manager)) {
      const who = decider.kind === 'principal' ? `${decider.principal.role} ${decider.principal.subject}` : `${decider.channel} user ${decider.userId}`;
      await this.deps.audit.append({ type: 'approval.refused', actor: who, branchId: approval.branchId, approvalId: approval.id, data: { reason: manager ? `role ${manager.role} may not decide ${approval.riskLevel} risk` : 'not a manager of this branch' } });
      // A person the config knows (a manager here or at another branch) is told why; a stranger learns nothing about who may decide.
      const known = manager?.id ?? this.knownManager(decider);
      const why = known ? whyNotDecide(this.deps.settings.config, branch, approval.riskLevel, known) : null;
      throw new CodedError(ErrorCode.Forbidden, why ?? 'You are not allowed to decide this approval', { approvalId: approval.id, ...(why ? { explained: true } : {}) });
    }
    return { by: manager.id, byName: manager.name };
  }

  /** The manager id a decider is at any branch (a manager token's subject, or a chat identity), if any. */
  private knownManager(decider: Decider): string | undefined {
    if (decider.kind === 'principal') return decider.principal.role === 'manager' ? decider.principal.subject : undefined;
    for (const branch of this.deps.settings.config.branches) {
      const manager = managerByIdentity(branch, decider.channel, decider.userId, this.deps.channels);
      if (manager) return manager.id;
    }
    return undefined;
  }

  /** The first valid decision wins; the others are told who decided. */
  async decide(input: DecideInput): Promise<DecideResult> {
    for (let attempt = 0; ; attempt++) {
      const approval = await this.require(input.approvalId);
      if (input.scope && !seesApproval(input.scope, approval)) throw new NotFoundError('Approval', input.approvalId);
      const branch = this.branch(approval.branchId);
      const who = await this.authorise(approval, branch, input.decider);
      if (approval.status === 'rejected' && input.decision === 'reject' && input.reason && approval.decision?.by === who.by && !approval.decision.reason) {
        return this.addReason(approval, input.reason);
      }
      if (approval.status !== 'pending') return this.tooLate(approval);
      const at = isoNow(this.deps.clock);
      const required = approval.requiredApprovals ?? 1;
      if (input.decision === 'approve' && required > 1) {
        const gathered = approval.approvals ?? [];
        if (gathered.some((a) => a.by === who.by)) throw new ConflictError(`${who.byName} already approved this; it needs ${required} different approvers`);
        const next = [...gathered, { by: who.by, via: input.via, at }];
        if (next.length < required) {
          const updated = await this.deps.store.approvals.update(approval.id, { approvals: next, updatedAt: at }, { status: 'pending', version: approval.version });
          if (!updated) continue;
          await this.deps.audit.append({ type: 'approval.partial', actor: who.by, branchId: approval.branchId, approvalId: approval.id, data: { via: input.via, have: next.length, need: required, payloadHash: approval.payloadHash } });
          // Every copy shows the count and who approved so far.
          await this.updateCopies(updated);
          this.deps.bus.emit('approval.updated', updated);
          return { outcome: 'recorded', approval: updated, remaining: required - next.length };
        }
      }
      const decision: Decision = { outcome: input.decision === 'approve' ? 'approved' : 'rejected', by: who.by, byName: who.byName, via: input.via, at, reason: input.reason };
      const decided = await this.finish(approval, decision, input.decision === 'approve' && required > 1 ? [...(approval.approvals ?? []), { by: who.by, via: input.via, at }] : undefined);
      if (decided) {
        await this.learned.record(approval.branchId, approval.actionType, approval.riskLevel, decision.outcome === 'approved');
        return { outcome: 'decided', approval: decided };
      }
      if (attempt > 5) return this.tooLate(await this.require(approval.id));
    }
  }

  /** The rejecting manager sends the reason after pressing Reject (e.g. replying in Telegram). */
  private async addReason(approval: ApprovalRecord, reason: string): Promise<DecideResult> {
    const decision = { ...approval.decision!, reason };
    const updated = await this.deps.store.approvals.update(approval.id, { decision, updatedAt: isoNow(this.deps.clock) }, { version: approval.version });
    if (!updated) return this.tooLate(await this.require(approval.id));
    await this.deps.audit.append({ type: 'approval.reason-added', actor: decision.by, branchId: approval.branchId, approvalId: approval.id, data: { reason } });
    await this.updateCopies(updated);
    this.deps.bus.emit('approval.updated', updated);
    return { outcome: 'decided', approval: updated };
  }

  /**
   * Compare-and-set from `pending` to the outcome, then: audit, update every
   * prompt, tell the requester, run a built-in action. Returns null if another
   * decision got there first.
   */
  private async finish(approval: ApprovalRecord, decision: Decision, approvals?: ApprovalRecord['approvals']): Promise<ApprovalRecord | null> {
    // Every decision is bound to the payload as stored (and shown): the requester can check it before it acts.
    decision = { ...decision, payloadHash: approval.payloadHash ?? payloadHash(approval.actionType, approval.details) };
    const patch: Partial<ApprovalRecord> = { status: decision.outcome, decision, updatedAt: decision.at };
    if (approvals) patch.approvals = approvals;
    // Decided: nobody is waiting to be asked any more (its open prompt jobs are dropped below).
    if (approval.unreached?.length) patch.unreached = [];
    const decided = await this.deps.store.approvals.update(approval.id, patch, { status: 'pending', version: approval.version });
    if (!decided) return null;
    this.clearTimers(approval.id);
    this.deps.bus.emit('approval.decided', { branchId: approval.branchId, risk: approval.riskLevel, outcome: decision.outcome, seconds: Math.max(0, (Date.parse(decision.at) - Date.parse(approval.createdAt)) / 1000) });
    await this.deps.prompts.dropFor(approval.id);
    await this.deps.audit.append({ type: `approval.${decision.outcome}`, actor: decision.by, branchId: approval.branchId, approvalId: approval.id, data: { via: decision.via, reason: decision.reason, rule: decision.rule, payloadHash: decision.payloadHash } });
    this.log.info(`approval ${approval.code} ${decision.outcome} by ${decision.byName ?? decision.by} via ${decision.via}`, { approvalId: approval.id });
    await this.updateCopies(decided);
    await this.notify(decided);
    const executor = decision.outcome === 'approved' ? this.executors.get(decided.actionType) : undefined;
    if (executor) {
      const result = await executor(decided).catch((error: unknown) => ({ success: false, error: error instanceof Error ? error.message : String(error) }));
      return (await this.report(decided.id, { kind: 'system' }, result)) ?? decided;
    }
    return decided;
  }

  private async notify(approval: ApprovalRecord): Promise<void> {
    this.deps.bus.emit('approval.updated', approval);
    if (!approval.callbackUrl) return;
    const requester = await this.deps.store.agents.get(approval.requesterId);
    if (!requester) return;
    const { idempotencyKey: _k, version: _v, ...view } = requesterApprovalView(approval);
    await this.deps.outbox.enqueue(requester.id, approval.callbackUrl, { event: `approval.${approval.status}`, approval: view, sentAt: isoNow(this.deps.clock) }, approval.id);
  }

  /** The requester (or an admin) withdraws a pending request. */
  async cancel(id: string, principal: Principal): Promise<ApprovalRecord> {
    const approval = await this.require(id);
    this.mustBeRequester(approval, principal);
    if (approval.status !== 'pending') throw new ConflictError(`Approval ${approval.code} is already ${approval.status}`, { status: approval.status });
    const cancelled = await this.finish(approval, { outcome: 'cancelled', by: principal.subject, via: 'api', at: isoNow(this.deps.clock) });
    if (!cancelled) throw new ConflictError(`Approval ${approval.code} was decided meanwhile`, { status: (await this.require(id)).status });
    return cancelled;
  }

  private mustBeRequester(approval: ApprovalRecord, principal: Principal | { kind: 'system' }): void {
    if ('kind' in principal) return;
    if (principal.role !== 'admin' && principal.subject !== approval.requesterId) {
      throw new CodedError(ErrorCode.Forbidden, `Only the requester (${approval.requesterId}) or an admin may do this`);
    }
  }

  /** The requester reports what happened after an approval: `executed` or `failed`. */
  async report(id: string, principal: Principal | { kind: 'system' }, result: { success: boolean; error?: string; result?: unknown }): Promise<ApprovalRecord> {
    const approval = await this.require(id);
    this.mustBeRequester(approval, principal);
    if (approval.status !== 'approved') throw new ConflictError(`Only an approved request can report a result; this one is ${approval.status}`, { status: approval.status });
    const at = isoNow(this.deps.clock);
    const updated = await this.deps.store.approvals.update(approval.id, { status: result.success ? 'executed' : 'failed', result: { ...result, at }, updatedAt: at }, { status: 'approved' });
    if (!updated) throw new ConflictError('The result was already reported');
    await this.deps.audit.append({ type: `approval.${updated.status}`, actor: 'kind' in principal ? 'coordinator' : principal.subject, branchId: approval.branchId, approvalId: approval.id, data: { error: result.error } });
    this.deps.bus.emit('approval.updated', updated);
    return updated;
  }

  // --- durable timers ------------------------------------------------------

  /** Schedules expiry and escalation of every pending approval; ones due during downtime fire at once. */
  async resume(): Promise<void> {
    for (const approval of await this.deps.store.approvals.find({ where: { status: 'pending' } })) this.scheduleTimers(approval);
  }

  /** Stops the expiry and escalation timers, and waits for those already running (their writes land before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const id of [...this.timers.keys()]) this.clearTimers(id);
    await Promise.all(this.firing);
  }

  private scheduleTimers(approval: ApprovalRecord): void {
    if (this.stopped) return;
    this.clearTimers(approval.id);
    const now = this.deps.clock.now();
    // Node fires delays above 2^31-1 ms at once; longer ones wake early and re-check (expire/escalate look at the time).
    const delay = (at: string) => Math.min(MAX_TIMER_MS, Math.max(0, Date.parse(at) - now));
    const run = (what: string, fn: () => Promise<void>) => () => {
      const firing = fn().catch((error: unknown) => {
        this.log.error(`approval ${what} failed`, { approvalId: approval.id, error });
      });
      this.firing.add(firing);
      void firing.finally(() => this.firing.delete(firing));
    };
    const handles = [this.deps.clock.setTimeout(run('expiry', () => this.expire(approval.id)), delay(approval.expiresAt))];
    if (approval.escalation && !approval.escalation.done) {
      handles.push(this.deps.clock.setTimeout(run('escalation', () => this.escalate(approval.id)), delay(approval.escalation.dueAt)));
    }
    this.timers.set(approval.id, handles);
  }

  private clearTimers(id: string): void {
    for (const h of this.timers.get(id) ?? []) this.deps.clock.clearTimeout(h);
    this.timers.delete(id);
  }

  /**
   * Pending past its expiry: what its chain's timeout policy says, `expired`
   * (never approved; the default) or `rejected` by the policy.
   */
  async expire(id: string): Promise<void> {
    const approval = await this.deps.store.approvals.get(id);
    if (!approval || approval.status !== 'pending') return;
    if (Date.parse(approval.expiresAt) > this.deps.clock.now()) return this.scheduleTimers(approval);
    const at = isoNow(this.deps.clock);
    if (approval.onTimeout?.action === 'reject') {
      const waited = Math.round((Date.parse(approval.expiresAt) - Date.parse(approval.createdAt)) / 60_000);
      await this.finish(approval, { outcome: 'rejected', by: 'system', byName: 'the timeout policy', via: 'timer', at, reason: `nobody decided within ${waited} min`, rule: `${approval.onTimeout.source}.onTimeout: reject` });
      return;
    }
    await this.finish(approval, { outcome: 'expired', by: 'system', via: 'timer', at });
  }

  /**
   * Still pending when an escalation step falls due: ask whom the step names
   * (those who may decide and were not asked yet), record the step on the
   * approval (every copy of the prompt shows it), and schedule the next one.
   * Each step is taken once: the record moves on by compare-and-set first.
   */
  async escalate(id: string): Promise<void> {
    const approval = await this.deps.store.approvals.get(id);
    const escalation = approval?.escalation;
    if (!approval || approval.status !== 'pending' || !escalation || escalation.done) return;
    if (Date.parse(escalation.dueAt) > this.deps.clock.now()) return this.scheduleTimers(approval);
    const config = this.deps.settings.config;
    const branch = config.branches.find((b) => b.id === approval.branchId);
    if (!branch) {
      this.log.warn(`approval ${approval.code}: branch ${approval.branchId} is no longer configured; not escalating`, { approvalId: id });
      return;
    }
    // Approvals stored before chains existed: one step, the owners.
    const steps = escalation.steps ?? [{ afterSec: 0, to: ['owner'] }];
    const index = escalation.next ?? 0;
    const step = steps[index];
    if (!step) return;
    const targets = targetsOf(config, branch, approval.riskLevel, step.to);
    const before = await this.deps.prompts.alreadyAsked(approval);
    const asked = targets.managers.filter((m) => !before.has(m.id) && this.delivery.reachable(m));
    const at = isoNow(this.deps.clock);
    const following = steps[index + 1];
    const taken = { step: index + 1, at, asked: asked.map((m) => ({ id: m.id, name: m.name })), ...(targets.chats.length > 0 ? { chats: targets.chats.length } : {}) };
    const marked = await this.deps.store.approvals.update(
      id,
      {
        escalation: {
          ...escalation,
          steps,
          next: index + 1,
          done: !following,
          dueAt: following ? new Date(Date.parse(approval.createdAt) + following.afterSec * 1000).toISOString() : escalation.dueAt,
          history: [...(escalation.history ?? []), taken],
        },
        updatedAt: at,
      },
      { status: 'pending', version: approval.version },
    );
    if (!marked) return; // decided (or escalated by another process) meanwhile
    this.deps.bus.emit('approval.escalated', { branchId: approval.branchId, risk: approval.riskLevel });
    await this.deps.audit.append({
      type: 'approval.escalated',
      actor: 'coordinator',
      branchId: approval.branchId,
      approvalId: id,
      data: { step: index + 1, of: steps.length, to: asked.map((m) => m.id), targets: step.to, chats: targets.chats.map((c) => c.agentId), source: escalation.source ?? 'approvals.escalateAfterSec' },
    });
    this.log.info(`approval ${approval.code}: escalation step ${index + 1} of ${steps.length} asks ${taken.asked.map((a) => a.name).join(', ') || (targets.chats.length ? 'the ops chat' : 'nobody new')}`, { approvalId: id });
    const updated = await this.deps.prompts.enqueue(marked, branch, asked, 'escalation', { step: index + 1, chats: targets.chats });
    // Every copy says whom the step asked (a step that asked nobody new changes nothing on them).
    if (asked.length > 0 || targets.chats.length > 0) await this.updateCopies(updated);
    this.deps.bus.emit('approval.updated', updated);
    this.scheduleTimers(updated);
  }
}
