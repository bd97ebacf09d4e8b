import type { CoordinatorConfig } from '../config/config-schema.js';
import type { Clock } from '../core/clock.js';
import { isoNow } from '../core/clock.js';
import { ConfigError } from '../core/errors.js';
import type { AgentRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import { tombstoneAgent } from './agent-ids.js';

/**
 * Makes the stored agents match the config file: new bot agents are added
 * (`pending`, or `down` with the reason when credentials are missing), changed
 * ones updated, removed ones deleted (leaving a tombstone, so `POST /api/agents`
 * cannot take the id over; the config file itself may bring it back). API-registered
 * agents are left alone.
 */
export async function syncConfigAgents(config: CoordinatorConfig, store: Store, clock: Clock): Promise<void> {
  const now = isoNow(clock);
  const seen = new Set<string>();
  for (const branch of config.branches) {
    for (const agent of branch.agents) {
      seen.add(agent.id);
      const missing = agent.missingCredentials;
      const reason = missing?.length ? `missing credentials: set ${missing.join(', ')} (see .env.example)` : !agent.enabled ? 'disabled in the config file' : undefined;
      const desired: Partial<AgentRecord> = { branchId: branch.id, kind: 'bot', channel: agent.channel, dependsOn: agent.dependsOn, remote: branch.host === 'remote' };
      const existing = await store.agents.get(agent.id);
      if (existing && existing.source !== 'config') {
        // Taking it over would leave the API agent's token speaking for this bot.
        throw new ConfigError([{ path: `branches.${branch.id}.agents.${agent.id}`, message: `'${agent.id}' is the id of an agent registered with POST /api/agents; rename this one, or remove that one first (DELETE /api/agents/${agent.id})` }]);
      }
      if (!existing) {
        await store.agents.insert({
          id: agent.id,
          ...desired,
          status: reason ? 'down' : 'pending',
          statusReason: reason,
          statusSince: now,
          registeredAt: now,
          source: 'config',
        } as AgentRecord);
      } else {
        const patch: Partial<AgentRecord> = { ...desired, source: 'config' };
        if (reason) Object.assign(patch, { status: 'down', statusReason: reason });
        else if (existing.statusReason?.startsWith('missing credentials') || existing.statusReason === 'disabled in the config file') {
          Object.assign(patch, { status: 'pending', statusReason: undefined, statusSince: now });
        }
        await store.agents.update(agent.id, patch);
      }
    }
  }
  for (const stale of await store.agents.find({ where: { source: 'config' } })) {
    if (seen.has(stale.id)) continue;
    await tombstoneAgent(store, clock, stale, 'config');
    await store.agents.delete(stale.id);
  }
}
