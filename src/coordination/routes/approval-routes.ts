import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { idSchema, RISK_LEVELS } from '../../config/config-schema.js';
import { CodedError, ConflictError, ErrorCode, ValidationError, asCodedError } from '../../core/errors.js';
import type { OutboundPolicy } from '../approvals/outbound-guard.js';
import type { ApprovalRecord, ApprovalStatus } from '../../storage/records.js';
import type { Store } from '../../storage/store.js';
import type { ApprovalEngine, DecideResult } from '../approvals/approval-engine.js';
import type { EventBus } from '../event-bus.js';
import { parseBody, parseQuery, textParam, wholeNumberParam } from '../http/middleware.js';
import { approvalView, approvalViewFor, approvalWhere, mustSeeApproval, readScopeOf, seesBranch, type ReadScope } from '../read-scope.js';
import type { RuntimeSettings } from '../runtime-settings.js';

const STATUSES = ['pending', 'approved', 'rejected', 'expired', 'cancelled', 'executed', 'failed'] as const satisfies readonly ApprovalStatus[];
const MAX_WAIT_SEC = 60;

export const createApprovalSchema = z.strictObject({
  branchId: z.string({ message: 'expected the id of a configured branch' }).min(1).describe('The branch whose managers decide (an agent may ask only at its own branch).'),
  actionType: z.string({ message: 'expected an action type such as refund or crm.update' }).regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'expected lowercase letters, digits, ".", "_" or "-", e.g. refund or crm.update')
    .describe('What the action is, e.g. `refund`, `crm.update`, `message.send` (built in: the coordinator sends it once approved). Its words set the risk: see riskLevel.'),
  summary: z.string({ message: 'expected a one-line summary for the manager' }).trim().min(1).max(500).describe('One line the manager reads in chat before tapping approve: what, to whom, how much.'),
  details: z.unknown().refine((v) => v === undefined || JSON.stringify(v).length <= 10_000, { message: 'expected at most 10000 characters of details' })
    .optional()
    .describe('The exact payload you will act on (JSON, at most 10,000 characters): shown to the manager and hashed into `payloadHash`, so what was approved can be checked against what runs. For message.send: {contactId, text} or {chatId, text, channel?}.'),
  riskLevel: z
    .enum(RISK_LEVELS, { message: `expected one of ${RISK_LEVELS.join(', ')}` })
    .optional()
    .describe('May raise the action type\'s risk, never lower it. low: reads, status; medium: CRM, tasks, notices; high: e-mail, calendar, data changes (and unknown types); critical: payments, refunds, customer messages, deletions. Risk decides who may approve and whether the branch\'s autonomy may approve it without a person.'),
  teamId: idSchema.optional().describe('Only your own team (assigned by an admin): another team is refused with 403.'),
  expiresInSec: z.number().int().min(10, 'expected at least 10 seconds').max(30 * 86_400, 'expected at most 30 days').optional().describe('Seconds until an undecided request expires: may shorten the policy\'s time for its risk, not extend it (400 naming the maximum).'),
  callbackUrl: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional().describe('Where the decision is POSTed, signed with your callbackSecret (`x-coordinator-signature`). Public addresses only unless WEBHOOK_ALLOWLIST allows others.'),
  requiredApprovals: z.number().int().min(1).max(10).optional().describe('Distinct approvers needed (1-10, default 1); one rejection rejects.'),
});
export const decisionSchema = z.strictObject({
  decision: z.enum(['approve', 'reject'], { message: 'expected "approve" or "reject"' }),
  reason: z.string().trim().max(1000).optional(),
});
export const bulkSchema = decisionSchema.extend({ ids: z.array(z.string().min(1)).min(1, 'expected at least one id').max(200, 'expected at most 200 ids') });
export const resultSchema = z.strictObject({ success: z.boolean({ message: 'expected true or false' }), error: z.string().max(2000).optional(), result: z.unknown().optional() });

