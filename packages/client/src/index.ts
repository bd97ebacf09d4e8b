/**
 * @chatops-coordinator/client: a typed client for the chat-ops coordinator's
 * REST API, for agents that ask humans for approval, and `verifyWebhook` for
 * the outcome webhooks. Needs only `fetch` and WebCrypto (Node 20+).
 */
export { CoordinatorClient, type CoordinatorClientOptions, type RequestApprovalOptions, type WaitOptions } from './coordinator-client.js';
export type { RetryOptions } from './backoff.js';
export {
  CoordinatorError,
  ValidationError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
  RateLimitedError,
  StoreUnavailableError,
  ChatPlatformError,
  NetworkError,
  TimeoutError,
  WaitTimeoutError,
  isRetryable,
  type Issue,
} from './errors.js';
export { verifyWebhook, WebhookVerificationError, type VerifyWebhookOptions, type WebhookRejection } from './verify-webhook.js';
export { payloadHash, canonicalJson } from './payload-hash.js';
export type * from './types.js';
