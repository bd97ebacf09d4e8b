import { Router, type RequestHandler } from 'express';
import { CodedError, ErrorCode } from '../../core/errors.js';
import type { Store } from '../../storage/store.js';
import { parseAuditHead, type AuditHead } from '../audit-anchor.js';
import type { AuditLog } from '../audit-log.js';

/**
 * `GET /api/audit` (filters, paging; with the current `head`) and
 * `GET /api/audit/verify[?head=<seq>:<hash>]` (recomputes the chain and its
 * HMACs, and checks a head the caller kept and the one the coordinator wrote).
 */
export function auditRoutes(deps: { store: Store; audit: AuditLog; auth: RequestHandler }): Router {
  const router = Router();
  router.get('/api/audit/verify', deps.auth, async (req, res) => {
    const result = await deps.audit.verify({ head: knownHead(req.query) });
    res.status(result.ok ? 200 : 409).json(result);
  });
  router.get('/api/audit', deps.auth, async (req, res) => {
    const q = req.query;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    const offset = q.offset === undefined ? 0 : Number(q.offset);
    const issues = [];
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) issues.push({ path: 'limit', message: 'expected 1-1000' });
    if (!Number.isSafeInteger(offset) || offset < 0) issues.push({ path: 'offset', message: `expected a whole number from 0 to ${Number.MAX_SAFE_INTEGER}` });
    if (q.since !== undefined && Number.isNaN(Date.parse(String(q.since)))) issues.push({ path: 'since', message: 'expected an ISO-8601 time' });
    if (issues.length > 0) throw new CodedError(ErrorCode.Validation, 'Invalid filter', { issues });
    const where = {
      ...(q.branchId ? { branchId: String(q.branchId) } : {}),
      ...(q.agentId ? { agentId: String(q.agentId) } : {}),
      ...(q.approvalId ? { approvalId: String(q.approvalId) } : {}),
      ...(q.since ? { at: { gte: new Date(String(q.since)).toISOString() } } : {}),
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
function knownHead(q: Record<string, unknown>): AuditHead | undefined {
  if (q.head === undefined && q.seq === undefined && q.hash === undefined) return undefined;
  const text = q.head !== undefined ? q.head : `${String(q.seq)}:${String(q.hash)}`;
  const head = typeof text === 'string' ? parseAuditHead(text) : undefined;
  if (!head) {
    const path = q.head !== undefined ? 'head' : 'seq/hash';
    throw new CodedError(ErrorCode.Validation, 'Invalid head', { issues: [{ path, message: 'expected <seq>:<64 hex sha-256 hash>, as returned in "head" by GET /api/audit or /api/audit/verify' }] });
  }
  return head;
}
