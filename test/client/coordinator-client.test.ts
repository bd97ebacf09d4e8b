import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConflictError,
  CoordinatorClient,
  ForbiddenError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  TimeoutError,
  UnauthorizedError,
  ValidationError,
  WaitTimeoutError,
  payloadHash,
  type Approval,
  type ApprovalRequestInput,
} from '../../packages/client/src/index.js';
import { until } from '../helpers/until.js';
import { localServer, recordingFetch, startClientWorld, type ClientWorld } from './client-setup.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Fast retries: the tests are about what is retried, not how long it waits. */
const FAST = { baseDelayMs: 10, maxDelayMs: 200 };

let w: ClientWorld;
let agent: CoordinatorClient;
let n = 0;
/** A refund request at lisboa (critical risk: waits for Ana or Bruno); each one its own summary. */
const refund = (extra: Partial<ApprovalRequestInput> = {}): ApprovalRequestInput => ({ branchId: 'lisboa', actionType: 'refund', summary: `Refund ${++n} EUR to order ${1000 + n}`, details: { orderId: String(1000 + n), amount: n }, ...extra });
const asAgent = (options: Partial<ConstructorParameters<typeof CoordinatorClient>[0]> = {}) => new CoordinatorClient({ baseUrl: w.t.url, token: w.agentToken, retry: FAST, ...options });
const approveAs = (token: string, id: string) => w.t.call(`/api/approvals/${id}/decision`, { method: 'POST', token, json: { decision: 'approve' } });

beforeAll(async () => {
  w = await startClientWorld();
  agent = asAgent();
});
afterAll(async () => {
  await w?.close();
});

