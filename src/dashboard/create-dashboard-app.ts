import express, { type Express } from 'express';
import helmet from 'helmet';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../core/project-root.js';

/** Static files live in src/dashboard/public (served from there after a build too). */
export const PUBLIC_DIR = join(PROJECT_ROOT, 'src', 'dashboard', 'public');

/** The operator dashboard's HTTP side (placeholder page until the dashboard issue lands). */
export function createDashboardApp(options: { apiUrl: () => string }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(helmet({ contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"] } } }));
  app.get('/api-url', (_req, res) => {
    res.json({ apiUrl: options.apiUrl() });
  });
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: '1h' }));
  return app;
}
