/**
 * Errors carry a code (like Bolt's ErrorCode): callers branch on `code`, never on
 * message text. The REST layer maps codes to HTTP statuses in one place
 * (`src/coordination/http/error-handler.ts`).
 */
export const ErrorCode = {
  Validation: 'validation_failed',
  Config: 'config_invalid',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  Conflict: 'conflict',
  PayloadTooLarge: 'payload_too_large',
  RateLimited: 'rate_limited',
  StoreUnavailable: 'store_unavailable',
  DataDirLocked: 'data_dir_locked',
  /** A chat platform did not take a message we had to send. */
  DeliveryFailed: 'delivery_failed',
  Internal: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One problem in an input, named by its path (`branches[0].agents[1].token`). */
export interface Issue {
  path: string;
  message: string;
}

export class CodedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CodedError';
  }
}

/** A request or file whose content breaks the schema; `details` lists every issue. */
export class ValidationError extends CodedError {
  constructor(
    message: string,
    readonly issues: Issue[],
  ) {
    super(ErrorCode.Validation, message, { issues });
    this.name = 'ValidationError';
  }
}

/** Start-up configuration is wrong; the message has one line per problem. */
export class ConfigError extends CodedError {
  constructor(readonly issues: Issue[]) {
    super(ErrorCode.Config, formatIssues('Configuration is invalid', issues), { issues });
    this.name = 'ConfigError';
  }
}

export class NotFoundError extends CodedError {
  constructor(what: string, id: string) {
    super(ErrorCode.NotFound, `${what} '${id}' was not found`, { id });
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends CodedError {
  constructor(message: string, details?: unknown) {
    super(ErrorCode.Conflict, message, details);
    this.name = 'ConflictError';
  }
}

export function formatIssues(title: string, issues: Issue[]): string {
  return [`${title}:`, ...issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`)].join('\n');
}

/** Wraps anything thrown into a CodedError, keeping the original as `cause`. */
export function asCodedError(error: unknown): CodedError {
  if (error instanceof CodedError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CodedError(ErrorCode.Internal, message, undefined, { cause: error });
}
