import type { IncomingMessage } from 'node:http';

/** Deepest nesting of objects and arrays a JSON body may have (a real request needs far fewer). */
export const MAX_JSON_DEPTH = 32;

/**
 * The nesting depth of a JSON text, counted over its bytes without parsing
 * (brackets inside strings are skipped), stopping as soon as `limit` is passed.
 * Linear in the body and allocation-free, so a 600 KB body of 300,000 `[` costs
 * microseconds instead of a stack overflow later in validation or hashing.
 *
 * @example jsonDepth(Buffer.from('{"a":[1,{"b":2}]}'), 32) === 3
 */
export function jsonDepth(body: Uint8Array, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** An error body-parser passes on with its status and type (mapped to a 400 by the error handler). */
export class TooDeepError extends Error {
  readonly status = 400;
  readonly type = 'entity.too.deep';
  constructor(readonly limit: number) {
    super(`JSON body is nested deeper than ${limit} levels`);
  }
}

/** JSON is UTF-8 (RFC 8259): another charset is refused before parsing, and the depth count reads UTF-8 bytes. */
export class NotUtf8Error extends Error {
  readonly status = 415;
  readonly type = 'charset.unsupported';
  constructor(readonly charset: string) {
    super(`JSON bodies must be UTF-8 (got charset ${charset})`);
  }
}

/**
 * `verify` for `express.json()`: refuses bodies that are not UTF-8 (a UTF-16
 * body would hide its brackets from the byte count) or nested deeper than
 * `maxDepth`, before they are parsed.
 */
export function jsonDepthGuard(maxDepth = MAX_JSON_DEPTH): (req: IncomingMessage, res: unknown, body: Buffer, encoding: string) => void {
  return (_req, _res, body, encoding) => {
    if (encoding && encoding.toLowerCase() !== 'utf-8' && encoding.toLowerCase() !== 'utf8') throw new NotUtf8Error(encoding);
    if (jsonDepth(body, maxDepth) > maxDepth) throw new TooDeepError(maxDepth);
  };
}
