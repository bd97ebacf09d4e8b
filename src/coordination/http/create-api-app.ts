import express, { type Express } from 'express';
import helmet from 'helmet';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from '../../config/logger.js';
import { CodedError, ErrorCode } from '../../core/errors.js';
import type { Metrics } from '../metrics.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { jsonDepthGuard } from './json-depth.js';
import { requestContext } from './middleware.js';
import type { Router } from 'express';

export interface ApiAppOptions {
  logger: Logger;
  metrics: Metrics;
  bodyLimit: string;
  rateLimitPerMin: number;
  /** Express "trust proxy": whose X-Forwarded-* headers are believed (TRUST_PROXY; default none). */
  trustProxy?: false | number | string[];
  routers: Router[];
  /** Mounted before the JSON body parser (for SDKs that verify signatures over the raw body). */
  rawRouters?: Router[];
}

/** The REST API as an Express app; the caller owns the HTTP server (so it can be mounted anywhere). */
export function createApiApp(options: ApiAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  app.use(
    requestContext(options.logger, (req, status, seconds) => {
      options.metrics.observeRequest(req.method, req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched', status, seconds);
    }),
  );
  app.use(helmet());
  app.use(
    rateLimit({
      windowMs: 60_000,
      limit: options.rateLimitPerMin,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      // X-Forwarded-For from a peer outside TRUST_PROXY is ignored on purpose (req.ip is the peer): no warning.
      validate: { xForwardedForHeader: false },
      skip: (req) => req.path === '/health' || req.path === '/ready',
      handler: (_req, _res, next) => next(new CodedError(ErrorCode.RateLimited, `Too many requests: at most ${options.rateLimitPerMin} a minute per client; retry after the Retry-After header`)),
    }),
  );
  for (const router of options.rawRouters ?? []) app.use(router);
  app.use(express.json({ limit: options.bodyLimit, verify: jsonDepthGuard() }));
  for (const router of options.routers) app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