/** `GET /api/approvals` */
export const listApprovalsQuery = z.object({
  branchId: textParam('expected one branch id').optional().describe('Only this branch (within what the token may see).'),
  status: z.enum(STATUSES, { message: `expected one of ${STATUSES.join(', ')}` }).optional(),
  riskLevel: z
    .enum(RISK_LEVELS, { message: `expected one of ${RISK_LEVELS.join(', ')}` })
    .optional()
    .describe('May raise the action type\'s risk, never lower it. low: reads, status; medium: CRM, tasks, notices; high: e-mail, calendar, data changes (and unknown types); critical: payments, refunds, customer messages, deletions. Risk decides who may approve and whether the branch\'s autonomy may approve it without a person.'),
  limit: wholeNumberParam(1, 500, 50).describe('At most this many, newest first.'),
  offset: wholeNumberParam(0, Number.MAX_SAFE_INTEGER, 0, `expected a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`),
});
/** `GET /api/approvals/:id`: a long-poll of up to MAX_WAIT_SEC (longer waits are cut to it). */
export const getApprovalQuery = z.object({
  waitSec: z.coerce
    .number({ message: `expected 0-${MAX_WAIT_SEC} seconds` })
    .min(0, `expected 0-${MAX_WAIT_SEC} seconds`)
    .default(0)
    .describe(`Long-poll: answer as soon as the approval leaves pending, or after this many seconds with its state then (at most ${MAX_WAIT_SEC}; more is cut to ${MAX_WAIT_SEC}).`),
});

export { approvalView };

function tooLate(approval: ApprovalRecord): CodedError {
  const d = approval.decision;
  const who = d ? `${approval.status} by ${d.byName ?? d.by} via ${d.via} at ${d.at}` : approval.status;
  return new ConflictError(`Too late: approval ${approval.code} was already ${who}`, { approval: approvalView(approval) });
}

/**
 * `/api/approvals`: create, list, read (long-poll), decide, bulk, cancel,
 * result, learned rules. Every read is kept to the token's scope
 * (`read-scope.ts`: an agent sees only its own requests, a manager and a
 * runner their branches); outside it the answer is 404.
 */
