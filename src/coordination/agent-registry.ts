import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { actorIdSchema, idSchema } from '../config/config-schema.js';
import { findCycle } from '../config/config-file.js';
import type { Clock } from '../core/clock.js';
import { isoNow } from '../core/clock.js';
import { CodedError, ConflictError, ErrorCode, NotFoundError, ValidationError } from '../core/errors.js';
import { newToken, sha256 } from '../core/ids.js';
import type { AgentRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import type { AgentHost } from '../branches/agent-host.js';
import type { AuditLog } from './audit-log.js';
import type { HealthMonitor } from './health/health-monitor.js';
import type { RuntimeSettings } from './runtime-settings.js';
import { mustBeFreeId, tombstoneAgent } from './agent-ids.js';
import { assignedTeam } from './approvals/policy.js';
import type { EventBus } from './event-bus.js';
import type { ReadScope } from './read-scope.js';
import { publicTokenId } from './token-ids.js';

/** `POST /api/agents`; `channels`: the names a bot agent may have (the registry's). */
export const registerAgentSchemaFor = (channels: readonly string[]) =>
  z
  .strictObject({
    id: actorIdSchema.optional(),
    branchId: z.string({ message: 'expected the id of a configured branch' }).min(1),
    kind: z.enum(['action', 'bot'], { message: 'expected "action" (an AI assistant or automation) or "bot" (a chat bot hosted by a runner)' }).default('action'),
    channel: z.string({ message: `expected one of ${channels.join(', ')}` }).refine((c) => channels.includes(c), { message: `expected one of ${channels.join(', ')}` }).optional(),
    name: z.string().trim().min(1).max(100).optional(),
    dependsOn: z.array(idSchema).max(20).default([]),
    healthUrl: z
      .url({ protocol: /^https?$/, message: 'expected an http(s) URL that answers 2xx when the agent is healthy' })
      .optional(),
    /** The team whose autonomy governs this agent's requests (`approvals.teams` in the config). Admin only. */
    teamId: idSchema.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.kind === 'bot' && !v.channel) ctx.addIssue({ code: 'custom', path: ['channel'], message: 'a bot agent needs its channel' });
    if (v.kind === 'action' && v.channel) ctx.addIssue({ code: 'custom', path: ['channel'], message: 'only bot agents have a channel' });
  });
export type RegisterAgentInput = z.infer<ReturnType<typeof registerAgentSchemaFor>>;

/** `PATCH /api/agents/:id` (admin): assign (`teamId`) or clear (`null`) the agent's team. */
export const patchAgentSchema = z.strictObject({
  teamId: z.union([idSchema, z.null()], { message: 'expected the id of a team under approvals.teams, or null to clear it' }),
});

/**
 * What the API shows of an agent: never its callback secret; its `healthUrl`
 * (which may carry credentials in its query or userinfo) only to the admin and
 * operator tokens (read scope `all`). Without a scope the URL is left out, so a
 * new caller is safe by default.
 */
export function agentView(agent: AgentRecord, scope?: ReadScope) {
  const { callbackSecret: _secret, version: _version, healthUrl, ...rest } = agent;
  return scope?.kind === 'all' && healthUrl !== undefined ? { ...rest, healthUrl } : rest;
}

/** Agents from the API: registration with a one-time token, removal, heartbeats, details with uptime. */
export class AgentRegistry {
  /** `bus` hears `token.revoked` when a removed agent's token goes, so its live socket is closed at once. */
  constructor(private readonly deps: { store: Store; clock: Clock; settings: RuntimeSettings; audit: AuditLog; monitor: HealthMonitor; hosts: AgentHost; bus?: EventBus }) {}

  async register(input: RegisterAgentInput, actor: string): Promise<{ agent: AgentRecord; token: string }> {
    const { store, clock, settings } = this.deps;
    const branch = settings.config.branches.find((b) => b.id === input.branchId);
    if (!branch) {
      throw new ValidationError('Unknown branch', [{ path: 'branchId', message: `unknown branch '${input.branchId}' (known: ${settings.config.branches.map((b) => b.id).join(', ') || 'none'})` }]);
    }
    const id = input.id ?? `${input.kind}-${randomBytes(4).toString('hex')}`;
    if (await store.agents.get(id)) throw new ConflictError(`An agent with id '${id}' already exists`, { id });
    await mustBeFreeId(id, { store, config: settings.config }, 'agent', 'id');
    if (input.teamId !== undefined) this.mustBeAssignable(id, input.teamId);
    const all = await store.agents.find();
    const known = new Set(all.map((a) => a.id));
    const unknown = input.dependsOn.filter((d) => !known.has(d));
    if (unknown.length > 0) throw new ValidationError('Unknown dependencies', unknown.map((d) => ({ path: 'dependsOn', message: `unknown agent '${d}'` })));
    const graph = new Map(all.map((a) => [a.id, a.dependsOn]));
    graph.set(id, input.dependsOn);
    const cycle = findCycle(graph);
    if (cycle) throw new ValidationError('Dependency cycle', [{ path: 'dependsOn', message: `dependency cycle: ${cycle.join(' -> ')}` }]);

    const now = isoNow(clock);
    const token = newToken('agt');
    const record: Omit<AgentRecord, 'version'> = {
      id,
      branchId: input.branchId,
      kind: input.kind,
      channel: input.channel,
      name: input.name,
      status: 'pending',
      statusSince: now,
      dependsOn: input.dependsOn,
      registeredAt: now,
      source: 'api',
      remote: input.kind === 'bot' ? true : undefined,
      healthUrl: input.healthUrl,
      callbackSecret: randomBytes(32).toString('hex'),
      ...(input.teamId ? { teamId: input.teamId } : {}),
    };
    const agent = await store.agents.insert(record);
    await store.apiTokens.insert({ id: sha256(token), role: 'agent', subject: id, createdAt: now, label: `agent ${id}` });
    await this.deps.audit.append({ type: 'agent.registered', actor, agentId: id, branchId: input.branchId, data: { kind: input.kind, channel: input.channel, teamId: input.teamId } });
    this.deps.monitor.track(id, 0);
    return { agent, token };
  }

