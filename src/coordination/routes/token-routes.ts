import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { idSchema } from '../../config/config-schema.js';
import type { Clock } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import { newToken, sha256 } from '../../core/ids.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import type { EventBus } from '../event-bus.js';
import { parseBody } from '../http/middleware.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import { mustBeFreeId } from '../agent-ids.js';
import { isPublicTokenId, publicTokenId, tokensByPublicId, tokenView, type TokenView } from '../token-ids.js';

export const tokenSchema = z.strictObject({
  role: z.enum(['manager', 'operator'], { message: 'expected "manager" (decides approvals as that manager) or "operator" (reads, maintenance, restarts)' }),
  subject: idSchema,
  label: z.string().max(100).optional(),
});

/**
 * Tokens (admin only):
 *
 * - `POST /api/tokens`: a bearer token for a manager (by their config id) or an
 *   operator; shown once, stored hashed, answered with its public `id`.
 * - `GET /api/tokens`: every token that authenticates — public id (the first
 *   12 hex characters of its SHA-256, never the secret), role, subject, label,
 *   scope, creation time — and the admin token, marked not revocable.
 * - `DELETE /api/tokens/:id`: revokes a stored token (manager, operator,
 *   runner or agent), audited as `token.revoked`; its live connections on
 *   `/agents` are closed at once (`token.revoked` on the bus). The admin token
 *   is rotated with ADMIN_TOKEN instead (409 here).
 */
export function tokenRoutes(deps: {
  store: Store;
  settings: RuntimeSettings;
  audit: AuditLog;
  clock: Clock;
  adminAuth: RequestHandler;
  /** Tells the socket gateway to close connections of a revoked token now (it also re-checks them every 30 s). */
  bus?: EventBus;
  /** The admin token in force, listed (not revocable). */
  admin?: { hash: string; source: string };
}): Router {
  const router = Router();

  router.post('/api/tokens', deps.adminAuth, async (req, res) => {
    const input = parseBody(tokenSchema, req.body);
    if (input.role === 'manager' && !deps.settings.config.branches.some((b) => b.managers.some((m) => m.id === input.subject))) {
      throw new ValidationError('Unknown manager', [{ path: 'subject', message: `no manager '${input.subject}' in the config file` }]);
    }
    // An operator's subject is its name in the audit trail: never the coordinator's, an agent's or a manager's.
    if (input.role === 'operator') await mustBeFreeId(input.subject, { store: deps.store, config: deps.settings.config }, 'operator', 'subject');
    const token = newToken(input.role === 'manager' ? 'mgr' : 'opr');
    const hash = sha256(token);
    await deps.store.apiTokens.insert({ id: hash, role: input.role, subject: input.subject, label: input.label, createdAt: isoNow(deps.clock) });
    await deps.audit.append({ type: 'token.created', actor: req.principal!.subject, data: { role: input.role, subject: input.subject, tokenId: publicTokenId(hash) } });
    res.status(201).json({ id: publicTokenId(hash), role: input.role, subject: input.subject, token, note: 'Store the token now: it is shown only once. Revoke it with DELETE /api/tokens/<id>.' });
  });

  router.get('/api/tokens', deps.adminAuth, async (_req, res) => {
    const stored = await deps.store.apiTokens.find({ orderBy: { field: 'createdAt' } });
    const tokens: TokenView[] = stored.map(tokenView);
    if (deps.admin) tokens.unshift({ id: publicTokenId(deps.admin.hash), role: 'admin', subject: 'admin', label: `admin token (${deps.admin.source === 'env' ? 'ADMIN_TOKEN' : 'generated'})`, revocable: false });
    res.json({ tokens });
  });

  router.delete('/api/tokens/:id', deps.adminAuth, async (req, res) => {
    const id = String(req.params.id);
    if (!isPublicTokenId(id)) {
      throw new ValidationError('Invalid token id', [{ path: 'id', message: 'expected the 12 lowercase hex characters GET /api/tokens shows as the token\'s id' }]);
    }
    if (deps.admin && publicTokenId(deps.admin.hash) === id) {
      throw new ConflictError('The admin token cannot be revoked over the API: rotate it by setting ADMIN_TOKEN to a new value and restarting the coordinator');
    }
    const matches = await tokensByPublicId(deps.store, id);
    if (matches.length === 0) throw new NotFoundError('Token', id);
    if (matches.length > 1) throw new ConflictError(`Token id '${id}' matches ${matches.length} tokens (a 48-bit collision); nothing was revoked`, { id });
    const record = matches[0]!;
    if (!(await deps.store.apiTokens.delete(record.id))) throw new NotFoundError('Token', id);
    await deps.audit.append({
      type: 'token.revoked',
      actor: req.principal!.subject,
      ...(record.role === 'agent' ? { agentId: record.subject } : {}),
      data: { tokenId: id, role: record.role, subject: record.subject, ...(record.label !== undefined ? { label: record.label } : {}), ...(record.scope ? { scope: record.scope } : {}) },
    });
    deps.bus?.emit('token.revoked', { tokenIds: [id], role: record.role, subject: record.subject, by: req.principal!.subject });
    res.status(204).end();
  });

  return router;
}
