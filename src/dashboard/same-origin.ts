import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** Express's "trust proxy" value (TRUST_PROXY): `false` (no proxy), a hop count, or addresses / CIDRs / `loopback`-style names. */
export type TrustProxy = false | number | string[];

/** Whether the peer at `address`, `hop` steps from this server, is a proxy whose `X-Forwarded-*` headers are believed. */
export type ProxyTrust = (address: string, hop: number) => boolean;

/**
 * Compiles TRUST_PROXY with Express's semantics (a number trusts that many
 * hops, a list names addresses, CIDRs, `loopback`, `linklocal`,
 * `uniquelocal`), for the places Express does not look at: the Socket.IO
 * handshake, which is a bare `IncomingMessage`.
 */
export function compileProxyTrust(value: TrustProxy | undefined): ProxyTrust {
  if (value === undefined || value === false) return () => false;
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return proxyaddr.compile(value);
}

/** The client's address as Express's `req.ip` would say it: the peer, or what trusted proxies forwarded (`::ffff:` removed). */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string {
  const address = proxyaddr(req, trust);
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Whether a browser request comes from the dashboard's own origin: its
 * `Origin` header (when there is one) names the host the request was sent to
 * (`Host`, or `X-Forwarded-Host` when the peer is a trusted proxy, as
 * Express's `req.host` decides). SameSite cookies do not tell ports or
 * sibling subdomains apart, and WebSockets have no CORS, so without this a
 * page on another port or subdomain of the same site could open the live
 * socket with the operator's cookie. Requests without `Origin` (not from a
 * browser) still need a valid session.
 */
export function isSameOrigin(req: IncomingMessage, trust: ProxyTrust): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // "null" (sandboxed frames, file:) and garbage
  }
  if (host === req.headers.host) return true;
  const forwarded = req.headers['x-forwarded-host'];
  const fromProxy = trust(req.socket.remoteAddress ?? '', 0);
  return fromProxy && typeof forwarded === 'string' && forwarded.split(',')[0].trim() === host;
}
