import type { Issue } from '../core/errors.js';
import { ESCALATION_OPS, MANAGER_ROLES, RISK_LEVELS, type BranchConfig, type CoordinatorConfig, type EscalationChain } from './config-schema.js';

/** Why a chain's target cannot be asked, or null: a role, `ops` once an ops chat exists, a manager id only in a branch's own chain. */
function targetProblem(config: CoordinatorConfig, target: string, branch?: BranchConfig): string | null {
  if ((MANAGER_ROLES as readonly string[]).includes(target)) return null;
  if (target === ESCALATION_OPS) return config.business.opsAlerts ? null : '"ops" asks the business\'s ops chat: configure business.opsAlerts first';
  if (!branch) return `'${target}' is not a role (${MANAGER_ROLES.join(', ')}) or "ops"; a manager id can only be named in a branch's own escalation`;
  return branch.managers.some((m) => m.id === target) ? null : `unknown manager '${target}' at branch '${branch.id}' (known: ${branch.managers.map((m) => m.id).join(', ') || 'none'})`;
}

/**
 * The escalation chains' cross-checks: every target can be asked, and a risk
 * is not given both a chain and the `escalateAfterSec` shorthand (which one
 * would win is not something to guess from a file).
 */
export function escalationIssues(config: CoordinatorConfig): Issue[] {
  const issues: Issue[] = [];
  const check = (chains: Partial<Record<string, EscalationChain>> | undefined, at: string, branch?: BranchConfig) => {
    for (const [key, chain] of Object.entries(chains ?? {})) {
      if (!chain) continue;
      const targets: Array<[string, string]> = [
        ...(chain.ask ?? []).map((t, i): [string, string] => [t, `${at}.${key}.ask[${i}]`]),
        ...chain.then.flatMap((step, s) => step.to.map((t, i): [string, string] => [t, `${at}.${key}.then[${s}].to[${i}]`])),
      ];
      for (const [target, path] of targets) {
        const problem = targetProblem(config, target, branch);
        if (problem) issues.push({ path, message: problem });
      }
    }
  };
  check(config.approvals.escalation, 'approvals.escalation');
  config.branches.forEach((branch, b) => check(branch.escalation, `branches[${b}].escalation`, branch));
  for (const risk of RISK_LEVELS) {
    if (config.approvals.escalateAfterSec[risk] !== undefined && config.approvals.escalation[risk]) {
      issues.push({ path: `approvals.escalateAfterSec.${risk}`, message: `give ${risk} risk one escalation: either escalateAfterSec.${risk} or escalation.${risk} (a chain; its step {afterSec: ${config.approvals.escalateAfterSec[risk]}, to: [owner]} is the same)` });
    }
  }
  return issues;
}
