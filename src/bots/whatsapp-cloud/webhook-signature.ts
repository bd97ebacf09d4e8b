import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Whether `header` (`X-Hub-Signature-256: sha256=<hex>`) is Meta's
 * HMAC-SHA256 of exactly these raw bytes with the app secret. Compared in
 * constant time; a missing or malformed header is simply false.
 */
export function validSignature(appSecret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (!appSecret || !header) return false;
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m) return false;
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  return timingSafeEqual(Buffer.from(m[1]!, 'hex'), expected);
}

/** The same secret compared in constant time (a verify token). */
export function sameSecret(expected: string, given: unknown): boolean {
  if (!expected || typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Meta's challenge is a number; anything else is not echoed (the answer is ours to vouch for). */
export const CHALLENGE = /^[A-Za-z0-9_-]{1,256}$/;
