import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';

const SECRET_HEADER = 'x-coordinator-loopback';
const CALLER_HEADER = 'x-coordinator-caller';

/** Where a REST client acting for one `/mcp` caller sends its calls, and the headers that say for whom. */
export interface LoopbackTarget {
  baseUrl: string;
  headers: Record<string, string>;
}

export interface Loopback {
  /** The target for calls made on behalf of the client at `callerIp` (listening starts on first use). */
  target(callerIp: string | undefined, requestId: string): Promise<LoopbackTarget>;
  close(): Promise<void>;
}

/**
 * The way `/mcp`'s tools reach the REST API of their own process: a listener
 * on 127.0.0.1 (a free port) that hands each request to the same API app, so
 * every tool call goes through the same authentication, validation, scoping,
 * logs and metrics as a REST call.
 *
 * Why not the public port: the per-client rate limit keys on the peer
 * address, and every inner call would come from this process's own address:
 * all MCP users would share one budget (and with it any local script), so a
 * few busy agents would lock everyone out. Here each inner call counts
 * against the address of the `/mcp` caller it is made for (`req.ip` is set
 * before the app sees the request), exactly as if that caller had made the
 * REST call itself.
 *
 * Only this process may claim a caller's address: a request must carry a
 * random secret made at start (never logged, never leaves the process);
 * anything else on the port is refused with 403.
 */
/** Connections the loopback port holds at most (every /mcp call under way holds one or two). */
export const LOOPBACK_MAX_CONNECTIONS = 2048;

export function createLoopback(app: () => RequestListener): Loopback {
  const secret = randomBytes(32).toString('base64url');
  const expected = Buffer.from(secret);
  let listening: Promise<{ server: Server; url: string }> | undefined;

  const refuse = (res: Parameters<RequestListener>[1]) => {
    // Closed after the answer: a stranger on this port keeps no connection open.
    res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    res.end(JSON.stringify({ error: { code: 'forbidden', message: 'This port serves the coordinator MCP endpoint only; use the API port' } }), () => res.socket?.destroy());
  };
  const handle: RequestListener = (req, res) => {
    const given = Buffer.from(String(req.headers[SECRET_HEADER] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse(res);
    const caller = req.headers[CALLER_HEADER];
    delete req.headers[SECRET_HEADER];
    delete req.headers[CALLER_HEADER];
    // An own property wins over Express's `req.ip` getter (on the request prototype): the rate limit and the logs see the MCP caller.
    if (typeof caller === 'string' && isIP(caller)) Object.defineProperty(req, 'ip', { value: caller, configurable: true, enumerable: true });
    app()(req, res);
  };
  const listen = () =>
    (listening ??= new Promise<{ server: Server; url: string }>((resolve, reject) => {
      const server = createServer(handle);
      // Only this process talks to it, with whole requests at once: a connection that does not finish its headers in
      // 5 s is a stranger's, and the connections are bounded (each /mcp call holds one or two; see MAX_CALLS_PER_CALLER).
      server.headersTimeout = 5_000;
      server.requestTimeout = 10_000;
      server.maxConnections = LOOPBACK_MAX_CONNECTIONS;
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      });
    }).catch((error: unknown) => {
      // The next call tries again rather than failing for ever.
      listening = undefined;
      throw error;
    }));

  return {
    async target(callerIp, requestId) {
      const { url } = await listen();
      return { baseUrl: url, headers: { [SECRET_HEADER]: secret, [CALLER_HEADER]: callerIp ?? '', 'x-request-id': requestId } };
    },
    async close() {
      if (!listening) return;
      const { server } = await listening;
      listening = undefined;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
