import type { Request } from 'express';
import { CodedError, ErrorCode } from '../../core/errors.js';

/** The largest webhook body taken; Meta batches at most a few hundred KB. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

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
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
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
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
