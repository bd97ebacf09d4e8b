/** How the client waits between attempts: capped exponential backoff with jitter. */
export interface RetryOptions {
  /** Attempts after the first for one call (requestApproval and reads); default 3. Waiting for a decision retries until its deadline. */
  maxRetries?: number;
  /** The first delay's ceiling, ms; default 500. */
  baseDelayMs?: number;
  /** No delay is longer, ms (also the longest Retry-After honoured; beyond it a 429 is thrown); default 30000. */
  maxDelayMs?: number;
}

export type Backoff = Required<RetryOptions>;

export function backoffOf(options: RetryOptions = {}): Backoff {
  return { maxRetries: options.maxRetries ?? 3, baseDelayMs: options.baseDelayMs ?? 500, maxDelayMs: options.maxDelayMs ?? 30_000 };
}

/**
 * The delay before retry number `attempt` (0 = the first retry): between half
 * and all of `min(maxDelayMs, baseDelayMs * 2^attempt)`, so clients that failed
 * together do not come back together.
 */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** What an aborted signal rejects with: its reason, or an AbortError as `fetch` gives. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
