import { Router, type RequestHandler } from 'express';
import type { ChannelRegistry } from '../../bots/channel-registry.js';
import { redact } from '../../config/redact.js';
import type { RuntimeSettings } from '../runtime-settings.js';

/** `GET /config` (secrets masked) and `PATCH /config` (admin; JSON merge patch of the runtime overrides). */
export function configRoutes(deps: { settings: RuntimeSettings; readAuth: RequestHandler; adminAuth: RequestHandler; configFile: { path: string; exists: boolean }; channels: ChannelRegistry }): Router {
  const router = Router();
  const view = () => {
    const { env, config } = deps.settings;
    return {
      server: { host: env.HOST, port: env.PORT, dashboardPort: env.DASHBOARD_PORT },
      storage: { dataDir: env.DATA_DIR, mongodb: env.MONGODB_URI ? 'configured' : 'not configured' },
      logging: { dir: env.LOG_DIR, level: env.LOG_LEVEL, retentionDays: env.LOG_RETENTION_DAYS },
      healthIntervalMs: env.HEALTH_INTERVAL_MS,
      // Each channel's variables (API bases): which ones it reads and their values, secrets masked.
      channels: deps.channels.list().map((f) => ({ channel: f.channel, label: f.label, env: redact(Object.fromEntries(Object.keys(f.env ?? {}).map((key) => [key, env[key] ?? null]))) })),
      configFile: deps.configFile,
      business: redact(config.business),
      defaults: config.defaults,
      branches: redact(config.branches),
      overrides: deps.settings.currentOverrides,
    };
  };
  router.get('/config', deps.readAuth, (_req, res) => {
    res.json(view());
  });
  router.patch('/config', deps.adminAuth, async (req, res) => {
    await deps.settings.patch(req.body, req.principal?.subject ?? 'unknown');
    res.json(view());
  });
  return router;
}
