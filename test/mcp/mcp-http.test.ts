import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { CoordinatorClient } from '../../src/mcp/coordinator-client.js';
import { createMcpServer } from '../../src/mcp/mcp-server.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { until } from '../helpers/until.js';
import { AGENT_TOKEN, callTool, startMcpWorld, structured, textOf, type McpWorld } from './mcp-setup.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

describe('MCP over Streamable HTTP at /mcp', () => {
  let w: McpWorld;
  const clients: Client[] = [];

  beforeAll(async () => {
    w = await startMcpWorld();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await w.close();
  });

  const connect = async (token = AGENT_TOKEN) => {
    const client = new Client({ name: 'jest', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${w.t.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  };
  const post = (token: string | null, body: unknown = INIT) =>
    fetch(`${w.t.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('refuses a call without a token (401) and with a manager or operator token (403), as POST /api/approvals does', async () => {
    const none = await post(null);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    for (const token of [w.managerToken, w.operatorToken]) {
      const res = await post(token);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/needs one of the roles: admin, agent/);
    }
    await expect(connect(w.managerToken)).rejects.toThrow(/forbidden/);
    // Stateless: no server-initiated stream and no session to delete.
    const get = await fetch(`${w.t.url}/mcp`, { headers: { authorization: `Bearer ${AGENT_TOKEN}`, accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('takes at most 10 JSON-RPC messages in one request (the rate limit counts requests)', async () => {
    const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'tools/list' }));
    const big = await post(AGENT_TOKEN, [INIT, ...batch(10)]);
    expect(big.status).toBe(400);
    expect(await big.json()).toEqual({ jsonrpc: '2.0', error: { code: -32600, message: 'At most 10 JSON-RPC messages in one request (this one has 11)' }, id: null });
  });

  it('lists the six tools with descriptions and input schemas whose fields say what they mean', async () => {
    const client = await connect();
    expect(client.getInstructions()).toMatch(/request_approval .*report_result/s);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['cancel_approval', 'coordination_status', 'get_approval', 'report_result', 'request_approval', 'send_customer_message']);
    for (const tool of tools) expect(tool.description!.length).toBeGreaterThan(80);
    const request = tools.find((t) => t.name === 'request_approval')!;
    const props = request.inputSchema.properties as Record<string, { description?: string; enum?: string[]; maximum?: number; default?: unknown }>;
    expect(request.inputSchema.required).toEqual(['actionType', 'summary']);
    expect(props.riskLevel.enum).toEqual(['low', 'medium', 'high', 'critical']);
    expect(props.riskLevel.description).toMatch(/critical: payments, refunds, customer messages, deletions/);
    expect(props.details.description).toMatch(/exact values you will execute with/);
    expect(props.expiresInSec).toMatchObject({ maximum: 2_592_000 });
    expect(props.expiresInSec.description).toMatch(/critical 3600/);
    expect(props.wait.default).toBe(true);
    expect(props.maxWaitSec.description).toMatch(/60 s tool-call timeout/);
    for (const [name, prop] of Object.entries(props)) expect({ name, described: (prop.description ?? '').length > 20 }).toEqual({ name, described: true });
    expect(request.outputSchema?.properties).toHaveProperty('payloadHash');
    expect(tools.find((t) => t.name === 'get_approval')!.annotations).toMatchObject({ readOnlyHint: true });
  });

  it('request_approval waits for Ana pressing Approve in Telegram, with progress, and answers who decided, how, and the payload hash', async () => {
    const client = await connect();
    const progress: Progress[] = [];
    const details = { orderId: '1001', amount: 20, currency: 'EUR' };
    const call = callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 20 EUR to order 1001 (MCP over HTTP)', details }, { onprogress: (p) => progress.push(p) });
    await w.decideInTelegram('Refund 20 EUR to order 1001 (MCP over HTTP)');
    const result = await call;
    expect(result.isError).toBeFalsy();
    const out = structured(result);
    expect(out).toMatchObject({ status: 'approved', branchId: 'lisboa', actionType: 'refund', riskLevel: 'critical', decision: { outcome: 'approved', by: 'ana', byName: 'Ana', via: 'telegram' }, payloadMatchesRequest: true });
    expect(out.decision.payloadHash).toBe(out.payloadHash);
    expect(out.next).toMatch(/report_result/);
    expect(textOf(result)).toMatch(/APPROVED — approved by Ana \(ana\) via telegram/);
    expect(textOf(result)).toContain(`matches the actionType and details you sent`);
    // The first notification comes as soon as the request is made: the branch and the expiry (a requester is not told who).
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0].message).toMatch(new RegExp(`Approval ${out.code} \\(critical risk\\) waits for a manager at branch lisboa: .*Expires \\d{4}-\\d\\d-\\d\\dT`));
    expect(progress[0].total).toBe(50);
    expect((await w.t.call(`/api/approvals/${out.id}`)).body.approval.status).toBe('approved');

    // The agent executes, then reports.
    const reported = await callTool(client, 'report_result', { id: out.id, success: true, result: { refundId: 'rf_1' } });
    expect(structured(reported)).toMatchObject({ status: 'executed', result: { success: true } });
  });

  it('an approval made and then not followable (its reads refused) is named in the answer, so it is not asked again', async () => {
    // The real coordinator takes the request; every read after it is refused (as if the token were revoked meanwhile).
    const refused = () => new Response(JSON.stringify({ error: { code: 'forbidden', message: 'refused by the test' } }), { status: 403, headers: { 'content-type': 'application/json' } });
    const flaky: typeof fetch = async (input, init) => ((init?.method ?? 'GET') === 'GET' ? refused() : fetch(input, init));
    const server = createMcpServer({ client: new CoordinatorClient({ baseUrl: w.t.url, token: AGENT_TOKEN, fetch: flaky, retry: { maxRetries: 0, baseDelayMs: 10, maxDelayMs: 20 } }), log: memoryLogger().logger });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'jest', version: '1.0.0' });
    await client.connect(clientSide);
    try {
      const answer = await callTool(client, 'request_approval', { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 3 EUR to order 1006 (flaky)', maxWaitSec: 2 });
      const made = await w.t.running.store.approvals.findOne({ summary: 'Refund 3 EUR to order 1006 (flaky)' });
      expect(made).toBeTruthy();
      expect(structured(answer)).toMatchObject({ id: made!.id, status: 'pending' });
      expect(textOf(answer)).toContain(`Do not ask again: call get_approval with id ${made!.id}`);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('progress heartbeats read the approval again while waiting: the channel the prompt went out on, growing progress', async () => {
    // The same tools on an in-memory MCP link, with a short heartbeat (15 s by default).
    const server = createMcpServer({ client: new CoordinatorClient({ baseUrl: w.t.url, token: AGENT_TOKEN }), log: memoryLogger().logger, heartbeatMs: 100 });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'jest', version: '1.0.0' });
    await client.connect(clientSide);
    try {
      const progress: Progress[] = [];
      const call = callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 2 EUR to order 1005 (heartbeat)', maxWaitSec: 30 }, { onprogress: (p) => progress.push(p) });
      await until('a heartbeat naming the channel', () => progress.some((p) => /prompt sent on telegram \(1\)/.test(p.message ?? '')));
      await w.decideInTelegram('Refund 2 EUR to order 1005 (heartbeat)');
      expect(structured(await call).status).toBe('approved');
      expect(progress.every((p, i) => i === 0 || p.progress > progress[i - 1].progress)).toBe(true);
      expect(progress.every((p) => p.total === 30)).toBe(true);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('wait: false answers with the pending handle at once; get_approval waits for the rejection; cancel_approval withdraws another', async () => {
    const client = await connect();
    const handle = await callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 5 EUR to order 1002 (handle)', wait: false, idempotencyKey: 'refund-1002' });
    expect(structured(handle)).toMatchObject({ status: 'pending', prompts: { notReached: expect.any(Number) } });
    expect(structured(handle).next).toMatch(/do not act.*get_approval/);
    // The same key and request: the same approval, not a second prompt.
    const again = await callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 5 EUR to order 1002 (handle)', wait: false, idempotencyKey: 'refund-1002' });
    expect(structured(again).id).toBe(structured(handle).id);
    // The same key with a reworded request: refused, naming the approval the key made, so the model looks it up instead of asking again.
    const reworded = await callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 5 EUR to order 1002, reworded', wait: false, idempotencyKey: 'refund-1002' });
    expect(reworded.isError).toBe(true);
    expect(textOf(reworded)).toContain(`Existing approval: ${structured(handle).id as string}.`);
    expect(textOf(reworded)).toMatch(/call get_approval with id \S+ instead of asking again/);

    const quick = await callTool(client, 'get_approval', { id: structured(handle).code, waitSec: 1 });
    expect(structured(quick)).toMatchObject({ status: 'pending', waitedSec: expect.any(Number) });
    expect(textOf(quick)).toMatch(/PENDING after waiting 1 s/);

    const waiting = callTool(client, 'get_approval', { id: structured(handle).id, waitSec: 30 });
    await w.decideInTelegram('Refund 5 EUR to order 1002 (handle)', 'reject');
    expect(structured(await waiting)).toMatchObject({ status: 'rejected', decision: { by: 'ana', via: 'telegram' } });

    const other = await callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 6 EUR to order 1003', wait: false });
    const cancelled = await callTool(client, 'cancel_approval', { id: structured(other).id });
    expect(structured(cancelled)).toMatchObject({ status: 'cancelled', decision: { outcome: 'cancelled', by: 'refunds' } });
    const late = await callTool(client, 'cancel_approval', { id: structured(other).id });
    expect(late.isError).toBe(true);
    expect(textOf(late)).toMatch(/conflict \(HTTP 409\).*already cancelled/s);
  });

  it('bad input comes back as a tool error the model can correct, not a protocol error', async () => {
    const client = await connect();
    const schema = await callTool(client, 'request_approval', { actionType: 'Refund!', summary: '' });
    expect(schema.isError).toBe(true);
    expect(textOf(schema)).toMatch(/actionType/);
    expect(textOf(schema)).toMatch(/summary/);
    const api = await callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 1 EUR', expiresInSec: 86_400 });
    expect(api.isError).toBe(true);
    expect(textOf(api)).toMatch(/validation_failed \(HTTP 400\)[\s\S]*- expiresInSec: .*3600/);
    const elsewhere = await callTool(client, 'request_approval', { branchId: 'porto', actionType: 'refund', summary: 'Refund at another branch' });
    expect(elsewhere.isError).toBe(true);
    expect(textOf(elsewhere)).toMatch(/forbidden \(HTTP 403\)/);
    const contact = await callTool(client, 'send_customer_message', { contactId: 'nobody', text: 'Olá' });
    expect(textOf(contact)).toMatch(/- details.contactId: no contact 'nobody' at branch lisboa/);
    const both = await callTool(client, 'send_customer_message', { contactId: 'c1', chatId: '5001', text: 'Olá' });
    expect(textOf(both)).toMatch(/exactly one of contactId .* or chatId/);
    const unknown = await callTool(client, 'get_approval', { id: 'NOSUCH' });
    expect(textOf(unknown)).toMatch(/not_found \(HTTP 404\)/);
  });

  it('send_customer_message: Ana approves the exact text, the coordinator sends it and the answer says so', async () => {
    const client = await connect();
    const call = callTool(client, 'send_customer_message', { chatId: '5001', channel: 'telegram', text: 'O seu reembolso foi aprovado.' });
    await w.decideInTelegram('O seu reembolso foi aprovado.');
    const out = structured(await call);
    expect(out).toMatchObject({ status: 'executed', actionType: 'message.send', riskLevel: 'critical', payloadMatchesRequest: true, result: { success: true } });
    await until('the message in the customer chat', () => w.telegram.storage.botMessages.some((m) => String(m.message.chat_id) === '5001' && m.message.text === 'O seu reembolso foi aprovado.'));
  });

  it('cancelling the tool call stops the wait (stateless: matched by token and request id); the approval stays pending', async () => {
    const client = await connect();
    const abort = new AbortController();
    const progress: Progress[] = [];
    const call = callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 7 EUR to order 1004 (cancelled call)', maxWaitSec: 600 }, { signal: abort.signal, onprogress: (p) => progress.push(p), timeout: 700_000 });
    await until('the first progress', () => progress.length > 0);
    abort.abort();
    await expect(call).rejects.toThrow();
    await until('the server stopped waiting', () => w.t.logs.some((e) => String(e.message).startsWith('request_approval: the client cancelled the call; stopped waiting')));
    const pending = await w.t.call(`/api/approvals?status=pending`);
    expect(pending.body.approvals.some((a: { summary: string }) => a.summary === 'Refund 7 EUR to order 1004 (cancelled call)')).toBe(true);
  });

  it('coordination_status shows the agent its own branch and bots', async () => {
    const client = await connect();
    const result = await callTool(client, 'coordination_status', {});
    expect(structured(result).branches.map((b: { id: string }) => b.id)).toEqual(['lisboa']);
    expect(textOf(result)).toMatch(/Branch Lisboa \(lisboa\).*lis-tg \(telegram\) up/);
  });
});

describe('/mcp and the per-client rate limit', () => {
  let w: McpWorld;
  const LIMIT = 200;

  beforeAll(async () => {
    w = await startMcpWorld({ RATE_LIMIT_PER_MIN: String(LIMIT), TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await w.close();
  });

  const remaining = async (forwardedFor?: string) => {
    const res = await w.t.call('/api/approvals?limit=1', { token: AGENT_TOKEN, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });
    return Number(/remaining=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
  };

  it("counts a tool call's inner REST calls against the caller's own budget, not the coordinator's loopback address", async () => {
    const [loopbackBefore, otherBefore] = [await remaining(), await remaining('203.0.113.8')];
    let outer = 0;
    const client = new Client({ name: 'jest', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${w.t.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}`, 'x-forwarded-for': '203.0.113.7' } },
      fetch: (input, init) => {
        outer++;
        return fetch(input, init);
      },
    });
    await client.connect(transport);
    // One inner call: GET /coordination/status.
    await callTool(client, 'coordination_status', {});
    await client.close();
    expect(await remaining('203.0.113.7')).toBe(LIMIT - outer - 1 - 1);
    // Nobody else's budget moved: not the loopback's (the coordinator's own address), not another client's.
    expect(await remaining()).toBe(loopbackBefore - 1);
    expect(await remaining('203.0.113.8')).toBe(otherBefore - 1);
  });
});
