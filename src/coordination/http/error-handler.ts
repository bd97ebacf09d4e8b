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
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new CodedError(ErrorCode.Validation, 'Unsupported body encoding');
  return null;
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new CodedError(ErrorCode.NotFound, `No route for ${req.method} ${req.path}`));
};

/** Answers `{error: {code, message, details?}}`; 5xx are logged with the request's logger. */
export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const coded = fromBodyParser(error) ?? asCodedError(error);
  const status = statusFor(coded);
  if (status >= 500) req.log?.error('request failed', { error: coded.cause ?? coded, code: coded.code });
  if (res.headersSent) return;
  res.status(status).json({ error: { code: coded.code, message: coded.message, ...(coded.details !== undefined ? { details: coded.details } : {}) } });
};
