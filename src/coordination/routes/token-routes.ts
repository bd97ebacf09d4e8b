import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { idSchema } from '../../config/config-schema.js';
import type { Clock } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { ValidationError } from '../../core/errors.js';
import { newToken, sha256 } from '../../core/ids.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import { parseBody } from '../http/middleware.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import { mustBeFreeId } from '../agent-ids.js';

const tokenSchema = z.strictObject({
  role: z.enum(['manager', 'operator'], { message: 'expected "manager" (decides approvals as that manager) or "operator" (reads, maintenance, restarts)' }),
  subject: idSchema,
  label: z.string().max(100).optional(),
});

/** `POST /api/tokens` (admin): a bearer token for a manager (by their config id) or an operator; shown once, stored hashed. */
export function tokenRoutes(deps: { store: Store; settings: RuntimeSettings; audit: AuditLog; clock: Clock; adminAuth: RequestHandler }): Router {
  const router = Router();
  router.post('/api/tokens', deps.adminAuth, async (req, res) => {
    const input = parseBody(tokenSchema, req.body);
    if (input.role === 'manager' && !deps.settings.config.branches.some((b) => b.managers.some((m) => m.id === input.subject))) {
      throw new ValidationError('Unknown manager', [{ path: 'subject', message: `no manager '${input.subject}' in the config file` }]);
    }
    // An operator's subject is its name in the audit trail: never the coordinator's, an agent's or a manager's.
    if (input.role === 'operator') await mustBeFreeId(input.subject, { store: deps.store, config: deps.settings.config }, 'operator', 'subject');
    const token = newToken(input.role === 'manager' ? 'mgr' : 'opr');
    await deps.store.apiTokens.insert({ id: sha256(token), role: input.role, subject: input.subject, label: input.label, createdAt: isoNow(deps.clock) });
    await deps.audit.append({ type: 'token.created', actor: req.principal!.subject, data: { role: input.role, subject: input.subject } });
    res.status(201).json({ role: input.role, subject: input.subject, token, note: 'Store the token now: it is shown only once.' });
  });
  return router;
}
