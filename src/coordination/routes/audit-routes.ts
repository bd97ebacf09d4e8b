import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { CodedError, ErrorCode } from '../../core/errors.js';
import { parseQuery, textParam, wholeNumberParam } from '../http/middleware.js';
import type { Store } from '../../storage/store.js';
import { parseAuditHead, type AuditHead } from '../audit-anchor.js';
import type { AuditLog } from '../audit-log.js';

const HEAD_HELP = 'expected <seq>:<64 hex sha-256 hash>, as returned in "head" by GET /api/audit or /api/audit/verify';

/** `GET /api/audit` */
export const listAuditQuery = z.object({
  branchId: textParam().optional(),
  agentId: textParam().optional(),
  approvalId: textParam().optional(),
  since: textParam('expected an ISO-8601 time').refine((t) => !Number.isNaN(Date.parse(t)), 'expected an ISO-8601 time').optional().describe('Only events at or after this time (ISO-8601).'),
  limit: wholeNumberParam(1, 1000, 100).describe('At most this many, newest first.'),
  offset: wholeNumberParam(0, Number.MAX_SAFE_INTEGER, 0, `expected a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`),
});
/** `GET /api/audit/verify`: a head the caller kept, as `head=<seq>:<hash>` or as `seq` and `hash`. */
export const verifyAuditQuery = z.object({
  head: textParam(HEAD_HELP).optional().describe(`A head you kept: ${HEAD_HELP.replace('expected ', '')}.`),
  seq: textParam(HEAD_HELP).optional(),
  hash: textParam(HEAD_HELP).optional(),
});

/**
 * `GET /api/audit` (filters, paging; with the current `head`) and
 * `GET /api/audit/verify[?head=<seq>:<hash>]` (recomputes the chain and its
 * HMACs, and checks a head the caller kept and the one the coordinator wrote).
 */
export function auditRoutes(deps: { store: Store; audit: AuditLog; auth: RequestHandler }): Router {
  const router = Router();
  router.get('/api/audit/verify', deps.auth, async (req, res) => {
    const result = await deps.audit.verify({ head: knownHead(parseQuery(verifyAuditQuery, req.query, 'Invalid head')) });
    res.status(result.ok ? 200 : 409).json(result);
  });
  router.get('/api/audit', deps.auth, async (req, res) => {
    const q = parseQuery(listAuditQuery, req.query);
    const { limit, offset } = q;
    const where = {
      ...(q.branchId ? { branchId: String(q.branchId) } : {}),
      ...(q.agentId ? { agentId: String(q.agentId) } : {}),
      ...(q.approvalId ? { approvalId: String(q.approvalId) } : {}),
      ...(q.since ? { at: { gte: new Date(q.since).toISOString() } } : {}),
    };
    const [events, total, head] = await Promise.all([
      deps.store.auditEvents.find({ where, orderBy: { field: 'seq', direction: 'desc' }, limit, offset }),
      deps.store.auditEvents.count(where),
      deps.audit.head(),
    ]);
    res.json({ events: events.map(({ version: _v, ...e }) => e), total, limit, offset, head });
  });
  return router;
}

/** `?head=<seq>:<hash>` or `?seq=<n>&hash=<hex>`; a malformed one is a 400 naming the parameter. */
function knownHead(q: z.infer<typeof verifyAuditQuery>): AuditHead | undefined {
  if (q.head === undefined && q.seq === undefined && q.hash === undefined) return undefined;
  const text = q.head !== undefined ? q.head : `${String(q.seq)}:${String(q.hash)}`;
  const head = parseAuditHead(text);
  if (!head) {
    const path = q.head !== undefined ? 'head' : 'seq/hash';
    throw new CodedError(ErrorCode.Validation, 'Invalid head', { issues: [{ path, message: HEAD_HELP }] });
  }
  return head;
}
