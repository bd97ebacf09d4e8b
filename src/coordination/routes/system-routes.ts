import { Router } from 'express';
import type { Store } from '../../storage/store.js';
import type { AgentRecord, AgentStatus } from '../../storage/records.js';
import type { Metrics } from '../metrics.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import type { RequestHandler } from 'express';
import { readScopeOf, seesBranch } from '../read-scope.js';

const STATUSES: AgentStatus[] = ['pending', 'up', 'down', 'maintenance', 'blocked'];

function totals(agents: AgentRecord[]): Record<AgentStatus | 'total', number> {
  const out = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<AgentStatus | 'total', number>;
  for (const a of agents) out[a.status]++;
  out.total = agents.length;
  return out;
}

/** Liveness, readiness, metrics and the coordination overview. */
export function systemRoutes(deps: { store: Store; settings: RuntimeSettings; metrics: Metrics; startedAt: number; version: string; auth: RequestHandler; live: (agent: AgentRecord) => AgentRecord }): Router {
  const router = Router();
  const { store, settings } = deps;

  // Liveness: the process answers. No auth, no I/O.
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok', version: deps.version, uptimeSec: Math.round((Date.now() - deps.startedAt) / 1000) });
  });

  // Readiness: the store can take writes. No auth (for load balancers and process managers); no secrets in it.
  router.get('/ready', (_req, res) => {
    const state = store.state();
    res.status(state.ready ? 200 : 503).json({
      ready: state.ready,
      storage: { backend: state.backend, fallback: state.fallback, pendingSync: state.pendingSync ?? 0, detail: state.detail },
    });
  });

  router.get('/metrics', deps.auth, async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // Kept to the token's branches (read-scope.ts); agents of branches no longer configured only for operators and the admin.
  router.get('/coordination/status', deps.auth, async (req, res) => {
    const scope = await readScopeOf(req.principal!, settings.config, store);
    const agents = (await store.agents.find({ orderBy: { field: 'id' } })).filter((a) => seesBranch(scope, a.branchId));
    const byBranch = new Map<string, AgentRecord[]>();
    for (const a of agents) {
      const list = byBranch.get(a.branchId);
      if (list) list.push(a);
      else byBranch.set(a.branchId, [a]);
    }
    const view = (a: AgentRecord) => ({
      id: a.id,
      kind: a.kind,
      channel: a.channel,
      status: a.status,
      reason: a.statusReason,
      since: a.statusSince,
      lastCheck: deps.live(a).lastCheck ?? null,
      remote: a.remote ?? false,
    });
    const config = settings.config;
    const known = new Set(config.branches.map((b) => b.id));
    res.json({
      business: config.business.name,
      storage: store.state(),
      branches: [
        ...config.branches.filter((b) => seesBranch(scope, b.id)).map((b) => ({
          id: b.id,
          name: b.name,
          timezone: b.timezone,
          autonomy: b.autonomy ?? config.defaults.autonomy,
          managers: b.managers.length,
          agents: (byBranch.get(b.id) ?? []).map(view),
          totals: totals(byBranch.get(b.id) ?? []),
        })),
        ...[...byBranch.keys()].filter((id) => !known.has(id)).map((id) => ({ id, name: id, unknownBranch: true, agents: byBranch.get(id)!.map(view), totals: totals(byBranch.get(id)!) })),
      ],
      totals: totals(agents),
    });
  });

  return router;
}
