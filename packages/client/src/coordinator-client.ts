import { abortReason, backoffOf, sleep, type RetryOptions } from './backoff.js';
import { ValidationError, WaitTimeoutError, isRetryable } from './errors.js';
import { call, callOnce, retryDelay, type CallInit, type Transport } from './http-call.js';
import type { Approval, ApprovalFilter, ApprovalList, ApprovalRequestInput, CoordinationStatus, DecisionResult, PendingApproval, SettledApproval } from './types.js';

export interface CoordinatorClientOptions {
  /** Where the coordinator's API listens, e.g. `http://127.0.0.1:3000` (a path prefix is kept). */
  baseUrl: string;
  /** A bearer token: an agent's (from `POST /api/agents`), a manager's, an operator's or the admin's. */
  token: string;
  /** The `fetch` to use (default the global one), e.g. one with a proxy agent. */
  fetch?: typeof fetch;
  /** Time limit of one HTTP call, ms (default 30000); a long-poll gets its wait plus 10 s instead. */
  timeoutMs?: number;
  /** Sent with every request (the token always goes as `Authorization`). */
  headers?: Record<string, string>;
  /** Retries and backoff (defaults: 3 retries, 500 ms doubling to 30 s, with jitter). */
  retry?: RetryOptions;
}

export interface RequestApprovalOptions {
  /** Wait until the approval is settled (default false: answer with it as created). */
  wait?: boolean;
  /** With `wait`: give up after this many seconds (WaitTimeoutError); default: wait until it is settled. */
  timeoutSec?: number;
  signal?: AbortSignal;
  /** Default: a random UUID. Give your own to make a request idempotent across restarts of your process. */
  idempotencyKey?: string;
  /** With `wait`: called with the pending approval once it is created, then after every long-poll round still pending (about once a minute). */
  onWaiting?: (approval: Approval) => void;
}

export interface WaitOptions {
  /** Give up after this many seconds, rejecting with WaitTimeoutError; default: wait until it is settled. */
  timeoutSec?: number;
  signal?: AbortSignal;
  /** Called after every long-poll round that ends still pending (about once a minute): progress, a keep-alive. */
  onWaiting?: (approval: Approval) => void;
}

/** The coordinator holds a long-poll at most this long. */
const MAX_WAIT_SEC = 60;
/** A long-poll call's time limit beyond its wait. */
const LONG_POLL_SLACK_MS = 10_000;
/** A round that comes back pending sooner than this (a proxy not holding the poll) is spaced out to this. */
const MIN_ROUND_MS = 1_000;

/** An id as one path segment; `.`, `..` and empty ones are refused (the URL would name another route). */
const segment = (idOrCode: string) => {
  if (idOrCode === '' || idOrCode === '.' || idOrCode === '..') throw new ValidationError(`Invalid id ${JSON.stringify(idOrCode)}`, { status: 0, code: 'validation_failed', details: { issues: [{ path: 'id', message: 'expected an id or code' }] } });
  return encodeURIComponent(idOrCode);
};

/**
 * A typed client for the coordinator's REST API, for agents that ask humans
 * for approval. It needs only `fetch`.
 *
 * @example
 * const client = new CoordinatorClient({ baseUrl: 'http://127.0.0.1:3000', token: process.env.AGENT_TOKEN! });
 * const approval = await client.requestApproval({ branchId: 'lisboa', actionType: 'refund', summary: 'Refund 20 EUR to order 1234', details: { orderId: '1234' } }, { wait: true });
 * if (approval.status === 'approved') { await refund(); await client.reportResult(approval.id, { success: true }); }
 */
export class CoordinatorClient {
  private readonly transport: Transport;
  private lastStatus?: { etag: string; body: CoordinationStatus };

