import type { CoordinatorConfig } from '../config/config-schema.js';
import { NotFoundError } from '../core/errors.js';
import type { ApprovalRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import type { Principal } from './auth.js';

/**
 * What a token may read, worked out once per request from its role:
 *
 * - `all` — the admin and operator tokens (they watch the whole business);
 * - `branches` — a manager token (the branches where it is a manager) and a
 *   runner token (the branches it hosts);
 * - `agent` — an action agent: the agents and status of its own branch, and
 *   **only its own approval requests** (another agent's request, even at the
 *   same branch, carries that agent's callback URL, idempotency key and
 *   details, which it has no need for).
 *
 * Anything outside the scope answers 404, as if it did not exist, so a token
 * cannot probe for other branches' ids or codes.
 */
export type ReadScope =
  | { kind: 'all' }
  | { kind: 'branches'; role: 'manager' | 'runner'; branches: string[] }
  | { kind: 'agent'; agentId: string; branches: string[] };

/** The read scope of a principal under the config in force (an agent's branch comes from the store). */
export async function readScopeOf(principal: Principal, config: CoordinatorConfig, store: Store): Promise<ReadScope> {
  switch (principal.role) {
    case 'admin':
    case 'operator':
      return { kind: 'all' };
    case 'manager':
      return { kind: 'branches', role: 'manager', branches: config.branches.filter((b) => b.managers.some((m) => m.id === principal.subject)).map((b) => b.id) };
    case 'runner':
      return { kind: 'branches', role: 'runner', branches: [...(principal.scope ?? [])] };
    case 'agent': {
      const agent = await store.agents.get(principal.subject);
      return { kind: 'agent', agentId: principal.subject, branches: agent ? [agent.branchId] : [] };
    }
  }
}

/** Whether the scope covers a branch. */
export function seesBranch(scope: ReadScope, branchId: string): boolean {
  return scope.kind === 'all' || scope.branches.includes(branchId);
}

/** Whether the scope covers an approval (an agent: only its own requests). */
export function seesApproval(scope: ReadScope, approval: ApprovalRecord): boolean {
  if (scope.kind === 'agent') return approval.requesterId === scope.agentId;
  return seesBranch(scope, approval.branchId);
}

/** The store filter that keeps a listing inside the scope, with an optional `branchId` asked for (404 outside the scope). */
export function branchWhere(scope: ReadScope, branchId: string | undefined): { branchId?: string | { in: string[] } } {
  if (branchId !== undefined && !seesBranch(scope, branchId)) throw new NotFoundError('branch', branchId);
  if (branchId !== undefined) return { branchId };
  return scope.kind === 'all' ? {} : { branchId: { in: scope.branches } };
}

/** As `branchWhere`, and for an agent only its own requests. */
export function approvalWhere(scope: ReadScope, branchId: string | undefined): { branchId?: string | { in: string[] }; requesterId?: string } {
  const where = branchWhere(scope, branchId);
  return scope.kind === 'agent' ? { ...where, requesterId: scope.agentId } : where;
}

/** The approval, or a 404 naming what was asked for when the scope does not cover it. */
export function mustSeeApproval(scope: ReadScope, approval: ApprovalRecord, asked: string): ApprovalRecord {
  if (!seesApproval(scope, approval)) throw new NotFoundError('Approval', asked);
  return approval;
}

/** What the API shows of an approval to staff (everything but the request hash). */
export function approvalView(a: ApprovalRecord) {
  const { requestHash: _hash, ...rest } = a;
  return rest;
}

/**
 * What the requester (and a runner) sees of an approval: where the prompt
 * went by channel and outcome, but not the managers' chat ids, message ids or
 * which bot carried it — those identify people the agent has no business
 * contacting. Used for the REST answers, the requester's socket push and the
 * signed webhook alike.
 */
export function requesterApprovalView(a: ApprovalRecord) {
  const view = approvalView(a);
  return {
    ...view,
    deliveries: a.deliveries.map((d) => ({ channel: d.channel, status: d.status, at: d.at, ...(d.tier ? { tier: d.tier } : {}) })),
    // How many are still to be reached and why, not who.
    ...(a.unreached ? { unreached: a.unreached.map((u) => ({ tier: u.tier, state: u.state, since: u.since })) } : {}),
    // Where the escalation stands and when each step was taken, with how many were asked, not whom.
    ...(a.escalation
      ? {
          escalation: {
            dueAt: a.escalation.dueAt,
            ...(a.escalation.done !== undefined ? { done: a.escalation.done } : {}),
            ...(a.escalation.next !== undefined ? { next: a.escalation.next } : {}),
            ...(a.escalation.history ? { history: a.escalation.history.map((h) => ({ step: h.step, at: h.at, asked: h.asked.length, ...(h.chats ? { chats: h.chats } : {}) })) } : {}),
          },
        }
      : {}),
  };
}

/** The view for a scope: staff see every field; an agent its own request without chat ids; a runner neither chat ids nor the requester's callback and key. */
export function approvalViewFor(scope: ReadScope, a: ApprovalRecord) {
  if (scope.kind === 'all' || (scope.kind === 'branches' && scope.role === 'manager')) return approvalView(a);
  const view = requesterApprovalView(a);
  if (scope.kind === 'agent') return view;
  const { callbackUrl: _url, idempotencyKey: _key, ...rest } = view;
  return rest;
}
