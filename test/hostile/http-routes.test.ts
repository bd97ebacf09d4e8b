import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { bodyArb, nastyString, queryArb, segmentArb } from './arbitraries.js';
import { hostileWorld, LISBOA_SCOPED, PASSWORDS, PORTO_MARKER, TOKENS, type HostileWorld, type Role } from './hostile-setup.js';
import { rawRequest, type RawResponse } from './raw-request.js';
import { routeTable, type RouteEntry } from './route-table.js';
import { auditHead, auditSince, changedCollections, REFUSAL_AUDIT, settle, storeDigest } from './store-digest.js';

/**
 * The hostile-input suite for every HTTP route of both ports, driven from the
 * apps' own router tables. For each generated request: no 5xx (a 502 for a
 * chat platform that did not take a message is the one documented exception),
 * every error is the JSON error shape with a code, a refused request changes
 * no stored state (it may only audit its refusal), and nothing a lisboa
 * credential reads carries porto's data.
 */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 20);

/** Known-good bodies per route, mutated field by field so validation beyond the first check is reached. */
const SEEDS: Record<string, Record<string, unknown>> = {
  'POST /api/approvals': { branchId: 'lisboa', actionType: 'crm.update', summary: 'Update a contact' },
  'POST /api/approvals/:id/decision': { decision: 'approve' },
  'POST /api/approvals/bulk': { ids: ['x'], decision: 'reject', reason: 'no' },
  'POST /api/approvals/:id/result': { success: true },
  'POST /api/agents': { branchId: 'lisboa' },
  'POST /api/agents/:id/maintenance': { enabled: true },
  'PATCH /config': { healthIntervalMs: 30000 },
  'POST /api/tokens': { role: 'operator', subject: 'x' },
  'POST /api/runners': { name: 'r', branches: ['porto'] },
  'POST /api/contacts/:id/reply': { text: 'hello' },
  'PATCH /api/contacts/:id': { name: 'x' },
  'POST /login': { username: 'olga', password: 'x' },
};

function expectHandled(route: RouteEntry, res: RawResponse): void {
  const where = `${route.method} ${route.path} -> ${res.status} ${res.text.slice(0, 300)}`;
  const json = (() => {
    try {
      return JSON.parse(res.text) as { jsonrpc?: unknown; error?: { code?: unknown; message?: unknown } };
    } catch {
      return undefined;
    }
  })();
  if (res.status === 502) expect({ where, code: json?.error?.code }).toEqual({ where, code: 'delivery_failed' });
  else expect({ where, serverError: res.status >= 500 }).toEqual({ where, serverError: false });
  if (res.status >= 400) {
    expect({ where, type: String(res.headers['content-type']).split(';')[0] }).toEqual({ where, type: 'application/json' });
    // The MCP endpoint's own refusals (past our auth) are JSON-RPC errors, as MCP clients read them: a numeric code.
    const rpc = route.path.startsWith('/mcp') && json?.jsonrpc === '2.0';
    expect({ where, code: typeof json?.error?.code, message: typeof json?.error?.message }).toEqual({ where, code: rpc ? 'number' : 'string', message: 'string' });
  }
}

function fillPath(route: RouteEntry, segments: string[], tail: string): string {
  let i = 0;
  return route.path.replace(/:[A-Za-z]+/g, () => segments[i++ % segments.length]).replace(/\/\*$/, tail);
}

async function check(w: HostileWorld, route: RouteEntry, base: string, req: { method: string; path: string; headers: Record<string, string>; body?: string }, role: string): Promise<RawResponse> {
  const store = w.t.running.store;
  const before = await storeDigest(store);
  const seq = await auditHead(store);
  const res = await rawRequest(base, req);
  expectHandled(route, res);
  const where = `${req.method} ${req.path} as ${role} -> ${res.status}`;
  if (res.status >= 400) {
    expect({ where, changed: changedCollections(before, await storeDigest(store)) }).toEqual({ where, changed: [] });
    const added = (await auditSince(store, seq)).map((e) => e.type).filter((type) => !REFUSAL_AUDIT.test(type));
    expect({ where, audited: added }).toEqual({ where, audited: [] });
  } else await settle(store);
  if ((LISBOA_SCOPED as string[]).includes(role) && res.status < 300) expect({ where, leaked: res.text.includes(PORTO_MARKER) }).toEqual({ where, leaked: false });
  return res;
}

