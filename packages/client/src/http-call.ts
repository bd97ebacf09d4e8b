import { abortReason, backoffDelay, sleep, type Backoff } from './backoff.js';
import { CoordinatorError, NetworkError, RateLimitedError, TimeoutError, errorFromResponse, isRetryable } from './errors.js';

/** What every call shares: where, as whom, how long, how to retry. */
export interface Transport {
  baseUrl: string;
  token: string;
  fetch: typeof fetch;
  timeoutMs: number;
  headers: Record<string, string>;
  backoff: Backoff;
}

export interface CallInit {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** This call's time limit (default the transport's). */
  timeoutMs?: number;
  /** Attempts after the first on a retryable failure (default 0: calls that are not safe to repeat). */
  retries?: number;
  /** Non-2xx statuses that are answers, not errors (304 for a conditional GET). */
  accept?: number[];
}

export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

/** One HTTP exchange: the answer, or a typed error (an abort rejects with the signal's reason). */
export async function callOnce(t: Transport, init: CallInit): Promise<Answer> {
  const { signal } = init;
  if (signal?.aborted) throw abortReason(signal);
  const url = new URL(`${t.baseUrl}${init.path}`);
  for (const [key, value] of Object.entries(init.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
  const timeoutMs = init.timeoutMs ?? t.timeoutMs;
  const what = `${init.method} ${url.pathname}`;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const headers: Record<string, string> = { accept: 'application/json', ...t.headers, ...init.headers, authorization: `Bearer ${t.token}` };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  try {
    // A redirect is refused, never followed: it would carry the body, the Idempotency-Key and custom headers to another origin.
    const res = await t.fetch(url.toString(), { method: init.method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: controller.signal, redirect: 'error' });
    // The body is part of the exchange: a connection dropped while it is read is a network error too.
    const text = await boundedText(res, what);
    let body: unknown;
    let parsed = text === '';
    if (!parsed) {
      try {
        body = JSON.parse(text);
        parsed = true;
      } catch {
        // Not JSON: a proxy's error page, say. Judged below by the status.
      }
    }
    if (!res.ok && !init.accept?.includes(res.status)) throw errorFromResponse(res.status, body, res.headers);
    if (!parsed) throw new CoordinatorError(`${what}: the answer is not JSON`, { status: res.status, code: 'invalid_response', requestId: res.headers.get('x-request-id') ?? undefined });
    return { status: res.status, body, headers: res.headers };
  } catch (error) {
    if (error instanceof CoordinatorError) throw error;
    if (signal?.aborted) throw abortReason(signal);
    if (timedOut) throw new TimeoutError(`${what}: no answer within ${timeoutMs} ms`);
    throw new NetworkError(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, error);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** How long to wait before trying again after `error`: its Retry-After when a 429 has one, else the backoff for `attempt`. */
/** Answers larger than this are refused (the coordinator's largest, a page of 500 approvals, is a few MB). */
export const MAX_ANSWER_BYTES = 16 * 2 ** 20;

/** The body as text, refused (and the connection dropped) once it passes MAX_ANSWER_BYTES. */
async function boundedText(res: Response, what: string): Promise<string> {
  const tooLarge = () => new CoordinatorError(`${what}: the answer is larger than ${MAX_ANSWER_BYTES} bytes`, { status: res.status, code: 'invalid_response', requestId: res.headers.get('x-request-id') ?? undefined });
  if (Number(res.headers.get('content-length') ?? 0) > MAX_ANSWER_BYTES) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}

export function retryDelay(backoff: Backoff, attempt: number, error: unknown): number {
  // Never sooner than the base delay: a `Retry-After: 0` (from a proxy) would otherwise make a tight loop.
  if (error instanceof RateLimitedError && error.retryAfterSec !== undefined) return Math.max(backoff.baseDelayMs, error.retryAfterSec * 1000);
  return backoffDelay(backoff, attempt);
}

/**
 * `callOnce`, tried again up to `init.retries` times on a network error, a
 * time-out, a 5xx or a 429 (after its Retry-After, unless that is longer than
 * `maxDelayMs`: then the 429 is thrown). Only for calls that are safe to
 * repeat: reads, and a create carrying an Idempotency-Key.
 */
export async function call(t: Transport, init: CallInit): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await callOnce(t, init);
    } catch (error) {
      if (attempt >= (init.retries ?? 0) || !isRetryable(error)) throw error;
      const delay = retryDelay(t.backoff, attempt, error);
      if (delay > t.backoff.maxDelayMs) throw error;
      await sleep(delay, init.signal);
    }
  }
}