  /** A team the admin may give this agent: configured, and not contradicting the config's own assignment. */
  private mustBeAssignable(agentId: string, teamId: string | null): void {
    const config = this.deps.settings.config;
    if (teamId !== null && !Object.hasOwn(config.approvals.teams, teamId)) {
      const known = Object.keys(config.approvals.teams).join(', ') || 'none';
      throw new ValidationError('Unknown team', [{ path: 'teamId', message: `unknown team '${teamId}' (known: ${known}; configure it under approvals.teams)` }]);
    }
    const fromConfig = assignedTeam(config, agentId);
    if (fromConfig && fromConfig.teamId !== teamId) {
      throw new ConflictError(`Agent '${agentId}' is in team '${fromConfig.teamId}' by the config file (approvals.teams.${fromConfig.teamId}.agents); change it there`, { teamId: fromConfig.teamId });
    }
  }

  /** Assigns or clears an agent's team (admin), audited. Requests never choose their team. */
  async setTeam(id: string, teamId: string | null, actor: string): Promise<AgentRecord> {
    const agent = await this.require(id);
    if (agent.kind !== 'action') throw new ConflictError(`Agent '${id}' is a bot; teams govern the approval requests of action agents`);
    this.mustBeAssignable(id, teamId);
    const updated = await this.deps.store.agents.update(id, { teamId: teamId ?? undefined });
    if (!updated) throw new NotFoundError('Agent', id);
    const from = agent.teamId ?? null;
    await this.deps.audit.append({ type: 'agent.team-assigned', actor, agentId: id, branchId: agent.branchId, data: { from, to: teamId } });
    return updated;
  }

  async require(id: string): Promise<AgentRecord> {
    const agent = await this.deps.store.agents.get(id);
    if (!agent) throw new NotFoundError('Agent', id);
    return agent;
  }

  /** Restarts a bot where it runs (here or on a runner), audited, then checks it at once. */
  async restart(id: string, actor: string): Promise<AgentRecord> {
    const agent = await this.require(id);
    if (agent.kind !== 'bot') throw new ConflictError(`Agent '${agent.id}' is an action agent: it runs outside the coordinator and restarts itself`);
    if (!this.deps.hosts.hosts(agent.id)) throw new ConflictError(`Agent '${agent.id}' is not running in this process or on a connected runner`);
    await this.deps.audit.append({ type: 'agent.restart', actor, agentId: agent.id, branchId: agent.branchId });
    await this.deps.hosts.restart(agent.id);
    await this.deps.monitor.checkNow(agent.id);
    return (await this.deps.store.agents.get(agent.id)) ?? agent;
  }

  async remove(id: string, actor: string): Promise<void> {
    const agent = await this.require(id);
    if (agent.source === 'config') throw new ConflictError(`Agent '${id}' is defined in the coordinator config file; remove it there and restart`);
    const dependents = (await this.deps.store.agents.find()).filter((a) => a.dependsOn.includes(id)).map((a) => a.id);
    if (dependents.length > 0) throw new ConflictError(`Agent '${id}' is a dependency of ${dependents.join(', ')}; remove those first`, { dependents });
    this.deps.monitor.untrack(id);
    // The tombstone first: at no moment may the id look free to a new registration.
    await tombstoneAgent(this.deps.store, this.deps.clock, agent, actor);
    await this.deps.store.agents.delete(id);
    const tokens = await this.deps.store.apiTokens.find({ where: { subject: id, role: 'agent' } });
    await this.deps.store.apiTokens.deleteWhere({ subject: id, role: 'agent' });
    await this.deps.audit.append({ type: 'agent.removed', actor, agentId: id, branchId: agent.branchId });
    // Its socket (approval pushes) must not outlive it.
    if (tokens.length > 0) this.deps.bus?.emit('token.revoked', { tokenIds: tokens.map((t) => publicTokenId(t.id)), role: 'agent', subject: id, by: actor });
  }

  async heartbeat(id: string): Promise<AgentRecord> {
    const agent = await this.require(id);
    if (agent.kind !== 'action') throw new CodedError(ErrorCode.Conflict, `Agent '${id}' is a bot; bots are probed, they do not send heartbeats`);
    const updated = (await this.deps.store.agents.update(id, { lastHeartbeatAt: isoNow(this.deps.clock) })) ?? agent;
    if (updated.status !== 'up' && updated.status !== 'maintenance') await this.deps.monitor.checkNow(id);
    return (await this.deps.store.agents.get(id)) ?? updated;
  }

  /** The agent with its last checks and its uptime over the last 24 hours (`scope`: the reader's, for `agentView`). */
  async details(id: string, recent = 20, scope?: ReadScope) {
    const agent = await this.require(id);
    const { store } = this.deps;
    const [{ total, ok }, checks] = await Promise.all([
      this.deps.monitor.uptime.last24h(id),
      store.healthChecks.find({ where: { agentId: id }, orderBy: { field: 'at', direction: 'desc' }, limit: recent }),
    ]);
    return {
      agent: agentView(this.deps.monitor.live(agent), scope),
      uptime24h: { percent: total === 0 ? null : Math.round((ok / total) * 10000) / 100, checks: total },
      recentChecks: checks.map(({ at, ok: good, latencyMs, detail }) => ({ at, ok: good, latencyMs, detail })),
    };
  }
}
