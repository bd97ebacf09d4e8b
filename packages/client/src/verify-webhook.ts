import type { WebhookEvent } from './types.js';

export type WebhookRejection = 'missing_signature' | 'malformed_signature' | 'bad_signature' | 'malformed_body' | 'too_old' | 'too_new';

/** The webhook is not one to trust: answer it with 401 and do nothing. `code` says why. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly code: WebhookRejection,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export interface VerifyWebhookOptions {
  /** How old (or how far ahead, for clock skew) the body's `sentAt` may be, seconds; default 300. */
  maxAgeSec?: number;
  /** The time now, ms since the epoch (default `Date.now`). */
  now?: () => number;
}

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** A header by name, from a Fetch `Headers` or Node's `req.headers` (any case); `null` when it came more than once. */
function header(headers: Headers | Record<string, string | string[] | undefined>, name: string): string | null | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const values = Object.entries(headers)
    .filter(([key, value]) => key.toLowerCase() === name && value !== undefined)
    .flatMap(([, value]) => value as string | string[]);
  return values.length > 1 ? null : values[0];
}

/** Equal without telling how much matched: every byte is looked at whatever the first difference. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Checks an outcome webhook from the coordinator and answers with its event.
 *
 * - `X-Coordinator-Signature` must be `sha256=<hex HMAC-SHA256 of the raw body>`
 *   under your agent's `callbackSecret` (from `POST /api/agents`), compared in
 *   constant time. Pass the body exactly as received — bytes or text — not
 *   re-serialized JSON.
 * - The body's `sentAt` (covered by the signature) must be within `maxAgeSec`
 *   of now, either way, to refuse replays. The `X-Coordinator-Timestamp` header
 *   is not signed, so it is not trusted. `sentAt` is the time of the attempt
 *   (a retry is signed anew with its own), and a retry keeps its
 *   signed `deliveryId` (also sent as `X-Coordinator-Delivery`, which is not
 *   signed): act on each `deliveryId` once.
 *
 * Uses WebCrypto (`globalThis.crypto.subtle`), so it is async and runs in Node
 * 20+, Deno, Bun, workers and browsers alike.
 *
 * @throws WebhookVerificationError
 * @example
 * const event = await verifyWebhook(rawBody, req.headers, process.env.CALLBACK_SECRET!);
 * if (event.event === 'approval.approved') ...
 */
export async function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: Headers | Record<string, string | string[] | undefined>,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  const signature = header(headers, 'x-coordinator-signature');
  if (signature === null) throw new WebhookVerificationError('malformed_signature', 'More than one X-Coordinator-Signature header');
  if (!signature) throw new WebhookVerificationError('missing_signature', 'No X-Coordinator-Signature header');
  const match = SIGNATURE.exec(signature.trim());
  if (!match) throw new WebhookVerificationError('malformed_signature', 'X-Coordinator-Signature is not sha256=<64 hex digits>');
  const given = new Uint8Array(match[1]!.match(/../g)!.map((h) => parseInt(h, 16)));
  // A copy: a Node Buffer may be a view into a larger pool, and WebCrypto wants a plain byte array.
  const body = typeof rawBody === 'string' ? new TextEncoder().encode(rawBody) : new Uint8Array(rawBody);
  const key = await globalThis.crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const expected = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, body));
  if (!sameBytes(expected, given)) throw new WebhookVerificationError('bad_signature', 'The signature does not match the body under this secret');

  let event: WebhookEvent;
  try {
    event = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as WebhookEvent;
  } catch {
    throw new WebhookVerificationError('malformed_body', 'The signed body is not UTF-8 JSON');
  }
  const sentAt = typeof event?.sentAt === 'string' ? Date.parse(event.sentAt) : NaN;
  if (Number.isNaN(sentAt) || typeof event.event !== 'string' || typeof event.approval !== 'object' || event.approval === null) {
    throw new WebhookVerificationError('malformed_body', 'The signed body is not a coordinator event {event, approval, sentAt}');
  }
  const maxAgeMs = (options.maxAgeSec ?? 300) * 1000;
  const age = (options.now ?? Date.now)() - sentAt;
  if (age > maxAgeMs) throw new WebhookVerificationError('too_old', `Sent at ${event.sentAt}, more than ${maxAgeMs / 1000} s ago`);
  if (age < -maxAgeMs) throw new WebhookVerificationError('too_new', `Sent at ${event.sentAt}, more than ${maxAgeMs / 1000} s ahead of this clock`);
  return event;
}
