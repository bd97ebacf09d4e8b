import { Router, type CookieOptions, type Request, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { CodedError, ErrorCode } from '../core/errors.js';
import type { AuditLog } from '../coordination/audit-log.js';
import { parseBody } from '../coordination/http/middleware.js';
import { actorOf, type DashboardActions } from './dashboard-actions.js';
import type { DashboardViews } from './dashboard-views.js';
import type { OperatorDirectory } from './operator-directory.js';
import { isSameOrigin, type ProxyTrust } from './same-origin.js';
import { readCookie, SESSION_COOKIE, type DashboardUser, type Session, type SessionManager } from './session-manager.js';

const loginSchema = z.union([
  z.strictObject({ username: z.string().trim().min(1).max(64), password: z.string().min(1).max(1024) }),
  z.strictObject({ token: z.string().min(16).max(512) }),
]);
const decisionSchema = z.strictObject({
  decision: z.enum(['approve', 'reject'], { message: 'expected "approve" or "reject"' }),
  reason: z.string().trim().max(1000).optional(),
});
const bulkSchema = decisionSchema.extend({ ids: z.array(z.string().min(1).max(64)).min(1, 'expected at least one id').max(200, 'expected at most 200 ids') });
const maintenanceSchema = z.strictObject({ enabled: z.boolean({ message: 'expected true or false' }) });
const emptySchema = z.strictObject({});

/** Express request with the dashboard's session and user (set by `requireSession`). */
interface SessionRequest extends Request {
  dashboardSession?: Session;
  dashboardUser?: DashboardUser;
}

export interface DashboardRouteDeps {
  sessions: SessionManager;
  operators: OperatorDirectory;
  views: DashboardViews;
  actions: DashboardActions;
  audit: AuditLog;
  /** Called on logout so that session's live connections are closed too. */
  onLogout: (session: Session) => void;
  /** Failed logins allowed per client address per 15 minutes (default 10). */
  loginAttempts?: number;
  /** Which peers' X-Forwarded-Host is believed when checking the Origin (the app's "trust proxy"). */
  trust: ProxyTrust;
}

/**
 * State-changing requests must be JSON with `X-Requested-With: dashboard` and,
 * from a browser, come from the dashboard's own origin; with SameSite=Strict
 * cookies, that stops cross-site (and cross-port, same-site) forgery.
 */
const requireJsonFrom =
  (trust: ProxyTrust): RequestHandler =>
  (req, _res, next) => {
    if (!req.is('application/json') || req.get('x-requested-with') !== 'dashboard' || !isSameOrigin(req, trust)) {
      return next(new CodedError(ErrorCode.Forbidden, 'State-changing dashboard requests must be JSON and carry "X-Requested-With: dashboard"'));
    }
    next();
  };

/** Login, logout, who am I, and the operator actions. */
export function dashboardRoutes(deps: DashboardRouteDeps): Router {
  const router = Router();
  const requireJson = requireJsonFrom(deps.trust);
  const cookieOptions = (req: Request): CookieOptions => ({ httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });

  const requireSession: RequestHandler = async (req: SessionRequest, _res, next) => {
    const session = await deps.sessions.verify(readCookie(req.get('cookie'), SESSION_COOKIE));
    const user = session && deps.operators.resolve(session);
    if (!session || !user) return next(new CodedError(ErrorCode.Unauthorized, 'Not signed in (or the session expired): log in again'));
    req.dashboardSession = session;
    req.dashboardUser = user;
    next();
  };
  const userOf = (req: SessionRequest) => req.dashboardUser!;

  const loginLimiter = rateLimit({
    windowMs: 15 * 60_000,
    limit: deps.loginAttempts ?? 10,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // The key is req.ip: X-Forwarded-For counts only from TRUST_PROXY peers; from anyone else it is ignored on purpose (no warning).
    validate: { xForwardedForHeader: false },
    handler: (_req, _res, next) => next(new CodedError(ErrorCode.RateLimited, 'Too many failed logins from this address; wait 15 minutes and try again')),
  });

  router.post('/login', loginLimiter, requireJson, async (req, res) => {
    const input = parseBody(loginSchema, req.body);
    const signedIn = 'token' in input ? deps.operators.loginWithToken(input.token) : await deps.operators.login(input.username, input.password);
    const who = 'token' in input ? 'admin token' : input.username.toLowerCase();
    if (!signedIn) {
      await deps.audit.append({ type: 'dashboard.login-failed', actor: `dashboard:${who}`, data: { ip: req.ip } });
      throw new CodedError(ErrorCode.Unauthorized, 'Wrong username or password');
    }
    const { user } = signedIn;
    const { cookie, session } = deps.sessions.issue(user, signedIn.credential);
    await deps.audit.append({ type: 'dashboard.login', actor: actorOf(user), data: { ip: req.ip } });
    res.cookie(SESSION_COOKIE, cookie, { ...cookieOptions(req), maxAge: session.exp - Date.now() });
    res.json({ user: deps.operators.view(user) });
  });

  router.post('/logout', requireJson, requireSession, async (req: SessionRequest, res) => {
    await deps.sessions.revoke(req.dashboardSession!);
    deps.onLogout(req.dashboardSession!);
    await deps.audit.append({ type: 'dashboard.logout', actor: actorOf(userOf(req)) });
    res.clearCookie(SESSION_COOKIE, cookieOptions(req));
    res.json({ ok: true });
  });

  router.get('/api/me', requireSession, (req: SessionRequest, res) => {
    res.json({ user: deps.operators.view(userOf(req)) });
  });

  router.get('/api/snapshot', requireSession, async (_req, res) => {
    res.json(await deps.views.snapshot());
  });

  router.post('/api/approvals/bulk', requireJson, requireSession, async (req: SessionRequest, res) => {
    const input = parseBody(bulkSchema, req.body);
    res.json({ results: await deps.actions.bulk(userOf(req), input.ids, input) });
  });

  router.post('/api/approvals/:id/decision', requireJson, requireSession, async (req: SessionRequest, res) => {
    const input = parseBody(decisionSchema, req.body);
    const result = await deps.actions.decide(userOf(req), String(req.params.id), input);
    if (result.outcome === 'too_late') {
      const d = result.approval.decision;
      throw new CodedError(ErrorCode.Conflict, `Too late: already ${result.approval.status}${d ? ` by ${d.byName ?? d.by} via ${d.via}` : ''}`, { approval: deps.views.approvalView(result.approval) });
    }
    res.status(result.outcome === 'recorded' ? 202 : 200).json({ approval: deps.views.approvalView(result.approval) });
  });

  router.post('/api/agents/:id/maintenance', requireJson, requireSession, async (req: SessionRequest, res) => {
    const { enabled } = parseBody(maintenanceSchema, req.body);
    const agent = await deps.actions.maintenance(userOf(req), String(req.params.id), enabled);
    res.json({ agent: agent ? await deps.views.agent(agent.id) : null });
  });

  router.post('/api/agents/:id/restart', requireJson, requireSession, async (req: SessionRequest, res) => {
    parseBody(emptySchema, req.body);
    await deps.actions.restart(userOf(req), String(req.params.id));
    res.json({ agent: await deps.views.agent(String(req.params.id)) });
  });

  router.get('/api/conversations/:id/messages', requireSession, async (req, res) => {
    res.json({ messages: await deps.views.messages(String(req.params.id)) });
  });

  router.post('/api/conversations/:id/resolve', requireJson, requireSession, async (req: SessionRequest, res) => {
    parseBody(emptySchema, req.body);
    res.json({ conversation: await deps.views.conversation(await deps.actions.resolveConversation(userOf(req), (await deps.views.conversationRecord(String(req.params.id))).contactId)) });
  });

  for (const action of ['accept', 'revoke'] as const) {
    router.post(`/api/rules/:id/${action}`, requireJson, requireSession, async (req: SessionRequest, res) => {
      parseBody(emptySchema, req.body);
      res.json({ rule: await deps.actions.rule(userOf(req), String(req.params.id), action) });
    });
  }
  return router;
}
