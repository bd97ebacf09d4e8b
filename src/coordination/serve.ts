import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

export interface Listening {
  server: Server;
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then drops idle keep-alive sockets. */
  close(graceMs?: number): Promise<void>;
}

/** Statuses for the HTTP parser's own refusals (malformed request line or headers, too-large headers, slow clients). */
function parserStatus(code: string | undefined): [number, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'Request headers are too large'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'The request took too long to arrive'];
  return [400, 'Malformed HTTP request'];
}

/**
 * Node answers a request it cannot parse with a bare 400; answer with the API's
 * JSON error shape instead, then close that connection (its framing is lost).
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (error.code === 'ECONNRESET')) {
    socket.destroy();
    return;
  }
  const [status, message] = parserStatus(error.code);
  const body = JSON.stringify({ error: { code: status === 431 ? 'payload_too_large' : 'validation_failed', message } });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

const FIRST_REQUEST = Symbol('first request watchdog');

/** How many connections a port holds, and how long a request may take to arrive. */
export interface ListenLimits {
  /** Connections held at once on this port (Node refuses more). */
  maxConnections: number;
  /** ... and from one peer address, unless `exempt` says it is a proxy we trust. */
  maxPerAddress: number;
  exempt?: (address: string) => boolean;
}

export const DEFAULT_LISTEN_LIMITS: ListenLimits = { maxConnections: 10_000, maxPerAddress: 256 };

/** A request's headers must arrive within this (slow-header floods hold a socket each until then). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** ... and the whole request within this (a long-poll's wait is the response, not the request). */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Caps the connections one peer address holds: a client that opens hundreds of
 * idle sockets is cut off at `maxPerAddress` while everybody else (and
 * `/health`) is still served. Refused sockets are closed at once, and a new
 * connection whose first request has not arrived within `HEADERS_TIMEOUT_MS`
 * is closed (Node's own headers timeout did not fire for many slow sockets
 * at once on Node 20 here).
 */
function capPerAddress(server: Server, limits: ListenLimits): void {
  const open = new Map<string, number>();
  const started = (req: IncomingMessage) => {
    const watchdog = (req.socket as Socket & { [FIRST_REQUEST]?: NodeJS.Timeout })[FIRST_REQUEST];
    if (watchdog) clearTimeout(watchdog);
  };
  server.on('request', started);
  server.on('upgrade', started);
  server.on('connection', (socket: Socket & { [FIRST_REQUEST]?: NodeJS.Timeout }) => {
    socket[FIRST_REQUEST] = setTimeout(() => socket.destroy(), HEADERS_TIMEOUT_MS);
    socket[FIRST_REQUEST].unref();
    socket.once('close', () => clearTimeout(socket[FIRST_REQUEST]));
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > limits.maxPerAddress && !limits.exempt?.(address)) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

/** Listens on `host:port` (port 0 picks a free one) and reports the URL. */
export async function listen(app: Express, host: string, port: number, limits: ListenLimits = DEFAULT_LISTEN_LIMITS): Promise<Listening> {
  // Timeouts are checked every second (Node's default is every 30 s, which would let a slow client hold a socket 40 s).
  const server = createServer({ connectionsCheckingInterval: 1000, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, app);
  server.keepAliveTimeout = 5000;
  server.maxConnections = limits.maxConnections;
  capPerAddress(server, limits);
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    close(graceMs = 10_000) {
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        // Connections whose in-flight request finishes become idle keep-alives: drop them as they do.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearTimeout(force);
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