describe('hostile input: every HTTP route of the API port', () => {
  let w: HostileWorld;
  beforeAll(async () => {
    w = await hostileWorld();
  });
  afterAll(async () => {
    await w.t.close();
  });

  it('reads its routes from the app (so new routes are covered)', () => {
    const routes = routeTable(w.t.running.coordinator.api);
    expect(routes.length).toBeGreaterThan(30);
    expect(routes).toContainEqual({ method: 'POST', path: '/api/approvals/:id/decision' });
    expect(routes).toContainEqual({ method: 'POST', path: '/webhooks/telegram/:agentId' });
  });

  const roles: Array<Role | 'none' | 'garbage'> = ['none', 'garbage', 'agentA', 'agentA', 'agentB', 'managerAna', 'managerAna', 'managerCarla', 'operator', 'runnerB', 'admin'];
  const authArb = fc.constantFrom(...roles);

  it.each(['api'])('no 5xx, JSON errors, refusals change nothing, no cross-branch reads (%s)', async () => {
    const routes = routeTable(w.t.running.coordinator.api);
    const failures: string[] = [];
    for (const route of routes) {
      const method = route.method === 'ALL' ? fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') : fc.constant(route.method);
      const result = await fc.check(
        fc.asyncProperty(
          method,
          fc.array(segmentArb(w.ids), { minLength: 1, maxLength: 3 }),
          fc.constantFrom('', '/', '/x', '/%E0%A4%A', '/../..'),
          fc.option(queryArb, { nil: undefined }),
          authArb,
          bodyArb(SEEDS[`${route.method} ${route.path}`]),
          fc.option(nastyString, { nil: undefined }),
          async (m, segments, tail, query, role, body, idemKey) => {
            const headers: Record<string, string> = {};
            if (role === 'garbage') headers.authorization = 'Bearer %E0%A4%A not-a-token';
            else if (role !== 'none') headers.authorization = `Bearer ${TOKENS[role]}`;
            if (body.type) headers['content-type'] = body.type;
            if (idemKey !== undefined && /^[\x20-\x7e]*$/.test(idemKey)) headers['idempotency-key'] = idemKey;
            const path = fillPath(route, segments, tail) + (query ? `?${query}` : '');
            await check(w, route, w.t.url, { method: m, path, headers, body: m === 'GET' ? undefined : body.text }, role);
          },
        ),
        { numRuns: RUNS },
      );
      if (result.failed) failures.push(`${route.method} ${route.path}: ${String((result.errorInstance as Error | undefined)?.message ?? "failed").split('\n').filter((l) => /where|Received|\+ /.test(l)).join(' ').slice(0, 400)}\n    counterexample: ${JSON.stringify(result.counterexample).slice(0, 400)}`);
    }
    expect(failures).toEqual([]);
    expect((await w.t.call('/health', { token: null })).status).toBe(200);
  }, 600_000);
});

describe('hostile input: every HTTP route of the dashboard port', () => {
  let w: HostileWorld;
  const cookies: Record<string, string> = {};
  beforeAll(async () => {
    w = await hostileWorld();
    const base = w.t.running.dashboard.url;
    for (const [who, body] of [
      ['olga', { username: 'olga', password: PASSWORDS.olga }],
      ['viewer', { username: 'viewer', password: PASSWORDS.viewer }],
      ['admin', { token: TOKENS.admin }],
    ] as const) {
      const res = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard' }, body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`login as ${who} failed: ${res.status}`);
      cookies[who] = (res.headers.get('set-cookie') ?? '').split(';')[0];
    }
  });
  afterAll(async () => {
    await w.t.close();
  });

  it('no 5xx, JSON errors, refusals change nothing', async () => {
    const base = w.t.running.dashboard.url;
    const host = new URL(base).host;
    const routes = routeTable(w.t.running.coordinator.dashboard.app);
    expect(routes).toContainEqual({ method: 'POST', path: '/login' });
    const failures: string[] = [];
    for (const route of routes) {
      // A valid session on /logout would end the session the other runs use; logout is tested on its own.
      const who = route.path === '/logout' ? fc.constantFrom('none', 'garbage') : fc.constantFrom('none', 'garbage', 'olga', 'olga', 'viewer', 'admin');
      const result = await fc.check(
        fc.asyncProperty(
          who,
          fc.array(segmentArb(w.ids), { minLength: 1, maxLength: 2 }),
          fc.option(queryArb, { nil: undefined }),
          bodyArb(SEEDS[`${route.method} ${route.path}`]),
          fc.boolean(),
          fc.constantFrom(undefined, `http://${host}`, 'http://evil.example', 'null', '%E0%A4%A'),
          fc.constantFrom('coord_session=%E0%A4%A', 'coord_session=', 'coord_session=a.b.c', '%E0%A4%A=1; coord_session=%', 'coord_session=eyJ9.x'),
          async (user, segments, query, body, marked, origin, badCookie) => {
            const headers: Record<string, string> = {};
            if (user === 'garbage') headers.cookie = badCookie;
            else if (user !== 'none') headers.cookie = cookies[user];
            if (marked) headers['x-requested-with'] = 'dashboard';
            if (origin) headers.origin = origin;
            if (body.type) headers['content-type'] = body.type;
            const path = fillPath(route, segments, '') + (query ? `?${query}` : '');
            await check(w, route, base, { method: route.method, path, headers, body: route.method === 'GET' ? undefined : body.text }, `dashboard:${user}`);
          },
        ),
        { numRuns: RUNS },
      );
      if (result.failed) failures.push(`${route.method} ${route.path}: ${String((result.errorInstance as Error | undefined)?.message ?? "failed").split('\n').filter((l) => /where|Received|\+ /.test(l)).join(' ').slice(0, 400)}\n    counterexample: ${JSON.stringify(result.counterexample).slice(0, 400)}`);
    }
    expect(failures).toEqual([]);
    expect((await fetch(`${base}/api-url`)).status).toBe(200);
  }, 600_000);
});
