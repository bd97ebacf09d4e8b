import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import type { Logger } from '../config/logger.js';
import type { Clock } from '../core/clock.js';
import { PROJECT_ROOT } from '../core/project-root.js';
import type { AgentHosts } from '../branches/agent-host.js';
import type { AgentRegistry } from '../coordination/agent-registry.js';
import type { ApprovalEngine } from '../coordination/approvals/approval-engine.js';
import type { AuditLog } from '../coordination/audit-log.js';
import type { EventBus } from '../coordination/event-bus.js';
import type { HealthMonitor } from '../coordination/health/health-monitor.js';
import { errorHandler, notFoundHandler } from '../coordination/http/error-handler.js';
import { jsonDepthGuard } from '../coordination/http/json-depth.js';
import { requestContext } from '../coordination/http/middleware.js';
import type { RuntimeSettings } from '../coordination/runtime-settings.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { Store } from '../storage/store.js';
import { DashboardActions } from './dashboard-actions.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { DashboardSocket, type DashboardConnections } from './dashboard-socket.js';
import { DashboardViews } from './dashboard-views.js';
import { OperatorDirectory } from './operator-directory.js';
import { compileProxyTrust, type TrustProxy } from './same-origin.js';
import { ensureSessionSecret, SessionManager } from './session-manager.js';
import { LiveMetrics } from './live-metrics.js';

/** Static files live in src/dashboard/public (served from there after a build too). */
export const PUBLIC_DIR = join(PROJECT_ROOT, 'src', 'dashboard', 'public');

/** The Content-Security-Policy: everything from this origin, no inline scripts or styles, nothing external. */
export const DASHBOARD_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export interface DashboardDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  bus: EventBus;
  audit: AuditLog;
  settings: RuntimeSettings;
  registry: AgentRegistry;
  approvals: ApprovalEngine;
  monitor: HealthMonitor;
  hosts: AgentHosts;
  /** SHA-256 of the admin token (it can sign in too, view-only for approvals). */
  adminTokenHash: string;
  apiUrl: () => string;
  /** Customer conversations: with it, operators can resolve a hand-off from the Activity panel. */
  conversations?: Pick<ConversationService, 'resolve'>;
  /** Refresh and poll periods of the live side (tests shorten them). */
  live?: { refreshMs?: number; auditPollMs?: number; sessionCheckMs?: number; coalesceMs?: number; connectTimeoutMs?: number };
  /** How long a sign-in lasts (default 12 h). */
  sessionTtlMs?: number;
  /** Failed logins allowed per address per 15 minutes. */
  loginAttempts?: number;
  /**
   * Whose `X-Forwarded-For/-Proto/-Host` headers are believed (TRUST_PROXY,
   * Express "trust proxy" semantics; default: nobody's). Anyone else's are
   * ignored: a local process cannot pick its own address for the sign-in limit.
   */
  trustProxy?: TrustProxy;
  /** Live connections kept at once, in total and per client address (SOCKET_MAX_CONNECTIONS, SOCKET_MAX_PER_ADDRESS). */
  socketLimits?: { maxConnections: number; maxPerAddress: number };
}

export interface Dashboard {
  app: Express;
  /** Attaches the authenticated Socket.IO server to the dashboard's HTTP server. */
  attach(server: HttpServer): Promise<void>;
  /** The live side's connections: open ones and refused handshakes per reason (for /metrics and tests). */
  connections(): DashboardConnections;
  close(): Promise<void>;
}

/**
 * The operator dashboard: login (operators from the config, or the admin
 * token), a session cookie, the static UI, the operator actions, and the live
 * Socket.IO side. It holds no business logic: it reads the store and calls the
 * engine, registry and monitor like the REST API does.
 */
export async function createDashboard(deps: DashboardDeps): Promise<Dashboard> {
  const sessions = new SessionManager(await ensureSessionSecret(deps.store, deps.clock), deps.clock, deps.sessionTtlMs, deps.store);
  const operators = new OperatorDirectory({ settings: deps.settings, adminTokenHash: deps.adminTokenHash });
  // The Activity panel's numbers move with events instead of being read from the store at each change.
  const live = new LiveMetrics({ store: deps.store, clock: deps.clock, bus: deps.bus });
  const views = new DashboardViews({ store: deps.store, clock: deps.clock, settings: deps.settings, registry: deps.registry, approvals: deps.approvals, canResolve: Boolean(deps.conversations), live });
  const actions = new DashboardActions({ approvals: deps.approvals, registry: deps.registry, monitor: deps.monitor, hosts: deps.hosts, audit: deps.audit, operators, conversations: deps.conversations });
  const trust = compileProxyTrust(deps.trustProxy);
  const socket = new DashboardSocket({ views, sessions, operators, bus: deps.bus, logger: deps.logger, trust, limits: deps.socketLimits, ...deps.live });
  warnAboutUnlinkedOperators(deps);

  const app = express();
  app.disable('x-powered-by');
  // Only a configured proxy's X-Forwarded-For (the sign-in limit's key) and -Proto (a Secure cookie) are believed.
  app.set('trust proxy', deps.trustProxy ?? false);
  app.use(requestContext(deps.logger));
  app.use(helmet({ contentSecurityPolicy: { useDefaults: false, directives: DASHBOARD_CSP }, crossOriginEmbedderPolicy: false }));
  app.use(express.json({ limit: '64kb', verify: jsonDepthGuard() }));
  app.get('/api-url', (_req, res) => {
    res.json({ apiUrl: deps.apiUrl() });
  });
  app.use(dashboardRoutes({ sessions, operators, views, actions, audit: deps.audit, onLogout: (s) => socket.disconnectSession(s), loginAttempts: deps.loginAttempts, trust }));
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: '5m' }));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return {
    app,
    attach: (server) => socket.attach(server),
    connections: () => socket.connections(),
    close: () => {
      live.stop();
      return socket.close();
    },
  };
}

function warnAboutUnlinkedOperators(deps: DashboardDeps): void {
  const managers = new Set(deps.settings.config.branches.flatMap((b) => b.managers.map((m) => m.id)));
  for (const op of deps.settings.config.operators) {
    if (op.manager && !managers.has(op.manager)) {
      deps.logger.warn(`dashboard operator '${op.username}' is linked to manager '${op.manager}', which no branch has: it can view but not decide`, { module: 'dashboard' });
    }
  }
}
