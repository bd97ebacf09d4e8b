import { Router, type RequestHandler } from 'express';
import { CodedError, ErrorCode } from '../../core/errors.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';

/** `GET /api/audit` (filters, paging) and `GET /api/audit/verify` (recomputes the hash chain). */
export function auditRoutes(deps: { store: Store; audit: AuditLog; auth: RequestHandler }): Router {
  const router = Router();
  router.get('/api/audit/verify', deps.auth, async (_req, res) => {
    const result = await deps.audit.verify();
    res.status(result.ok ? 200 : 409).json(result);
  });
  router.get('/api/audit', deps.auth, async (req, res) => {
    const q = req.query;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    const offset = q.offset === undefined ? 0 : Number(q.offset);
    const issues = [];
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) issues.push({ path: 'limit', message: 'expected 1-1000' });
    if (!Number.isInteger(offset) || offset < 0) issues.push({ path: 'offset', message: 'expected a whole number >= 0' });
    if (q.since !== undefined && Number.isNaN(Date.parse(String(q.since)))) issues.push({ path: 'since', message: 'expected an ISO-8601 time' });
    if (issues.length > 0) throw new CodedError(ErrorCode.Validation, 'Invalid filter', { issues });
    const where = {
      ...(q.branchId ? { branchId: String(q.branchId) } : {}),
      ...(q.agentId ? { agentId: String(q.agentId) } : {}),
      ...(q.approvalId ? { approvalId: String(q.approvalId) } : {}),
      ...(q.since ? { at: { gte: new Date(String(q.since)).toISOString() } } : {}),
    };
    const [events, total] = await Promise.all([deps.store.auditEvents.find({ where, orderBy: { field: 'seq', direction: 'desc' }, limit, offset }), deps.store.auditEvents.count(where)]);
    res.json({ events: events.map(({ version: _v, ...e }) => e), total, limit, offset });
  });
  return router;
}
