import { RISK_LEVELS, type Autonomy, type BranchConfig, type CoordinatorConfig, type ManagerConfig } from '../../config/config-schema.js';
import type { RiskLevel } from '../../storage/records.js';

/**
 * The built-in action-type table (ARCHITECTURE.md); the config's
 * `approvals.riskByAction` wins over it. A word counts anywhere in the type,
 * between `.`, `-` or `_` (`get.refund`, `status.payment.transfer`,
 * `lookup.message.send` are critical, not low), and the riskiest word wins.
 */
const word = (words: string) => new RegExp(`(^|[._-])(${words})([._-]|$)`);
const DEFAULT_RISK: Array<[RegExp, RiskLevel]> = [
  [word('payments?|payouts?|pay|refunds?|transfers?|wire|charges?|message\\.send|customer\\.message|data\\.delete|delete|remove|purge'), 'critical'],
  [word('email|external\\.email|calendar|data\\.(change|update|write)'), 'high'],
  [word('crm|task|notice|internal'), 'medium'],
  [word('read|status|report|lookup|get'), 'low'],
];
const RISK_RANK: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2, critical: 3 };

export const DEFAULT_TTL_SEC: Record<RiskLevel, number> = { low: 86_400, medium: 28_800, high: 14_400, critical: 3_600 };
const ROLE_RANK = { operator: 0, manager: 1, owner: 2 } as const;

/** Risk of an action type: the config's table, then the built-in one; unknown types are `high`. */
export function classifyRisk(actionType: string, config: CoordinatorConfig): { risk: RiskLevel; source: string } {
  // Keys come from requests: only the config's own entries count (never `constructor` from the prototype).
  const configured = Object.hasOwn(config.approvals.riskByAction, actionType) ? config.approvals.riskByAction[actionType] : undefined;
  if (configured) return { risk: configured, source: `approvals.riskByAction.${actionType}` };
  let found: RiskLevel | undefined;
  for (const [pattern, risk] of DEFAULT_RISK) if (pattern.test(actionType) && (!found || RISK_RANK[risk] > RISK_RANK[found])) found = risk;
  if (found) return { risk: found, source: 'default table' };
  return { risk: 'high', source: 'default for unknown action types' };
}

/**
 * The team an agent belongs to, as the admin assigned it: the config's
 * `approvals.teams.<id>.agents` first, else the assignment stored on the agent
 * (`POST /api/agents` / `PATCH /api/agents/:id` `teamId`) while that team is
 * still configured. Never what a request says.
 */
export function assignedTeam(config: CoordinatorConfig, agentId: string, storedTeamId?: string): { teamId: string; source: 'config' | 'api' } | undefined {
  for (const [teamId, team] of Object.entries(config.approvals.teams)) if (team.agents.includes(agentId)) return { teamId, source: 'config' };
  if (storedTeamId && Object.hasOwn(config.approvals.teams, storedTeamId)) return { teamId: storedTeamId, source: 'api' };
  return undefined;
}

/** Autonomy per team (the requester's assigned team), else per branch, else the business default. */
export function resolveAutonomy(config: CoordinatorConfig, branch: BranchConfig, teamId?: string): { autonomy: Autonomy; source: string } {
  const team = teamId && Object.hasOwn(config.approvals.teams, teamId) ? config.approvals.teams[teamId] : undefined;
  if (team) return { autonomy: team.autonomy, source: `team ${teamId}` };
  if (branch.autonomy) return { autonomy: branch.autonomy, source: `branch ${branch.id}` };
  return { autonomy: config.defaults.autonomy, source: 'default' };
}

/** supervised: everything waits; semi_autonomous: low runs at once; autonomous: only critical waits. */
export function autoApproves(autonomy: Autonomy, risk: RiskLevel): boolean {
  if (autonomy === 'supervised') return false;
  if (autonomy === 'semi_autonomous') return risk === 'low';
  return risk !== 'critical';
}

/** Managers of the branch whose role is high enough for the risk. */
export function eligibleManagers(config: CoordinatorConfig, branch: BranchConfig, risk: RiskLevel): ManagerConfig[] {
  const min = config.approvals.minRole[risk] ?? 'manager';
  return branch.managers.filter((m) => ROLE_RANK[m.role] >= ROLE_RANK[min]);
}

/**
 * Why a manager may not decide a risk at a branch, in words they can act on,
 * or null when they may: not a manager there, or a role below the policy's
 * `approvals.minRole` for that risk. (Only for people known to the config: a
 * stranger is told nothing about who may decide.)
 *
 * @example whyNotDecide(config, porto, 'critical', 'ana') // "Ana is not a manager at Porto Ribeira."
 */
export function whyNotDecide(config: CoordinatorConfig, branch: BranchConfig, risk: RiskLevel, managerId: string): string | null {
  const manager = branch.managers.find((m) => m.id === managerId);
  if (!manager) {
    const elsewhere = config.branches.flatMap((b) => b.managers).find((m) => m.id === managerId);
    return `${elsewhere?.name ?? managerId} is not a manager at ${branch.name}.`;
  }
  const min = config.approvals.minRole[risk] ?? 'manager';
  if (ROLE_RANK[manager.role] >= ROLE_RANK[min]) return null;
  return `${manager.name} is ${manager.role === 'owner' ? 'an' : 'a'} ${manager.role} at ${branch.name}; ${risk}-risk requests there are decided by ${min === 'owner' ? 'an owner' : `a ${min} or above`} (approvals.minRole.${risk}).`;
}

/** The risks a learned rule can auto-approve (critical always waits for a person). */
export const LEARNABLE_RISKS: readonly RiskLevel[] = RISK_LEVELS.filter((risk) => risk !== 'critical');

/**
 * Who may accept or revoke a learned rule of `branchId`. A rule decides for
 * people, so it takes decision-level authority: the admin, or a manager who
 * may decide every risk the rule can auto-approve at that branch. One rule for
 * the REST API (`POST /api/approvals/rules/:id/accept|revoke`, the manager
 * token's subject) and the dashboard (the operator's linked manager); an
 * operator who is not a manager has none.
 *
 * @example mayManageRules(config, 'lisboa', { managerId: 'ana' })
 */
export function mayManageRules(config: CoordinatorConfig, branchId: string, who: { admin?: boolean; managerId?: string }): boolean {
  if (who.admin) return true;
  const branch = config.branches.find((b) => b.id === branchId);
  if (!branch || !who.managerId) return false;
  return LEARNABLE_RISKS.every((risk) => eligibleManagers(config, branch, risk).some((m) => m.id === who.managerId));
}

/** The time to live of a request at this risk; also the longest `expiresInSec` a request may ask for. */
export function ttlSec(config: CoordinatorConfig, risk: RiskLevel): number {
  return config.approvals.ttlSec[risk] ?? DEFAULT_TTL_SEC[risk];
}