describe('CoordinatorClient against a running coordinator', () => {
  it('requests an approval (201) with a generated Idempotency-Key, answering it as the server stored it', async () => {
    const seen: Array<{ method: string; url: URL; headers: Headers }> = [];
    const client = asAgent({ fetch: recordingFetch(seen) });
    const input = refund({ details: { orderId: '77', amount: { value: 20, currency: 'EUR' }, note: undefined } });
    const approval = await client.requestApproval(input);
    expect(approval).toMatchObject({ status: 'pending', riskLevel: 'critical', branchId: 'lisboa', requesterId: 'refunds', actionType: 'refund', summary: input.summary, code: expect.stringMatching(/^[A-Z2-9]{6}$/) });
    expect(approval.decision).toBeUndefined();
    expect(seen).toHaveLength(1);
    expect(seen[0].headers.get('idempotency-key')).toMatch(UUID);
    expect(approval.idempotencyKey).toBe(seen[0].headers.get('idempotency-key'));
    // The client computes the same payload hash as the coordinator (canonical JSON of {actionType, details}).
    expect(approval.payloadHash).toBe(await payloadHash('refund', input.details));
    expect(approval.payloadHash).not.toBe(await payloadHash('refund', { orderId: '77' }));
    // What a later read answers is the same approval.
    expect(await agent.getApproval(approval.code)).toMatchObject({ id: approval.id, status: 'pending' });
  });

  it('a repeated key answers the same approval (200); a retry after a lost answer reuses the key and makes no second one', async () => {
    const input = refund();
    const first = await agent.requestApproval(input, { idempotencyKey: 'order-5001-refund' });
    const again = await agent.requestApproval(input, { idempotencyKey: 'order-5001-refund' });
    expect(again.id).toBe(first.id);

    // The first POST reaches the coordinator, then the connection "drops" before the answer is read.
    const seen: Array<{ method: string; url: URL; headers: Headers }> = [];
    let dropped = 0;
    const losesFirstAnswer: typeof fetch = async (url, init) => {
      const res = await fetch(url, init);
      if (init?.method === 'POST' && dropped++ === 0) {
        await res.arrayBuffer();
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
      }
      return res;
    };
    const client = asAgent({ fetch: recordingFetch(seen, losesFirstAnswer) });
    const lost = refund();
    const approval = await client.requestApproval(lost);
    const posts = seen.filter((s) => s.method === 'POST');
    expect(posts).toHaveLength(2);
    const key = posts[0].headers.get('idempotency-key');
    expect(key).toMatch(UUID);
    expect(posts[1].headers.get('idempotency-key')).toBe(key);
    expect(approval).toMatchObject({ status: 'pending', summary: lost.summary, idempotencyKey: key });
    expect(await w.t.running.store.approvals.count({ idempotencyKey: key! })).toBe(1);
    expect(await w.t.running.store.approvals.count({ summary: lost.summary })).toBe(1);

    // The same key with another body is a conflict naming the approval it belongs to.
    const clash = await agent.requestApproval({ ...input, summary: 'Refund 9000 EUR' }, { idempotencyKey: 'order-5001-refund' }).catch((e: unknown) => e);
    expect(clash).toBeInstanceOf(ConflictError);
    expect(clash).toMatchObject({ status: 409, code: 'conflict', details: { approvalId: first.id }, requestId: expect.any(String) });
  });

  it('wait: true answers once a manager decides through the REST decision route, woken by the decision', async () => {
    const waiting: Approval[] = [];
    const started = Date.now();
    const decided = agent.requestApproval(refund(), {
      wait: true,
      onWaiting: (a) => {
        waiting.push(a);
        // Decided once the long-poll is held, so the answer comes from the wait, not from a read of a decided approval.
        void until('the long-poll held', () => w.longPolls() === 1).then(() => approveAs(w.managers.ana, a.id));
      },
    });
    const approval = await decided;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(waiting).toHaveLength(1);
    expect(waiting[0].status).toBe('pending');
    expect(approval.status).toBe('approved');
    if (approval.status !== 'approved') throw new Error('narrowing');
    expect(approval.decision).toMatchObject({ outcome: 'approved', by: 'ana', byName: 'Ana', via: 'api', at: expect.any(String) });
    expect(approval.decision.payloadHash).toBe(approval.payloadHash);
    expect(approval.id).toBe(waiting[0].id);
  });

  it('waitForDecision polls again after a dropped connection and a 503, then answers the decision', async () => {
    const created = await agent.requestApproval(refund());
    let gets = 0;
    const flaky: typeof fetch = async (url, init) => {
      if (init?.method !== 'GET') return fetch(url, init);
      gets++;
      if (gets === 1) throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
      // A stand-in for a coordinator whose store is down for a moment: its error shape and request id.
      if (gets === 2) return new Response(JSON.stringify({ error: { code: 'store_unavailable', message: 'Store is unavailable' } }), { status: 503, headers: { 'content-type': 'application/json', 'x-request-id': 'stand-in-503' } });
      return fetch(url, init);
    };
    const waiting = asAgent({ fetch: flaky }).waitForDecision(created.id);
    await until('the third poll held', () => gets === 3 && w.longPolls() === 1);
    await w.t.call(`/api/approvals/${created.id}/decision`, { method: 'POST', token: w.managers.bruno, json: { decision: 'reject', reason: 'duplicate order' } });
    const approval = await waiting;
    expect(approval).toMatchObject({ id: created.id, status: 'rejected', decision: { by: 'bruno', byName: 'Bruno', via: 'api', reason: 'duplicate order' } });
    expect(gets).toBe(3);
  });

  it('an abort ends the wait with the signal reason and closes the long-poll', async () => {
    const created = await agent.requestApproval(refund());
    const controller = new AbortController();
    const waiting = agent.waitForDecision(created.id, { signal: controller.signal });
    await until('the long-poll held', () => w.longPolls() === 1);
    const reason = new Error('the user gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await until('the coordinator let go of the long-poll', () => w.longPolls() === 0);

    // Without a reason: an AbortError, as fetch gives; an already aborted signal sends nothing.
    const bare = new AbortController();
    const second = agent.waitForDecision(created.id, { signal: bare.signal });
    await until('the long-poll held', () => w.longPolls() === 1);
    bare.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    const seen: Array<{ method: string; url: URL; headers: Headers }> = [];
    await expect(asAgent({ fetch: recordingFetch(seen) }).requestApproval(refund(), { signal: bare.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(0);
    expect((await agent.getApproval(created.id)).status).toBe('pending');
  });

  it('timeoutSec rejects with WaitTimeoutError carrying the still-pending approval', async () => {
    const created = await agent.requestApproval(refund());
    const started = Date.now();
    const error = await agent.requestApproval(refund(), { wait: true, timeoutSec: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({ code: 'wait_timeout', status: 0, approval: { status: 'pending' } });
    expect(Date.now() - started).toBeLessThan(4000);
    await expect(agent.waitForDecision(created.code, { timeoutSec: 0 })).rejects.toMatchObject({ code: 'wait_timeout', approval: { id: created.id } });
  });

  it('cancels a pending request; reports the result of an approved one (executed, failed); both refuse a second time', async () => {
    const pending = await agent.requestApproval(refund());
    const cancelled = await agent.cancel(pending.code);
    expect(cancelled).toMatchObject({ id: pending.id, status: 'cancelled', decision: { outcome: 'cancelled', by: 'refunds', via: 'api' } });
    await expect(agent.cancel(pending.id)).rejects.toMatchObject({ constructor: ConflictError, status: 409, details: { status: 'cancelled' } });
    // A result only after approval.
    await expect(agent.reportResult(pending.id, { success: true })).rejects.toBeInstanceOf(ConflictError);

    const done = await agent.requestApproval(refund());
    await approveAs(w.managers.ana, done.id);
    const executed = await agent.reportResult(done.id, { success: true, result: { refundId: 'rf_1' } });
    expect(executed).toMatchObject({ status: 'executed', result: { success: true, result: { refundId: 'rf_1' }, at: expect.any(String) }, decision: { outcome: 'approved', by: 'ana' } });
    await expect(agent.reportResult(done.id, { success: false, error: 'again' })).rejects.toBeInstanceOf(ConflictError);

    const broken = await agent.requestApproval(refund());
    await approveAs(w.managers.ana, broken.id);
    expect(await agent.reportResult(broken.id, { success: false, error: 'the payment provider refused' })).toMatchObject({ status: 'failed', result: { success: false, error: 'the payment provider refused' } });
    expect((await agent.listApprovals({ status: 'failed' })).approvals.map((a) => a.id)).toEqual([broken.id]);
  });

  it("sends the agent's heartbeat (another agent's is forbidden) and reads the coordination status, reusing it while unchanged", async () => {
    await agent.heartbeat('refunds');
    const listed = await w.t.call('/api/agents/refunds');
    expect(Date.now() - Date.parse(listed.body.agent.lastHeartbeatAt)).toBeLessThan(10_000);
    await expect(agent.heartbeat('someone-else')).rejects.toBeInstanceOf(ForbiddenError);

    const seen: Array<{ method: string; url: URL; headers: Headers }> = [];
    const statuses: number[] = [];
    const client = asAgent({ fetch: recordingFetch(seen, async (url, init) => {
      const res = await fetch(url, init);
      statuses.push(res.status);
      return res;
    }) });
    const status = await client.status();
    // An agent token sees its own branch.
    expect(status.branches.map((b) => b.id)).toEqual(['lisboa']);
    expect(status.branches[0]).toMatchObject({ name: 'Lisboa', managers: 2, agents: [expect.objectContaining({ id: 'refunds', kind: 'action' })] });
    expect(status.storage).toMatchObject({ backend: 'file', ready: true });
    expect(status.totals.total).toBe(1);
    const again = await client.status();
    expect(again).toEqual(status);
    expect(seen[1].headers.get('if-none-match')).toBeTruthy();
    expect(statuses).toEqual([200, 304]);
  });

  it('lists with filters and paging', async () => {
    const list = await agent.listApprovals({ status: 'pending', limit: 2 });
    expect(list).toMatchObject({ limit: 2, offset: 0 });
    expect(list.approvals).toHaveLength(2);
    expect(list.total).toBeGreaterThan(2);
    expect(list.approvals.every((a) => a.status === 'pending' && a.requesterId === 'refunds')).toBe(true);
    const next = await agent.listApprovals({ status: 'pending', limit: 2, offset: 2 });
    expect(next.approvals.map((a) => a.id)).not.toContain(list.approvals[0].id);
  });
});

describe('typed errors', () => {
  it('400 ValidationError names every field', async () => {
    const error = await agent.requestApproval({ branchId: 'lisboa', actionType: 'Refund Now', summary: '', riskLevel: 'extreme' as never, expiresInSec: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const v = error as ValidationError;
    expect(v).toMatchObject({ status: 400, code: 'validation_failed', requestId: expect.any(String) });
    expect(v.issues.map((i) => i.path).sort()).toEqual(['actionType', 'expiresInSec', 'riskLevel', 'summary']);
    // Beyond the policy's time to live for the risk (critical: 1 h by default): the maximum is named.
    const ttl = (await agent.requestApproval(refund({ expiresInSec: 7200 })).catch((e: unknown) => e)) as ValidationError;
    expect(ttl.issues).toEqual([{ path: 'expiresInSec', message: expect.stringMatching(/at most 3600 seconds/) }]);
    await expect(agent.listApprovals({ limit: 0 })).rejects.toMatchObject({ constructor: ValidationError, issues: [expect.objectContaining({ path: 'limit' })] });
  });

  it('401, 403, 404 and a decision too late (409 with who decided)', async () => {
    const stranger = new CoordinatorClient({ baseUrl: w.t.url, token: 'not-a-token-anyone-issued' });
    await expect(stranger.listApprovals()).rejects.toMatchObject({ constructor: UnauthorizedError, status: 401, code: 'unauthorized' });
    // An agent asks only at its own branch.
    await expect(agent.requestApproval(refund({ branchId: 'porto' }))).rejects.toMatchObject({ constructor: ForbiddenError, status: 403, code: 'forbidden' });
    const missing = (await agent.getApproval('ZZZZZZ').catch((e: unknown) => e)) as NotFoundError;
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.requestId).toMatch(/./);

    const created = await agent.requestApproval(refund());
    const ana = new CoordinatorClient({ baseUrl: w.t.url, token: w.managers.ana });
    const bruno = new CoordinatorClient({ baseUrl: w.t.url, token: w.managers.bruno });
    expect(await ana.decide(created.code, { decision: 'approve' })).toMatchObject({ outcome: 'decided', approval: { status: 'approved', decision: { by: 'ana' } } });
    const late = (await bruno.decide(created.id, { decision: 'reject' }).catch((e: unknown) => e)) as ConflictError;
    expect(late).toBeInstanceOf(ConflictError);
    expect(late.message).toMatch(/Too late: approval [A-Z2-9]{6} was already approved by Ana via api/);
    expect(late.approval).toMatchObject({ id: created.id, status: 'approved', decision: { by: 'ana', byName: 'Ana', via: 'api' } });
  });

  it('NetworkError when nothing listens, TimeoutError when the peer never answers', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    const nowhere = new CoordinatorClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't', retry: { maxRetries: 1, baseDelayMs: 10 } });
    await expect(nowhere.listApprovals()).rejects.toMatchObject({ constructor: NetworkError, status: 0, code: 'network_error' });

    let requests = 0;
    const silent = await localServer(() => {
      requests++;
      return null;
    });
    try {
      const slow = new CoordinatorClient({ baseUrl: silent.url, token: 't', timeoutMs: 200, retry: { maxRetries: 1, baseDelayMs: 10 } });
      const started = Date.now();
      await expect(slow.status()).rejects.toMatchObject({ constructor: TimeoutError, code: 'timeout' });
      expect(Date.now() - started).toBeLessThan(3000);
      // A read is retried once (maxRetries: 1); a heartbeat is not retried.
      expect(requests).toBe(2);
      await expect(slow.heartbeat('refunds')).rejects.toBeInstanceOf(TimeoutError);
      expect(requests).toBe(3);
    } finally {
      await silent.close();
    }
  });
});

describe('rate limit', () => {
  it('429 RateLimitedError with retryAfterSec from Retry-After (too long to wait for: not retried)', async () => {
    const limited = await startClientWorld({ env: { RATE_LIMIT_PER_MIN: '6' } });
    try {
      const client = new CoordinatorClient({ baseUrl: limited.t.url, token: limited.agentToken, retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 1000 } });
      let error: unknown;
      for (let i = 0; i < 10 && !error; i++) error = await client.listApprovals().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitedError);
      expect(error).toMatchObject({ status: 429, code: 'rate_limited' });
      expect((error as RateLimitedError).retryAfterSec).toBeGreaterThan(1);
    } finally {
      await limited.close();
    }
  });
});

describe('the client against a peer that is not the coordinator', () => {
  it('refuses a redirect instead of carrying the request to another origin, and an id that would name another route', async () => {
    const elsewhere: string[] = [];
    const other = await localServer((req) => {
      elsewhere.push(`${req.method} ${req.url}`);
      return 201;
    });
    const redirecting = createHttpServer((_req, res) => {
      res.writeHead(307, { location: `${other.url}/api/approvals` });
      res.end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const client = new CoordinatorClient({ baseUrl: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`, token: 'agt_x', retry: { maxRetries: 0 } });
      await expect(client.requestApproval(refund())).rejects.toBeInstanceOf(NetworkError);
      expect(elsewhere).toEqual([]);
    } finally {
      await new Promise((resolve) => redirecting.close(resolve));
      await other.close();
    }
    const seen: Array<{ method: string; url: URL; headers: Headers }> = [];
    const client = asAgent({ fetch: recordingFetch(seen) });
    for (const id of ['..', '.', '']) await expect(client.cancel(id)).rejects.toBeInstanceOf(ValidationError);
    expect(seen).toEqual([]);
  });
});
