import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../../config/logger.js';
import { CodedError, ErrorCode, ValidationError } from '../../core/errors.js';
import type { PrincipalRole } from '../../storage/records.js';
import type { Authenticator } from '../auth.js';
import { z } from 'zod';
import { zodIssues } from '../../config/zod-issues.js';
import './express-types.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Honours a sane `x-request-id`, else makes one; gives the request a child logger and logs it when done. */
export function requestContext(logger: Logger, onDone?: (req: Parameters<RequestHandler>[0], status: number, seconds: number) => void): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', req.id);
    req.log = logger.child({ module: 'http', requestId: req.id });
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      onDone?.(req, res.statusCode, seconds);
      req.log.http(`${req.method} ${req.originalUrl} ${res.statusCode} ${(seconds * 1000).toFixed(1)}ms`, {
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round(seconds * 1000 * 10) / 10,
        principal: req.principal?.subject,
      });
    });
    next();
  };
}

/** Requires a bearer token; with `roles`, also one of those roles (admin always passes). */
export function requireAuth(authenticate: Authenticator, roles?: PrincipalRole[]): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    // RFC 6750 §3: a 401 says which scheme it wants (HTTP clients, MCP clients among them, read it).
    if (!match) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="coordinator"');
      return next(new CodedError(ErrorCode.Unauthorized, 'Missing bearer token: send "Authorization: Bearer <token>"'));
    }
    const principal = await authenticate(match[1]);
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="coordinator", error="invalid_token"');
      return next(new CodedError(ErrorCode.Unauthorized, 'Invalid or revoked token'));
    }
    req.principal = principal;
    if (roles && principal.role !== 'admin' && !roles.includes(principal.role)) {
      return next(new CodedError(ErrorCode.Forbidden, `This needs one of the roles: admin${roles.length ? ', ' + roles.join(', ') : ''} (your token is ${principal.role})`));
    }
    next();
  };
}

/** Parses `req.body` with a zod schema; a failure is a 400 naming each field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ValidationError('Request body is invalid', zodIssues(parsed.error));
  return parsed.data;
}

/**
 * Parses `req.query` with a zod schema (the one the OpenAPI document describes the parameters
 * from); a failure is a 400 with `message` and one issue per parameter and problem.
 */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown, message = 'Invalid filter'): z.infer<T> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  // Several checks of one parameter may fail at once (a fraction is neither whole nor in range): said once.
  const seen = new Set<string>();
  const issues = zodIssues(parsed.error).filter((i) => !seen.has(`${i.path}\n${i.message}`) && Boolean(seen.add(`${i.path}\n${i.message}`)));
  throw new ValidationError(message, issues);
}

/** Query parameters: a whole number in `[min, max]` (default `fallback`), saying the range when it is not. */
export function wholeNumberParam(min: number, max: number, fallback: number, message = `expected ${min}-${max}`) {
  return z.coerce.number({ message }).int({ message }).min(min, { message }).max(max, { message }).default(fallback);
}

/** A query parameter given once, as text (a repeated one is an array, refused). */
export const textParam = (message = 'expected one value') => z.string({ message });
