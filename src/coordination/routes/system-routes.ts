import { Router } from 'express';
import type { Store } from '../../storage/store.js';
import type { Metrics } from '../metrics.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import type { RequestHandler } from 'express';
import { readScopeOf } from '../read-scope.js';
import type { StatusView } from '../status-view.js';

/** Liveness, readiness, metrics and the coordination overview. */
export function systemRoutes(deps: { store: Store; settings: RuntimeSettings; metrics: Metrics; startedAt: number; version: string; auth: RequestHandler; status: StatusView }): Router {
  const router = Router();
  const { store, settings } = deps;

  // Liveness: the process answers. No auth, no I/O.
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok', version: deps.version, uptimeSec: Math.round((Date.now() - deps.startedAt) / 1000) });
  });

  // Readiness: the store can take writes. No auth (for load balancers and process managers); no secrets in it.
  router.get('/ready', (_req, res) => {
    const state = store.state();
    res.status(state.ready ? 200 : 503).json({
      ready: state.ready,
      storage: { backend: state.backend, fallback: state.fallback, pendingSync: state.pendingSync ?? 0, detail: state.detail },
    });
  });

  router.get('/metrics', deps.auth, async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // Kept to the token's branches (read-scope.ts); agents of branches no longer configured only for operators and the admin.
  // Served from memory until an agent, a check, the config or the store's state changes (status-view.ts), with an ETag.
  router.get('/coordination/status', deps.auth, async (req, res) => {
    const scope = await readScopeOf(req.principal!, settings.config, store);
    const body = await deps.status.body(scope);
    res.set('ETag', body.etag);
    res.type('json');
    if (matchesETag(req.get('if-none-match'), body.etag)) {
      res.status(304).end();
      return;
    }
    res.send(body.json);
  });

  return router;
}

/**
 * `If-None-Match` (RFC 9110 §13.1.2: a list of tags, weak ones matching too, or `*`) against our
 * tag. Not Express's `req.fresh`: that refuses any request with `Cache-Control: no-cache`, which
 * fetch adds to every conditional request, so a poller using fetch never got its 304, though
 * validating with the origin is exactly what `no-cache` asks for.
 */
export function matchesETag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const tag = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const candidate = t.trim();
    return candidate === '*' || candidate.replace(/^W\//, '') === tag;
  });
}
