import { RESERVED_IDS, type CoordinatorConfig } from '../config/config-schema.js';
import type { Clock } from '../core/clock.js';
import { isoNow } from '../core/clock.js';
import { ConflictError, ValidationError } from '../core/errors.js';
import type { AgentRecord, PrincipalRole } from '../storage/records.js';
import type { Store } from '../storage/store.js';

const TOMBSTONE = 'agent.removed.';

/** What the store keeps of a removed agent (a `settings` document per id) so its id is never given out again. */
export interface AgentTombstone {
  agentId: string;
  branchId: string;
  source: AgentRecord['source'];
  removedAt: string;
  by: string;
}

/**
 * Records that `agent` existed. Written before the agent record is deleted,
 * so there is no moment in which its id looks free: an id that once named an
 * agent keeps its approvals, audit events and webhook history, and a newcomer
 * taking it would inherit them (cancel, report results).
 */
export async function tombstoneAgent(store: Store, clock: Clock, agent: AgentRecord, by: string): Promise<void> {
  const value: AgentTombstone = { agentId: agent.id, branchId: agent.branchId, source: agent.source, removedAt: isoNow(clock), by };
  await store.settings.put({ id: TOMBSTONE + agent.id, value, updatedAt: value.removedAt });
}

/** The tombstone of a removed agent id, if any. */
export async function agentTombstone(store: Store, id: string): Promise<AgentTombstone | null> {
  const doc = await store.settings.get(TOMBSTONE + id);
  return doc ? (doc.value as AgentTombstone) : null;
}

/**
 * Refuses an id for a new agent (`role: 'agent'`) or a token subject
 * (`operator`, `runner`) when it is reserved for the coordinator (400, path
 * `field`), or already names someone else: a config agent or manager, a stored
 * or removed agent, or another role's token (409). Tokens of the same role may
 * share a subject (an operator with two tokens, a runner's token re-minted).
 */
export async function mustBeFreeId(id: string, deps: { store: Store; config: CoordinatorConfig }, role: PrincipalRole, field: string): Promise<void> {
  if (RESERVED_IDS.includes(id)) {
    throw new ValidationError('Reserved id', [{ path: field, message: `'${id}' is reserved for the coordinator itself (reserved: ${RESERVED_IDS.join(', ')})` }]);
  }
  const clash = await whoHas(id, deps, role);
  if (clash) throw new ConflictError(`The id '${id}' is already ${clash}; choose another`, { id, field });
}

async function whoHas(id: string, deps: { store: Store; config: CoordinatorConfig }, role: PrincipalRole): Promise<string | null> {
  const { store, config } = deps;
  for (const branch of config.branches) {
    if (branch.managers.some((m) => m.id === id)) return `a manager of branch '${branch.id}' in the config file`;
    if (branch.agents.some((a) => a.id === id)) return `an agent of branch '${branch.id}' in the config file`;
  }
  if (role === 'agent' && (await store.agents.get(id))) return 'an existing agent';
  if (role !== 'agent' && (await store.agents.get(id))) return "an agent's id";
  const tomb = await agentTombstone(store, id);
  if (tomb) return `the id of an agent removed at ${tomb.removedAt}; agent ids are never reused`;
  const token = (await store.apiTokens.find({ where: { subject: id } })).find((t) => t.role !== role || role === 'agent');
  if (token) return `the subject of a ${token.role} token`;
  return null;
}
