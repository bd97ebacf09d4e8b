import type { IncomingMessage } from 'node:http';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/**
 * Whether a browser request comes from the dashboard's own origin: its
 * `Origin` header (when there is one) names the host the request was sent to
 * (`Host`, or `X-Forwarded-Host` from a reverse proxy on this machine).
 * SameSite cookies do not tell ports or sibling subdomains apart, and
 * WebSockets have no CORS, so without this a page on another port or subdomain
 * of the same site could open the live socket with the operator's cookie.
 * Requests without `Origin` (not from a browser) still need a valid session.
 */
export function isSameOrigin(req: IncomingMessage): boolean {
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
  const fromProxy = LOOPBACK.test(req.socket.remoteAddress ?? '');
  return fromProxy && typeof forwarded === 'string' && forwarded.split(',')[0].trim() === host;
}
