import { ESCALATION_OPS, MANAGER_ROLES, type BranchConfig, type CoordinatorConfig, type EscalationChain, type ManagerConfig } from '../../config/config-schema.js';
import type { RiskLevel } from '../../storage/records.js';
import { eligibleManagers } from './policy.js';

/** The chain an approval follows, as stored on it when it is created (a later config change does not alter it). */
export interface ResolvedChain {
  ask?: string[];
  then: Array<{ afterSec: number; to: string[] }>;
  onTimeout: 'expire' | 'reject';
  /** Where it came from, for the audit and the README's "why was Ana asked". */
  source: string;
}

/** No chain configured: everyone who may decide is asked at once, and a request nobody decides expires. */
const NO_CHAIN: ResolvedChain = { then: [], onTimeout: 'expire', source: 'default (everyone who may decide, at once)' };

/**
 * The chain for a risk at a branch: the branch's own (its risk, then its
 * `default`), else the business's (`approvals.escalation`), else the
 * `escalateAfterSec` shorthand (the owners after that long), else none.
 * A chain is taken whole, never merged with another.
 */
export function resolveChain(config: CoordinatorConfig, branch: BranchConfig, risk: RiskLevel): ResolvedChain {
  const take = (chain: EscalationChain | undefined, source: string): ResolvedChain | undefined =>
    chain ? { ...(chain.ask ? { ask: chain.ask } : {}), then: chain.then, onTimeout: chain.onTimeout, source } : undefined;
  const own = branch.escalation;
  const business = config.approvals.escalation;
  const shorthand = config.approvals.escalateAfterSec[risk];
  return (
    take(own?.[risk], `branches.${branch.id}.escalation.${risk}`) ??
    take(own?.default, `branches.${branch.id}.escalation.default`) ??
    take(business[risk], `approvals.escalation.${risk}`) ??
    take(business.default, 'approvals.escalation.default') ??
    (shorthand ? { then: [{ afterSec: shorthand, to: ['owner'] }], onTimeout: 'expire', source: `approvals.escalateAfterSec.${risk}` } : NO_CHAIN)
  );
}

const isRole = (target: string): target is ManagerConfig['role'] => (MANAGER_ROLES as readonly string[]).includes(target);

/** Whether a target names this manager (by role or id). */
const names = (target: string, manager: ManagerConfig) => (isRole(target) ? manager.role === target : manager.id === target);

/**
 * Whom a list of targets asks at a branch: the managers it names who may
 * decide this risk (someone who could not decide is never asked), and the ops
 * chat when `ops` is named and configured.
 */
export function targetsOf(config: CoordinatorConfig, branch: BranchConfig, risk: RiskLevel, to: string[]): { managers: ManagerConfig[]; chats: Array<{ agentId: string; chatId: string }> } {
  const eligible = eligibleManagers(config, branch, risk);
  const managers = eligible.filter((m) => to.some((t) => names(t, m)));
  const ops = config.business.opsAlerts;
  return { managers, chats: to.includes(ESCALATION_OPS) && ops ? [{ agentId: ops.agent, chatId: ops.chat }] : [] };
}

/**
 * The first round: `ask` when the chain says it, else everyone who may decide
 * except the people a later step names (so "owners after 15 minutes" does not
 * ask the owners at once).
 */
export function firstRound(config: CoordinatorConfig, branch: BranchConfig, risk: RiskLevel, chain: ResolvedChain): ManagerConfig[] {
  if (chain.ask) return targetsOf(config, branch, risk, chain.ask).managers;
  const later = chain.then.flatMap((step) => step.to);
  return eligibleManagers(config, branch, risk).filter((m) => !later.some((t) => names(t, m)));
}