export function approvalRoutes(deps: {
  engine: ApprovalEngine;
  store: Store;
  bus: EventBus;
  settings: RuntimeSettings;
  /** Who outbound calls may reach (WEBHOOK_ALLOWLIST): URLs given here are checked now, with the reason. */
  outbound: OutboundPolicy;
  anyAuth: RequestHandler;
  requesterAuth: RequestHandler;
  deciderAuth: RequestHandler;
  operatorAuth: RequestHandler;
}): Router {
  const router = Router();
  const { engine, store } = deps;
  const scopeOf = (req: Request): Promise<ReadScope> => readScopeOf(req.principal!, deps.settings.config, store);
  /** The approval named by id or code, if this caller may see it (404 otherwise: its existence is not revealed). */
  const visible = async (req: Request, scope: ReadScope): Promise<ApprovalRecord> => {
    const asked = String(req.params.id);
    return mustSeeApproval(scope, await engine.require(asked), asked);
  };

  router.post('/api/approvals', deps.requesterAuth, async (req, res) => {
    const key = req.get('idempotency-key');
    if (key !== undefined && (key.length === 0 || key.length > 200)) {
      throw new CodedError(ErrorCode.Validation, 'Invalid Idempotency-Key', { issues: [{ path: 'Idempotency-Key', message: 'expected 1-200 characters' }] });
    }
    const input = parseBody(createApprovalSchema, req.body);
    if (input.callbackUrl) {
      // Refused now with the reason, not found out at send time: webhooks never reach internal addresses unless WEBHOOK_ALLOWLIST says so.
      const why = await deps.outbound.check(input.callbackUrl);
      if (why) throw new ValidationError('Invalid callbackUrl', [{ path: 'callbackUrl', message: why }]);
    }
    const { approval, created } = await engine.create(input as Parameters<ApprovalEngine['create']>[0], req.principal!, key);
    res.status(created ? 201 : 200).json({ approval: approvalViewFor(await scopeOf(req), approval) });
  });

  router.get('/api/approvals/rules', deps.anyAuth, async (req, res) => {
    const scope = await scopeOf(req);
    res.json({ rules: (await engine.learned.list()).filter((r) => seesBranch(scope, r.branchId)) });
  });
  // Accepting a rule lets it approve for people: decision-level authority at its branch (policy.ts mayManageRules).
  for (const [action, status] of [['accept', 'active'], ['revoke', 'revoked']] as const) {
    router.post(`/api/approvals/rules/:id/${action}`, deps.anyAuth, async (req, res) => {
      const p = req.principal!;
      const scope = await scopeOf(req);
      const rule = await engine.learned.setStatusAs(String(req.params.id), status, {
        admin: p.role === 'admin',
        managerId: p.role === 'manager' ? p.subject : undefined,
        actor: p.subject,
        visible: (branchId) => seesBranch(scope, branchId),
      });
      res.json({ rule });
    });
  }

  router.get('/api/approvals', deps.anyAuth, async (req, res) => {
    const q = parseQuery(listApprovalsQuery, req.query);
    const { limit, offset } = q;
    const where = {
      ...approvalWhere(await scopeOf(req), q.branchId || undefined),
      ...(q.status ? { status: q.status } : {}),
      ...(q.riskLevel ? { riskLevel: q.riskLevel } : {}),
    };
    const [approvals, total] = await Promise.all([store.approvals.find({ where, orderBy: { field: 'createdAt', direction: 'desc' }, limit, offset }), store.approvals.count(where)]);
    const scope = await scopeOf(req);
    res.json({ approvals: approvals.map((a) => approvalViewFor(scope, a)), total, limit, offset });
  });

  // Long-poll: `?waitSec=N` answers as soon as the approval leaves `pending`, or with the current state after N s.
  router.get('/api/approvals/:id', deps.anyAuth, async (req, res) => {
    const scope = await scopeOf(req);
    let approval = await visible(req, scope);
    const { waitSec } = parseQuery(getApprovalQuery, req.query, 'Invalid waitSec');
    if (approval.status === 'pending' && waitSec > 0) {
      approval = await new Promise<ApprovalRecord>((resolve) => {
        const done = (a: ApprovalRecord) => {
          clearTimeout(timer);
          off();
          res.off('close', onClose);
          resolve(a);
        };
        const off = deps.bus.on('approval.updated', (a) => {
          if (a.id === approval.id && a.status !== 'pending') done(a);
        });
        const onClose = () => done(approval);
        const timer = setTimeout(() => {
          store.approvals.get(approval.id).then(
            (latest) => done(latest ?? approval),
            () => done(approval),
          );
        }, Math.min(waitSec, MAX_WAIT_SEC) * 1000);
        res.on('close', onClose);
      });
    }
    res.json({ approval: approvalViewFor(scope, approval) });
  });

  const decisionResponse = (result: DecideResult) => {
    if (result.outcome === 'too_late') throw tooLate(result.approval);
    return result.outcome === 'recorded' ? { status: 202, body: { approval: approvalView(result.approval), remaining: result.remaining } } : { status: 200, body: { approval: approvalView(result.approval) } };
  };

  router.post('/api/approvals/bulk', deps.deciderAuth, async (req, res) => {
    const input = parseBody(bulkSchema, req.body);
    const scope = await scopeOf(req);
    const results = [];
    for (const id of input.ids) {
      try {
        const r = await engine.decide({ approvalId: id, decision: input.decision, reason: input.reason, decider: { kind: 'principal', principal: req.principal! }, via: 'api', scope });
        results.push(r.outcome === 'too_late' ? { id, result: 'too_late', status: r.approval.status, error: tooLate(r.approval).message } : { id, result: r.outcome, status: r.approval.status });
      } catch (error) {
        const coded = asCodedError(error);
        results.push({ id, result: 'error', error: { code: coded.code, message: coded.message } });
      }
    }
    res.json({ results });
  });

  router.post('/api/approvals/:id/decision', deps.deciderAuth, async (req, res) => {
    const input = parseBody(decisionSchema, req.body);
    // Outside the token's scope the answer is an unknown id's (404, not audited); inside it, too low a role is a 403, audited.
    const result = await engine.decide({ approvalId: String(req.params.id), decision: input.decision, reason: input.reason, decider: { kind: 'principal', principal: req.principal! }, via: 'api', scope: await scopeOf(req) });
    const { status, body } = decisionResponse(result);
    res.status(status).json(body);
  });

  router.post('/api/approvals/:id/cancel', deps.requesterAuth, async (req, res) => {
    const scope = await scopeOf(req);
    const approval = await visible(req, scope);
    res.json({ approval: approvalViewFor(scope, await engine.cancel(approval.id, req.principal!)) });
  });

  router.post('/api/approvals/:id/result', deps.requesterAuth, async (req, res) => {
    const scope = await scopeOf(req);
    const approval = await visible(req, scope);
    const input = parseBody(resultSchema, req.body);
    res.json({ approval: approvalViewFor(scope, await engine.report(approval.id, req.principal!, input)) });
  });

  return router;
}