  constructor(options: CoordinatorClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`baseUrl must be an absolute http(s) URL, e.g. http://127.0.0.1:3000 (got ${JSON.stringify(options.baseUrl)})`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`baseUrl must be http(s), not ${base.protocol}`);
    if (!options.token) throw new TypeError('token is required: an agent token from POST /api/agents, or another API token');
    const custom = options.fetch;
    this.transport = {
      baseUrl: `${base.origin}${base.pathname.replace(/\/+$/, '')}`,
      token: options.token,
      // Looked up per call, so a fetch replaced later (instrumentation) is the one used.
      fetch: custom ?? ((input, init) => globalThis.fetch(input, init)),
      timeoutMs: options.timeoutMs ?? 30_000,
      headers: { ...options.headers },
      backoff: backoffOf(options.retry),
    };
  }

  private async json<T>(init: CallInit, once = false): Promise<T> {
    const answer = once ? await callOnce(this.transport, init) : await call(this.transport, init);
    return answer.body as T;
  }

  /**
   * Asks for an approval (`POST /api/approvals`). Every call sends an
   * `Idempotency-Key` (a random UUID unless you give one), and the client's
   * own retries (network error, time-out, 5xx, 429) resend the same key: the
   * coordinator answers a repeat with the approval it already made, so a retry
   * never makes a second one. Without `wait` it answers at once with the
   * approval as created — `approved` already if the policy auto-approved it.
   * With `wait` it answers once the approval is settled (`waitForDecision`).
   *
   * @throws ValidationError (400, `issues`), ForbiddenError (another branch, a team not yours),
   *   ConflictError (the key was used with another body), and the transport errors.
   */
  async requestApproval(input: ApprovalRequestInput, options: RequestApprovalOptions & { wait: true }): Promise<SettledApproval>;
  async requestApproval(input: ApprovalRequestInput, options?: RequestApprovalOptions): Promise<Approval>;
  async requestApproval(input: ApprovalRequestInput, options: RequestApprovalOptions = {}): Promise<Approval> {
    const key = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    const { approval } = await this.json<{ approval: Approval }>({
      method: 'POST',
      path: '/api/approvals',
      body: input,
      headers: { 'idempotency-key': key },
      signal: options.signal,
      retries: this.transport.backoff.maxRetries,
    });
    if (!options.wait || approval.status !== 'pending') return approval;
    options.onWaiting?.(approval);
    return this.waitForDecision(approval.id, { timeoutSec: options.timeoutSec, signal: options.signal, onWaiting: options.onWaiting });
  }

  /**
   * One approval, by id or 6-letter code. With `waitSec` (at most 60) the
   * coordinator holds the answer until the approval leaves `pending` or the
   * time is up, whichever comes first.
   */
  async getApproval(idOrCode: string, options: { waitSec?: number; signal?: AbortSignal } = {}): Promise<Approval> {
    const waitSec = options.waitSec === undefined ? undefined : Math.min(MAX_WAIT_SEC, Math.max(0, options.waitSec));
    const { approval } = await this.json<{ approval: Approval }>({
      method: 'GET',
      path: `/api/approvals/${segment(idOrCode)}`,
      query: { waitSec },
      signal: options.signal,
      retries: this.transport.backoff.maxRetries,
      ...(waitSec ? { timeoutMs: waitSec * 1000 + LONG_POLL_SLACK_MS } : {}),
    });
    return approval;
  }

  /**
   * Waits until the approval is settled (any status but `pending`) and
   * answers with it: long-polls of up to 60 s, one after another. A dropped
   * connection, a time-out, a 5xx or a 429 is not the end: it polls again
   * after a backoff (capped, with jitter; a 429's Retry-After), for as long as
   * it may wait. Other errors (401, 403, 404) reject at once.
   *
   * Ends with:
   * - the settled approval — check `status` (`approved`, `rejected`, `expired`, `cancelled`; `executed`/`failed` if a result came already);
   * - `WaitTimeoutError` after `timeoutSec` still pending (its `approval` is the last state seen) — it is not settled, so do not act;
   * - the signal's reason (an `AbortError` by default) once `signal` aborts; the open long-poll is closed.
   */
  async waitForDecision(idOrCode: string, options: WaitOptions = {}): Promise<SettledApproval> {
    const { signal, onWaiting, timeoutSec } = options;
    const deadline = timeoutSec === undefined ? Infinity : Date.now() + Math.max(0, timeoutSec) * 1000;
    let last: Approval | undefined;
    let failures = 0;
    let id = idOrCode;
    for (let round = 0; ; round++) {
      if (signal?.aborted) throw abortReason(signal);
      const left = deadline - Date.now();
      if (round > 0 && left <= 0) throw new WaitTimeoutError(`approval ${last?.code ?? idOrCode} still pending after ${timeoutSec} s`, last);
      // In whole milliseconds, so the last round ends at the deadline rather than up to a second after it.
      const waitSec = Math.round(Math.min(MAX_WAIT_SEC * 1000, Math.max(0, left))) / 1000;
      const started = Date.now();
      try {
        const { approval } = await this.json<{ approval: Approval }>({ method: 'GET', path: `/api/approvals/${segment(id)}`, query: { waitSec }, signal, timeoutMs: waitSec * 1000 + LONG_POLL_SLACK_MS }, true);
        failures = 0;
        if (approval.status !== 'pending') return approval;
        last = approval;
        id = approval.id;
        onWaiting?.(approval);
        const early = MIN_ROUND_MS - (Date.now() - started);
        if (early > 0 && waitSec * 1000 >= MIN_ROUND_MS) await sleep(Math.min(early, deadline - Date.now()), signal);
      } catch (error) {
        if (signal?.aborted) throw abortReason(signal);
        if (!isRetryable(error)) throw error;
        await sleep(Math.min(retryDelay(this.transport.backoff, failures++, error), Math.max(0, deadline - Date.now())), signal);
      }
    }
  }

  /** Approvals the token may see, newest first (`GET /api/approvals`). */
  async listApprovals(filter: ApprovalFilter = {}): Promise<ApprovalList> {
    const { signal, ...query } = filter;
    return this.json<ApprovalList>({ method: 'GET', path: '/api/approvals', query, signal, retries: this.transport.backoff.maxRetries });
  }

  /**
   * Withdraws a pending request (the requester or the admin). Not retried:
   * after a NetworkError, `getApproval` tells whether it took effect.
   *
   * @throws ConflictError when it is no longer pending (`details.status`).
   */
  async cancel(idOrCode: string, options: { signal?: AbortSignal } = {}): Promise<Approval> {
    const { approval } = await this.json<{ approval: Approval }>({ method: 'POST', path: `/api/approvals/${segment(idOrCode)}/cancel`, signal: options.signal });
    return approval;
  }

  /**
   * Reports what happened after an approval: `success: true` makes it
   * `executed`, `false` makes it `failed` (say why in `error`, at most 2000
   * characters). Not retried: after a NetworkError, `getApproval` tells
   * whether it took effect.
   *
   * @throws ConflictError when it is not `approved` (not decided, rejected, or a result was reported already).
   */
  async reportResult(idOrCode: string, result: { success: boolean; error?: string; result?: unknown }, options: { signal?: AbortSignal } = {}): Promise<Approval> {
    const { approval } = await this.json<{ approval: Approval }>({ method: 'POST', path: `/api/approvals/${segment(idOrCode)}/result`, body: result, signal: options.signal });
    return approval;
  }

  /**
   * Decides as a manager (a manager's token) or the admin. Not retried.
   *
   * @throws ConflictError too late (its `approval` says who decided, how and when), ForbiddenError
   *   (a role below `approvals.minRole`, with the reason), NotFoundError (outside the token's branches).
   */
  async decide(idOrCode: string, decision: { decision: 'approve' | 'reject'; reason?: string }, options: { signal?: AbortSignal } = {}): Promise<DecisionResult> {
    const answer = await callOnce(this.transport, { method: 'POST', path: `/api/approvals/${segment(idOrCode)}/decision`, body: decision, signal: options.signal });
    const body = answer.body as { approval: Approval; remaining?: number };
    return answer.status === 202 ? { outcome: 'recorded', approval: body.approval as PendingApproval, remaining: body.remaining ?? 0 } : { outcome: 'decided', approval: body.approval };
  }

  /**
   * "I am alive" for an action agent without a `healthUrl` (with its own
   * token, or the admin's): one is marked down when silent for two health
   * intervals plus retries. Not retried: send the next one on schedule.
   */
  async heartbeat(agentId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await callOnce(this.transport, { method: 'POST', path: `/api/agents/${segment(agentId)}/heartbeat`, signal: options.signal });
  }

  /**
   * Agents and their status per branch the token sees (`GET /coordination/status`).
   * Repeated calls send the last ETag and reuse the last answer while nothing changed (304).
   */
  async status(options: { signal?: AbortSignal } = {}): Promise<CoordinationStatus> {
    const cached = this.lastStatus;
    const answer = await call(this.transport, {
      method: 'GET',
      path: '/coordination/status',
      // fetch adds `Cache-Control: no-cache` to a conditional request unless it has its own; coordinators before 0.1.0's agent kit answered such a request in full, never 304.
      headers: cached ? { 'if-none-match': cached.etag, 'cache-control': 'max-age=0' } : {},
      accept: [304],
      signal: options.signal,
      retries: this.transport.backoff.maxRetries,
    });
    if (answer.status === 304 && cached) return cached.body;
    const body = answer.body as CoordinationStatus;
    const etag = answer.headers.get('etag');
    this.lastStatus = etag ? { etag, body } : undefined;
    return body;
  }
}
