import type { RequestListener } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '../config/logger.js';
import { CoordinatorClient } from './coordinator-client.js';
import { createLoopback } from './loopback.js';
import { createMcpServer } from './mcp-server.js';

export interface McpHttpDeps {
  /** The bearer-token check of `POST /api/approvals` (agents; the admin passes too): who may use the tools. */
  auth: RequestHandler;
  /** The API app the tools call into, with the caller's own token (read when the first call is made). */
  api: () => RequestListener;
  logger: Logger;
  /** Progress heartbeat period (tests shorten it). */
  heartbeatMs?: number;
}

export interface McpHttp {
  /** `/mcp`: POST carries JSON-RPC; GET and DELETE answer 405 (no sessions). */
  router: Router;
  /** Ends the tool calls under way and the loopback listener (at shutdown). */
  close(): Promise<void>;
}

/** JSON-RPC messages in one POST at most (the SDK takes 100). */
export const MAX_BATCH = 10;
/** `/mcp` requests of one agent under way at once at most. */
export const MAX_CALLS_PER_CALLER = 64;

type Message = { id?: unknown; method?: unknown; params?: { requestId?: unknown } };

const messagesOf = (body: unknown): Message[] => (Array.isArray(body) ? body : [body]).filter((m): m is Message => typeof m === 'object' && m !== null);
const isRequestId = (id: unknown): id is string | number => typeof id === 'string' || typeof id === 'number';

/**
 * The MCP tools over Streamable HTTP at `/mcp`, stateless: every POST gets
 * its own MCP server and transport, built for the caller's token, and nothing
 * is kept between requests. So no session table to expire or lose at a
 * restart, any replica can serve any request, and a token revoked between two
 * calls is refused at the next one (each POST is authenticated again).
 *
 * Cancellation: a stateless request has no session, so the client's
 * `notifications/cancelled` (its own POST) is matched to the call under way
 * by the caller's identity and the JSON-RPC request id, and that call's
 * server is closed (its wait and its open long-poll end). Two clients sharing
 * one agent token and request id would both be stopped; a dropped connection
 * ends its call too.
 */
export function mcpOverHttp(deps: McpHttpDeps): McpHttp {
  const loopback = createLoopback(deps.api);
  const log = deps.logger.child({ module: 'mcp' });
  /** Calls under way, by caller and JSON-RPC id: how to end each. */
  const running = new Map<string, Set<() => void>>();
  const open = new Set<() => void>();
  const keyOf = (subject: string, id: string | number) => `${subject}\n${typeof id}:${id}`;

  const cancelNamed = (subject: string, messages: Message[]) => {
    for (const m of messages) {
      if (m.method !== 'notifications/cancelled' || !isRequestId(m.params?.requestId)) continue;
      for (const end of running.get(keyOf(subject, m.params.requestId)) ?? []) end();
    }
  };

  const bearer = (req: Request) => /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')![1]!;

  /** `/mcp` requests under way per caller (token subject): each may hold long waits of its own. */
  const callsOf = new Map<string, number>();
  const router = Router();
  const rpcRefusal = (res: Response, status: number, message: string) => res.status(status).json({ jsonrpc: '2.0', error: { code: -32600, message }, id: null });

  router.post('/mcp', deps.auth, async (req, res) => {
    const subject = req.principal!.subject;
    const messages = messagesOf(req.body);
    // The rate limit counts requests, not the messages in them: a batch is kept small, and one caller's requests
    // under way are bounded, so no token can hold hundreds of waits (and loopback connections) or the event loop.
    const count = Array.isArray(req.body) ? req.body.length : 1;
    if (count > MAX_BATCH) return void rpcRefusal(res, 400, `At most ${MAX_BATCH} JSON-RPC messages in one request (this one has ${count})`);
    const calls = callsOf.get(subject) ?? 0;
    if (calls >= MAX_CALLS_PER_CALLER && messages.some((m) => typeof m.method === 'string' && m.method !== 'notifications/cancelled')) {
      res.set('retry-after', '5');
      return void rpcRefusal(res, 429, `At most ${MAX_CALLS_PER_CALLER} MCP requests of one agent under way at once: wait for some to end (or cancel them)`);
    }
    callsOf.set(subject, calls + 1);
    // At once, before any wait: a connection closed during the setup below still gives its place back.
    res.on('close', () => {
      const left = (callsOf.get(subject) ?? 1) - 1;
      if (left <= 0) callsOf.delete(subject);
      else callsOf.set(subject, left);
    });
    cancelNamed(subject, messages);
    const target = await loopback.target(req.ip, req.id);
    const client = new CoordinatorClient({ baseUrl: target.baseUrl, token: bearer(req), headers: target.headers });
    const server = createMcpServer({ client, log: log.child({ requestId: req.id, agentId: subject }), heartbeatMs: deps.heartbeatMs });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    const end = () => void server.close().catch((error: unknown) => log.warn('closing an MCP request failed', { error }));
    const keys = messages.filter((m) => typeof m.method === 'string' && isRequestId(m.id)).map((m) => keyOf(subject, m.id as string | number));
    for (const key of keys) running.set(key, (running.get(key) ?? new Set()).add(end));
    open.add(end);
    res.on('close', () => {
      for (const key of keys) {
        const ends = running.get(key);
        ends?.delete(end);
        if (ends?.size === 0) running.delete(key);
      }
      open.delete(end);
      end();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  router.all('/mcp', deps.auth, (_req, res) => {
    res
      .status(405)
      .set('allow', 'POST')
      .json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP endpoint is stateless (no sessions, no server-initiated stream); send JSON-RPC with POST.' }, id: null });
  });

  return {
    router,
    async close() {
      for (const end of [...open]) end();
      await loopback.close();
    },
  };
}
