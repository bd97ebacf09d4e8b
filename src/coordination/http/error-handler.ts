import type { ErrorRequestHandler, RequestHandler } from 'express';
import { CodedError, ErrorCode, asCodedError } from '../../core/errors.js';

/** The one place error codes become HTTP statuses. */
const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.Validation]: 400,
  [ErrorCode.Config]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.StoreUnavailable]: 503,
  [ErrorCode.DataDirLocked]: 503,
  [ErrorCode.DeliveryFailed]: 502,
  [ErrorCode.Internal]: 500,
};

export function statusFor(error: CodedError): number {
  return STATUS[error.code] ?? 500;
}

/** Body-parser failures carry a `type`; turn them into coded errors. */
function fromBodyParser(error: unknown): CodedError | null {
  const type = (error as { type?: string })?.type;
  if (type === 'entity.too.large') {
    const limit = (error as { limit?: number }).limit;
    return new CodedError(ErrorCode.PayloadTooLarge, `Request body is larger than the limit${limit ? ` of ${limit} bytes` : ''}`);
  }
  if (type === 'entity.parse.failed') return new CodedError(ErrorCode.Validation, 'Request body is not valid JSON', { issues: [{ path: '', message: 'invalid JSON' }] });
  if (type === 'entity.too.deep') {
    const limit = (error as { limit?: number }).limit;
    return new CodedError(ErrorCode.Validation, (error as Error).message, { issues: [{ path: '', message: `expected JSON nested at most ${limit} levels deep` }] });
  }
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    const message = error instanceof Error && /UTF-8/.test(error.message) ? error.message : 'Unsupported body encoding';
    return new CodedError(ErrorCode.Validation, message, { issues: [{ path: 'Content-Type', message: 'expected UTF-8 JSON' }] });
  }
  return null;
}

/** Codes for the 4xx statuses Express and its parsers raise themselves (http-errors: `status`/`statusCode`). */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  429: ErrorCode.RateLimited,
};

/**
 * A client error raised by Express or a parser rather than by our code, e.g. the
 * router's "Failed to decode param '%E0%A4%A'" (status 400): the request's fault,
 * so a 4xx with a code, never a 500.
 */
function fromHttpError(error: unknown): CodedError | null {
  if (!(error instanceof Error) || error instanceof CodedError) return null;
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return null;
  const code = CODE_OF_STATUS[status] ?? ErrorCode.Validation;
  const message = /^Failed to decode param/.test(error.message) ? 'Malformed URL: a path segment is not valid percent-encoded UTF-8' : error.message;
  return new CodedError(code, message, code === ErrorCode.Validation ? { issues: [{ path: '', message }] } : undefined);
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new CodedError(ErrorCode.NotFound, `No route for ${req.method} ${req.path}`));
};

/** Answers `{error: {code, message, details?}}`; 5xx are logged with the request's logger. */
export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const coded = fromBodyParser(error) ?? fromHttpError(error) ?? asCodedError(error);
  const status = statusFor(coded);
  if (status >= 500) req.log?.error('request failed', { error: coded.cause ?? coded, code: coded.code });
  if (res.headersSent) return;
  res.status(status).json({ error: { code: coded.code, message: coded.message, ...(coded.details !== undefined ? { details: coded.details } : {}) } });
};
