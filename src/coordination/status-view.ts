import { createHash } from 'node:crypto';
import type { AgentRecord, AgentStatus } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import { watchWrites } from '../storage/watch-writes.js';
import type { RuntimeSettings } from './runtime-settings.js';
import { seesBranch, type ReadScope } from './read-scope.js';

const STATUSES: AgentStatus[] = ['pending', 'up', 'down', 'maintenance', 'blocked'];
/** Bodies kept at once (one per distinct scope: everyone, or a set of branches). */
const MAX_BODIES = 64;

function totals(agents: AgentRecord[]): Record<AgentStatus | 'total', number> {
  const out = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<AgentStatus | 'total', number>;
  for (const a of agents) out[a.status]++;
  out.total = agents.length;
  return out;
}

/** A serialized overview and its ETag. */
export interface StatusBody {
  json: Buffer;
  etag: string;
}

/**
 * `GET /coordination/status`, serialized once and served from memory until
 * something in it changes: any write to the agents collection (watched on the
 * store, whoever writes), a check the health monitor ran (its `lastCheck` is
 * shown), a config change, or the store's state (a hybrid store switching
 * between MongoDB and the file store reloads the agents). No time-based
 * staleness: a change shows in the very next answer. Writes by another process
 * sharing the store are not seen (one coordinator per store today).
 */
export class StatusView {
  private agents?: AgentRecord[];
  private loading?: Promise<AgentRecord[]>;
  private readonly bodies = new Map<string, StatusBody>();
  /** What the cached bodies were built under: the monitor's check count, and the config and store state. */
  private checksSeen = -1;
  private sourceSeen = '';
  private configSeen?: RuntimeSettings['config'];
  private configGeneration = 0;

  constructor(
    private readonly deps: {
      store: Store;
      settings: RuntimeSettings;
      /** The record with the monitor's latest check (health-monitor.ts `live`). */
      live: (agent: AgentRecord) => AgentRecord;
      /** Bumps with every check the monitor stores or keeps (its `lastCheck`). */
      checks: () => number;
    },
  ) {
    watchWrites(deps.store, 'agents', () => this.invalidate());
  }

  /** Drops what is cached (agents changed). */
  invalidate(): void {
    this.agents = undefined;
    this.loading = undefined;
    this.bodies.clear();
  }

  async body(scope: ReadScope): Promise<StatusBody> {
    const checks = this.deps.checks();
    const source = this.source();
    // The store switched backends or the config changed: the documents themselves may differ.
    if (source !== this.sourceSeen) this.invalidate();
    if (checks !== this.checksSeen) this.bodies.clear();
    this.checksSeen = checks;
    this.sourceSeen = source;
    const key = scope.kind === 'all' ? '*' : scope.branches.join('\n');
    const cached = this.bodies.get(key);
    if (cached) return cached;
    const state = this.deps.store.state();
    const agents = (await this.allAgents()).filter((a) => seesBranch(scope, a.branchId));
    const json = Buffer.from(JSON.stringify(this.render(agents, scope, state)));
    const body = { json, etag: `"${createHash('sha1').update(json).digest('base64url')}"` };
    // Kept only if nothing changed while it was built.
    if (this.agents && this.deps.checks() === checks && this.source() === source) {
      if (this.bodies.size >= MAX_BODIES) this.bodies.clear();
      this.bodies.set(key, body);
    }
    return body;
  }

  /** The config in force and the store's state, as one comparable string. */
  private source(): string {
    const config = this.deps.settings.config;
    if (config !== this.configSeen) {
      this.configSeen = config;
      this.configGeneration++;
    }
    return `${this.configGeneration} ${JSON.stringify(this.deps.store.state())}`;
  }

  private async allAgents(): Promise<AgentRecord[]> {
    if (this.agents) return this.agents;
    const loading = (this.loading ??= this.deps.store.agents.find({ orderBy: { field: 'id' } }));
    const agents = await loading;
    // An invalidation while loading makes this load stale: the next call loads again.
    if (this.loading === loading) this.agents = agents;
    return agents;
  }

  private render(agents: AgentRecord[], scope: ReadScope, storage: ReturnType<Store['state']>) {
    const config = this.deps.settings.config;
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
      lastCheck: this.deps.live(a).lastCheck ?? null,
      remote: a.remote ?? false,
    });
    const known = new Set(config.branches.map((b) => b.id));
    return {
      business: config.business.name,
      storage,
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
    };
  }
}
