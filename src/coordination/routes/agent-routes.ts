import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { AgentHost } from '../../branches/agent-host.js';
import { CodedError, ErrorCode, NotFoundError, ValidationError } from '../../core/errors.js';
import type { OutboundPolicy } from '../approvals/outbound-guard.js';
import type { AgentStatus } from '../../storage/records.js';
import type { Store } from '../../storage/store.js';
import type { AgentRegistry } from '../agent-registry.js';
import { agentView, patchAgentSchema, registerAgentSchemaFor } from '../agent-registry.js';
import type { AuditLog } from '../audit-log.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import { parseBody, parseQuery, textParam } from '../http/middleware.js';
import { branchWhere, readScopeOf, seesBranch } from '../read-scope.js';
import type { RuntimeSettings } from '../runtime-settings.js';

const STATUSES = ['pending', 'up', 'down', 'maintenance', 'blocked'] as const satisfies readonly AgentStatus[];
/** `GET /api/agents` */
export const listAgentsQuery = z.object({
  branchId: textParam('expected one branch id').optional().describe('Only this branch (within what the token may see).'),
  status: z.enum(STATUSES, { message: `expected one of ${STATUSES.join(', ')}` }).optional(),
});
export const maintenanceSchema = z.strictObject({ enabled: z.boolean({ message: 'expected true or false' }) });

/**
 * `/api/agents`: register, list, inspect, assign a team, remove, heartbeat,
 * restart, maintenance. Reads are kept to the token's branches (an agent: its
 * own branch; a runner: the branches it hosts; a manager: where it manages);
 * an agent outside them answers 404. An agent's `healthUrl` is shown only to
 * the admin and operators (`agentView`): it may carry credentials.
 */
export function agentRoutes(deps: {
  registry: AgentRegistry;
  store: Store;
  settings: RuntimeSettings;
  /** Who outbound calls may reach (WEBHOOK_ALLOWLIST): URLs given here are checked now, with the reason. */
  outbound: OutboundPolicy;
  monitor: HealthMonitor;
  hosts: AgentHost;
  audit: AuditLog;
  anyAuth: RequestHandler;
  adminAuth: RequestHandler;
  operatorAuth: RequestHandler;
  /** The channel names a bot agent may register with (the channel registry's). */
  channels: readonly string[];
}): Router {
  const router = Router();
  const { registry, store } = deps;
  const registerAgent = registerAgentSchemaFor(deps.channels);

  router.post('/api/agents', deps.adminAuth, async (req, res) => {
    const input = parseBody(registerAgent, req.body ?? {});
    if (input.healthUrl) {
      // The coordinator calls it every interval: an internal address is refused now (WEBHOOK_ALLOWLIST allows one).
      const why = await deps.outbound.check(input.healthUrl);
      if (why) throw new ValidationError('Invalid healthUrl', [{ path: 'healthUrl', message: why }]);
    }
    const { agent, token } = await registry.register(input, req.principal!.subject);
    res.status(201).json({ agent: agentView(agent, { kind: 'all' }), token, callbackSecret: agent.callbackSecret, note: 'Store the token now: it is shown only once.' });
  });

  router.get('/api/agents', deps.anyAuth, async (req, res) => {
    const { branchId, status } = parseQuery(listAgentsQuery, req.query);
    const scope = await readScopeOf(req.principal!, deps.settings.config, store);
    const agents = await store.agents.find({
      where: { ...branchWhere(scope, branchId || undefined), ...(status ? { status } : {}) },
      orderBy: { field: 'id' },
    });
    res.json({ agents: agents.map((a) => agentView(deps.monitor.live(a), scope)) });
  });

  router.get('/api/agents/:id', deps.anyAuth, async (req, res) => {
    const id = String(req.params.id);
    const agent = await registry.require(id);
    const scope = await readScopeOf(req.principal!, deps.settings.config, store);
    if (!seesBranch(scope, agent.branchId)) throw new NotFoundError('Agent', id);
    res.json(await registry.details(id, 20, scope));
  });

  // Teams (and so autonomy) are the admin's to give: `{teamId}` assigns, `{teamId: null}` clears.
  router.patch('/api/agents/:id', deps.adminAuth, async (req, res) => {
    const { teamId } = parseBody(patchAgentSchema, req.body);
    res.json({ agent: agentView(await registry.setTeam(String(req.params.id), teamId, req.principal!.subject), { kind: 'all' }) });
  });

  router.delete('/api/agents/:id', deps.adminAuth, async (req, res) => {
    await registry.remove(String(req.params.id), req.principal!.subject);
    res.status(204).end();
  });

  router.post('/api/agents/:id/heartbeat', deps.anyAuth, async (req, res) => {
    const id = String(req.params.id);
    const p = req.principal!;
    if (p.role !== 'admin' && !(p.role === 'agent' && p.subject === id)) {
      throw new CodedError(ErrorCode.Forbidden, `Only agent '${id}' itself (or an admin) may send its heartbeat`);
    }
    const agent = await registry.heartbeat(id);
    res.json({ status: agent.status, lastHeartbeatAt: agent.lastHeartbeatAt });
  });

  router.post('/api/agents/:id/restart', deps.operatorAuth, async (req, res) => {
    res.json({ agent: agentView(await registry.restart(String(req.params.id), req.principal!.subject), { kind: 'all' }) });
  });

  router.post('/api/agents/:id/maintenance', deps.operatorAuth, async (req, res) => {
    const { enabled } = parseBody(maintenanceSchema, req.body);
    await registry.require(String(req.params.id));
    const agent = await deps.monitor.setMaintenance(String(req.params.id), enabled, req.principal!.subject);
    res.json({ agent: agent ? agentView(agent, { kind: 'all' }) : null });
  });

  return router;
}
