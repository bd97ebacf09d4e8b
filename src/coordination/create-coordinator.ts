import type { Express } from 'express';
import type { LoadedConfig } from '../config/config-file.js';
import type { Env } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import type { Clock } from '../core/clock.js';
import { VERSION } from '../core/project-root.js';
import type { Store } from '../storage/store.js';
import { createDashboardApp } from '../dashboard/create-dashboard-app.js';
import { createAuthenticator, ensureAdminToken, type AdminTokenInfo } from './auth.js';
import { syncConfigAgents } from './config-agents.js';
import { EventBus } from './event-bus.js';
import { createApiApp } from './http/create-api-app.js';
import { requireAuth } from './http/middleware.js';
import { createMetrics } from './metrics.js';
import { configRoutes } from './routes/config-routes.js';
import { systemRoutes } from './routes/system-routes.js';
import { RuntimeSettings } from './runtime-settings.js';

export interface CoordinatorDeps {
  env: Env;
  config: LoadedConfig;
  store: Store;
  logger: Logger;
  clock: Clock;
}

export interface Coordinator {
  api: Express;
  dashboard: Express;
  bus: EventBus;
  settings: RuntimeSettings;
  adminToken: AdminTokenInfo;
  /** Set by whoever listens, so the dashboard can link to the API. */
  apiUrl: string;
  stop(): Promise<void>;
}

/**
 * The composition root: everything is built from its dependencies here, and
 * nothing below imports a global logger, store or client.
 */
export async function createCoordinator(deps: CoordinatorDeps): Promise<Coordinator> {
  const { env, store, logger, clock } = deps;
  const bus = new EventBus(logger);
  const settings = new RuntimeSettings({ env, config: deps.config.config }, { store, logger, bus, clock });
  await settings.load();
  const adminToken = await ensureAdminToken({ envToken: env.ADMIN_TOKEN, store, dataDir: env.DATA_DIR, clock });
  await syncConfigAgents(settings.config, store, clock);

  const authenticate = createAuthenticator(store, adminToken.hash);
  const anyRole = requireAuth(authenticate, ['operator', 'manager', 'agent', 'runner']);
  const metrics = createMetrics(store);
  const api = createApiApp({
    logger,
    metrics,
    bodyLimit: env.BODY_LIMIT,
    rateLimitPerMin: env.RATE_LIMIT_PER_MIN,
    routers: [
      systemRoutes({ store, settings, metrics, startedAt: clock.now(), version: VERSION, auth: anyRole }),
      configRoutes({
        settings,
        readAuth: requireAuth(authenticate, ['operator']),
        adminAuth: requireAuth(authenticate, []),
        configFile: { path: deps.config.path, exists: deps.config.exists },
      }),
    ],
  });
  const coordinator: Coordinator = {
    api,
    dashboard: createDashboardApp({ apiUrl: () => coordinator.apiUrl }),
    bus,
    settings,
    adminToken,
    apiUrl: '',
    async stop() {
      // Modules with timers or connections stop here (health monitor, bots) as they land.
    },
  };
  return coordinator;
}
