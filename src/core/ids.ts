import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';

let lastMs = -1;
let lastRandom = 0n;

/**
 * Sortable unique ids: 12 hex chars of milliseconds then 12 of randomness, so ids
 * created later sort later (useful for paging) and never collide across replicas.
 * Within one process they are strictly increasing even in the same millisecond
 * (the random part counts up), so "newest first" is exact for one writer.
 */
export function newId(now: number = Date.now()): string {
  let random: bigint;
  if (now <= lastMs) {
    now = lastMs;
    random = lastRandom + 1n;
  } else {
    random = BigInt(`0x${randomBytes(6).toString('hex')}`) >> 1n; // leave room to count up
  }
  lastMs = now;
  lastRandom = random;
  return now.toString(16).padStart(12, '0') + random.toString(16).padStart(12, '0').slice(-12);
}

/**
 * The smallest id `newId` can make at `ms`: every id made earlier sorts before it, so
 * `{ id: { lt: idAt(ms) } }` selects what was created before `ms` through the primary key.
 */
export function idAt(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
}

/** A high-entropy bearer token, URL-safe. */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
