import type { Request } from 'express';
import { CodedError, ErrorCode } from '../../core/errors.js';

/** The largest webhook body taken: Meta documents webhook payloads of up to 3 MB. */
export const MAX_WEBHOOK_BYTES = 3 * 1024 * 1024;
/**
 * Bytes held at once by the bodies being read, across the channel's webhooks.
 * They are buffered before the signature can be checked, so an unsigned flood
 * is bounded here; past it a body is answered 429, which Meta retries like any
 * refusal. Counted in bytes, not bodies, so slow senders holding connections
 * open do not lock Meta out.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
let buffered = 0;

const tooLarge = (limit: number) => new CodedError(ErrorCode.PayloadTooLarge, `Request body is larger than the limit of ${limit} bytes`);

/**
 * Reads a request's body as the exact bytes sent (the signature covers them),
 * refusing past `limit` with 413 without holding the rest in memory.
 */
export function readRawBody(req: Request, limit = MAX_WEBHOOK_BYTES): Promise<Buffer> {
  if (Buffer.isBuffer(req.body)) return req.body.length > limit ? Promise.reject(tooLarge(limit)) : Promise.resolve(req.body);
  const declared = Number(req.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  let total = 0;
  const release = () => {
    buffered -= total;
    total = 0;
  };
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      if (buffered + chunk.length > MAX_BUFFERED_BYTES) {
        cleanup();
        req.resume();
        return void reject(new CodedError(ErrorCode.RateLimited, 'Too many webhook bytes arriving at once; retry shortly'));
      }
      total += chunk.length;
      buffered += chunk.length;
      if (total <= limit) return void chunks.push(chunk);
      cleanup();
      // Drain the rest unread, so the 413 answer reaches the sender.
      req.resume();
      reject(tooLarge(limit));
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new CodedError(ErrorCode.Validation, `Could not read the request body: ${error.message}`));
    };
    const onClose = () => {
      cleanup();
      reject(new CodedError(ErrorCode.Validation, 'The connection closed before the request body was complete'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  }).finally(release);
}
