import type { AgentHosts } from '../branches/agent-host.js';
import { CodedError, ErrorCode, NotFoundError, asCodedError } from '../core/errors.js';
import type { AgentRegistry } from '../coordination/agent-registry.js';
import type { ApprovalEngine, DecideResult } from '../coordination/approvals/approval-engine.js';
import type { AuditLog } from '../coordination/audit-log.js';
import type { HealthMonitor } from '../coordination/health/health-monitor.js';
import type { Principal } from '../coordination/auth.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { OperatorDirectory } from './operator-directory.js';
import type { DashboardUser } from './session-manager.js';

export interface DecisionInput {
  decision: 'approve' | 'reject';
  reason?: string;
}

export type DecisionOutcome = { id: string; result: DecideResult['outcome'] | 'error'; status?: string; error?: { code: string; message: string } };

/** The audit actor for something an operator did on the dashboard. */
export const actorOf = (user: DashboardUser) => `dashboard:${user.username}`;

/**
 * What an operator can do from the dashboard, each through the same module
 * call the REST API makes: decisions through the approval engine (as the
 * operator's linked manager, `via: 'dashboard'`), maintenance through the
 * health monitor, restarts through the agent registry, learned rules through the
 * engine's rules. Every action is audited (by those modules, or here).
 */
export class DashboardActions {
  constructor(
    private readonly deps: {
      approvals: ApprovalEngine;
      registry: AgentRegistry;
      monitor: HealthMonitor;
      hosts: AgentHosts;
      audit: AuditLog;
      operators: Pick<OperatorDirectory, 'mayManageRules'>;
      conversations?: Pick<ConversationService, 'resolve'>;
    },
  ) {}

  /** The engine's decider for this user: only operators linked to a manager decide (as that manager). */
  private principal(user: DashboardUser): Principal {
    if (!user.managerId) {
      throw new CodedError(
        ErrorCode.Forbidden,
        user.kind === 'admin' ? 'The admin token cannot decide approvals from the dashboard; sign in as an operator linked to a manager' : `Operator '${user.username}' is not linked to a manager, so cannot decide approvals`,
      );
    }
    return { role: 'manager', subject: user.managerId };
  }

  async decide(user: DashboardUser, approvalId: string, input: DecisionInput): Promise<DecideResult> {
    if (!user.managerId) {
      const approval = await this.deps.approvals.require(approvalId);
      await this.deps.audit.append({ type: 'approval.refused', actor: actorOf(user), branchId: approval.branchId, approvalId: approval.id, data: { reason: 'dashboard user not linked to a manager', via: 'dashboard' } });
    }
    const principal = this.principal(user);
    return this.deps.approvals.decide({ approvalId, decision: input.decision, reason: input.reason, decider: { kind: 'principal', principal }, via: 'dashboard' });
  }

  /** Decides each id in turn; one failure does not stop the others. */
  async bulk(user: DashboardUser, ids: string[], input: DecisionInput): Promise<DecisionOutcome[]> {
    this.principal(user);
    const results: DecisionOutcome[] = [];
    for (const id of ids) {
      try {
        const r = await this.decide(user, id, input);
        results.push({ id, result: r.outcome, status: r.approval.status });
      } catch (error) {
        const coded = asCodedError(error);
        results.push({ id, result: 'error', error: { code: coded.code, message: coded.message } });
      }
    }
    return results;
  }

  async maintenance(user: DashboardUser, agentId: string, enabled: boolean) {
    await this.deps.registry.require(agentId);
    return this.deps.monitor.setMaintenance(agentId, enabled, actorOf(user));
  }

  /** The registry's restart, as `POST /api/agents/:id/restart` uses it. */
  async restart(user: DashboardUser, agentId: string): Promise<void> {
    await this.deps.registry.restart(agentId, actorOf(user));
  }

  /** Gives a handed-off customer back to the bot (ConversationService.resolve: staff thread told, audited). */
  async resolveConversation(user: DashboardUser, contactId: string) {
    if (!this.deps.conversations) throw new CodedError(ErrorCode.Conflict, 'Resolving conversations is not available on this dashboard');
    return this.deps.conversations.resolve(contactId, `${user.name} (dashboard)`);
  }

  /** Accepts or revokes a learned rule: only users with decision-level authority at its branch (refusals are audited). */
  async rule(user: DashboardUser, ruleId: string, action: 'accept' | 'revoke') {
    const rule = (await this.deps.approvals.learned.list()).find((r) => r.id === ruleId);
    if (!rule) throw new NotFoundError('Learned rule', ruleId);
    if (!this.deps.operators.mayManageRules(user, rule.branchId)) {
      await this.deps.audit.append({ type: 'approval.rule-refused', actor: actorOf(user), branchId: rule.branchId, data: { id: ruleId, action, reason: 'not an approver of this branch', via: 'dashboard' } });
      throw new CodedError(ErrorCode.Forbidden, `${user.name} may not ${action} learned rules of branch '${rule.branchId}': only an operator linked to one of its managers (who may decide its approvals) can`);
    }
    return this.deps.approvals.learned.setStatus(ruleId, action === 'accept' ? 'active' : 'revoked', actorOf(user));
  }
}
