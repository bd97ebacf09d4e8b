import type { Approval } from './types.js';

/** One problem in a request, named by its path (`summary`, `details.contactId`, `Idempotency-Key`). */
export interface Issue {
  path: string;
  message: string;
}

/**
 * Everything the client throws for a failed call (except an abort, which
 * rejects with the signal's reason as `fetch` does). Branch on the class or
 * on `code`, never on the message.
 *
 * - `status`: the HTTP status, or 0 when no answer came (network, timeout, wait deadline).
 * - `code`: the server's error code (`validation_failed`, `not_found`, ...) or the client's own
 *   (`network_error`, `timeout`, `wait_timeout`, `invalid_response`, `http_<status>` for an answer without a code).
 * - `requestId`: the answer's `x-request-id`, to find the request in the coordinator's logs.
 */
export class CoordinatorError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  readonly requestId?: string;

  constructor(message: string, init: { status: number; code: string; details?: unknown; requestId?: string; cause?: unknown }) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    if (init.details !== undefined) this.details = init.details;
    if (init.requestId !== undefined) this.requestId = init.requestId;
  }
}

type HttpErrorInit = ConstructorParameters<typeof CoordinatorError>[1];

/** 400: the request breaks the schema; `issues` names every field. */
export class ValidationError extends CoordinatorError {
  get issues(): Issue[] {
    const issues = (this.details as { issues?: unknown } | undefined)?.issues;
    return Array.isArray(issues) ? (issues as Issue[]) : [];
  }
}

/** 401: no token, or one the coordinator does not know (revoked, mistyped). */
export class UnauthorizedError extends CoordinatorError {}

/** 403: the token may not do this (another branch, another agent's heartbeat, a manager below `minRole`...). */
export class ForbiddenError extends CoordinatorError {}

/** 404: unknown id or code — or one outside the token's scope, which answers exactly the same. */
export class NotFoundError extends CoordinatorError {}

/**
 * 409: the state does not allow it. A decision that came too late carries the
 * approval as decided (`approval`: who, how, when); an Idempotency-Key reused
 * with another body carries `details.approvalId`.
 */
export class ConflictError extends CoordinatorError {
  get approval(): Approval | undefined {
    const approval = (this.details as { approval?: unknown } | undefined)?.approval;
    return approval && typeof approval === 'object' ? (approval as Approval) : undefined;
  }
}

/** 429: too many requests; `retryAfterSec` from the Retry-After header when it had one. */
export class RateLimitedError extends CoordinatorError {
  readonly retryAfterSec?: number;

  constructor(message: string, init: HttpErrorInit & { retryAfterSec?: number }) {
    super(message, init);
    if (init.retryAfterSec !== undefined) this.retryAfterSec = init.retryAfterSec;
  }
}

/** 502 `delivery_failed`: a chat platform did not take a message the coordinator had to send. */
export class ChatPlatformError extends CoordinatorError {}

/** 503: the coordinator's store does not take writes right now (retry later). */
export class StoreUnavailableError extends CoordinatorError {}

/** No answer: the connection failed or dropped (`cause` is what `fetch` threw). */
export class NetworkError extends CoordinatorError {
  constructor(message: string, cause: unknown) {
    super(message, { status: 0, code: 'network_error', cause });
  }
}

/** No answer within the call's time limit (`timeoutMs`, or a long-poll's wait plus 10 s). */
export class TimeoutError extends CoordinatorError {
  constructor(message: string) {
    super(message, { status: 0, code: 'timeout' });
  }
}

/** `waitForDecision` reached `timeoutSec` with the approval still pending; `approval` is its last state seen (if any answer came). */
export class WaitTimeoutError extends CoordinatorError {
  readonly approval?: Approval;

  constructor(message: string, approval: Approval | undefined) {
    super(message, { status: 0, code: 'wait_timeout' });
    if (approval) this.approval = approval;
  }
}

const BY_CODE: Record<string, new (message: string, init: HttpErrorInit) => CoordinatorError> = {
  validation_failed: ValidationError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  not_found: NotFoundError,
  conflict: ConflictError,
  store_unavailable: StoreUnavailableError,
  data_dir_locked: StoreUnavailableError,
  delivery_failed: ChatPlatformError,
};
// Without a code (a proxy's answer, say), the unambiguous statuses; a bare 502 is not taken for a chat platform's.
const BY_STATUS: Record<number, new (message: string, init: HttpErrorInit) => CoordinatorError> = {
  400: ValidationError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  503: StoreUnavailableError,
};

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), if it has a usable one. */
export function retryAfterSec(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The typed error for a non-2xx answer whose body is `{error: {code, message, details?}}` (or anything else). */
export function errorFromResponse(status: number, body: unknown, headers: Headers): CoordinatorError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : undefined;
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
  const init: HttpErrorInit = { status, code: code ?? `http_${status}`, details: error?.details, requestId: headers.get('x-request-id') ?? undefined };
  if (status === 429 || code === 'rate_limited') return new RateLimitedError(message, { ...init, retryAfterSec: retryAfterSec(headers.get('retry-after')) });
  const Class = (code !== undefined ? BY_CODE[code] : undefined) ?? (code === undefined ? BY_STATUS[status] : undefined) ?? CoordinatorError;
  return new Class(message, init);
}

/** Worth trying again: no answer, a time-out, a 5xx or a 429. */
export function isRetryable(error: unknown): boolean {
  return error instanceof NetworkError || error instanceof TimeoutError || error instanceof RateLimitedError || (error instanceof CoordinatorError && error.status >= 500);
}
