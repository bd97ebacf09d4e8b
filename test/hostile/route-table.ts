import type { Express } from 'express';

/** One route an Express app answers, as its router table holds it. */
export interface RouteEntry {
  /** Express path pattern, e.g. `/api/approvals/:id/decision`; a `use()` mount ends in `/*`. */
  path: string;
  /** Upper-case method; `ALL` for a mounted handler (any method). */
  method: string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  rawPath?: string;
  handle?: { stack?: Layer[] };
  name?: string;
}

/** Middleware every request passes through (not routes). */
const PLUMBING = new Set(['query', 'expressInit', 'jsonParser', 'urlencodedParser', 'serveStatic', 'helmetMiddleware', 'rateLimit', 'requestContext', 'notFoundHandler', 'errorHandler']);

/**
 * Every route of an Express 5 app, read from its router table (nested routers
 * and `use()` mounts included). The hostile-input suite is driven from this, so
 * a route added later is fuzzed without anyone listing it.
 */
export function routeTable(app: Express): RouteEntry[] {
  const out: RouteEntry[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      const base = layer.rawPath && layer.rawPath !== '/' ? prefix + layer.rawPath : prefix;
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) for (const m of Object.keys(layer.route.methods)) out.push({ path: prefix + p, method: m === '_all' ? 'ALL' : m.toUpperCase() });
      } else if (layer.handle?.stack) walk(layer.handle.stack, base);
      else if (layer.rawPath && layer.rawPath !== '/' && !PLUMBING.has(layer.name ?? '')) out.push({ path: `${base}/*`, method: 'ALL' });
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  const seen = new Set<string>();
  return out.filter((r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`));
}
