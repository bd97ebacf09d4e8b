import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { idSchema } from '../../config/config-schema.js';
import type { Clock } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { ValidationError } from '../../core/errors.js';
import { newToken, sha256 } from '../../core/ids.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import { mustBeFreeId } from '../agent-ids.js';
import { publicTokenId } from '../token-ids.js';

export const runnerSchema = z.strictObject({
  name: idSchema,
  branches: z.array(idSchema, { message: 'expected the ids of the branches this runner hosts' }).min(1, 'expected at least one branch'),
});

/** `POST /api/runners` (admin): a token for a runner process, scoped to branches with `host: remote`; answered with its public `tokenId` (GET/DELETE /api/tokens). */
export function runnerRoutes(deps: { store: Store; settings: RuntimeSettings; audit: AuditLog; clock: Clock; adminAuth: RequestHandler; parse: <T extends z.ZodType>(s: T, b: unknown) => z.infer<T> }): Router {
  const router = Router();
  router.post('/api/runners', deps.adminAuth, async (req, res) => {
    const input = deps.parse(runnerSchema, req.body);
    const branches = new Map(deps.settings.config.branches.map((b) => [b.id, b]));
    const issues = input.branches.flatMap((id, i) => {
      const b = branches.get(id);
      if (!b) return [{ path: `branches[${i}]`, message: `unknown branch '${id}'` }];
      if (b.host !== 'remote') return [{ path: `branches[${i}]`, message: `branch '${id}' runs in the coordinator; set "host: remote" on it in the config file first` }];
      return [];
    });
    if (issues.length > 0) throw new ValidationError('Invalid runner', issues);
    // The runner's name is its subject in the audit trail and on the socket: not the coordinator's, an agent's or a manager's.
    await mustBeFreeId(input.name, { store: deps.store, config: deps.settings.config }, 'runner', 'name');
    const token = newToken('run');
    const hash = sha256(token);
    await deps.store.apiTokens.insert({ id: hash, role: 'runner', subject: input.name, scope: input.branches, createdAt: isoNow(deps.clock), label: `runner ${input.name}` });
    await deps.audit.append({ type: 'runner.token-created', actor: req.principal!.subject, data: { ...input, tokenId: publicTokenId(hash) } });
    res.status(201).json({
      runner: input.name,
      branches: input.branches,
      tokenId: publicTokenId(hash),
      token,
      note: 'Store the token now: it is shown only once. Start the runner with COORDINATOR_URL and RUNNER_TOKEN; revoke it with DELETE /api/tokens/<tokenId>.',
    });
  });
  return router;
}
