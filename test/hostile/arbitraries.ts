import fc from 'fast-check';

/** encodeURIComponent, except that a lone surrogate (which it refuses) becomes its WTF-8 bytes: a nasty input in itself. */
export function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text.split('').map((c) => (/[\ud800-\udfff]/.test(c) ? '%ED%A0%80' : encodeURIComponent(c))).join('');
  }
}

/** Strings that have broken parsers before: bad escapes, huge, control characters, lone surrogates, numbers that are not. */
export const NASTY_STRINGS = [
  '',
  ' ',
  '%',
  '%E0%A4%A',
  '%FF',
  '%00',
  '%2e%2e%2f',
  '..',
  '../..',
  '\u0000',
  '\ud800',
  'a'.repeat(5000),
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'NaN',
  'Infinity',
  '-1',
  '1e309',
  '0x10',
  '9007199254740993',
  '1e20',
  '1e999',
  '-0',
  '0.5',
  '[]',
  '{}',
  'null',
  'true',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${ADMIN_TOKEN}',
  '$where',
  '{"$gt":""}',
  'admin',
  '*',
];

export const nastyString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

/** A JSON text nested `depth` levels (objects and arrays mixed). */
export const deepJsonText = fc.integer({ min: 20, max: 2000 }).map((depth) => {
  let text = '1';
  for (let i = 0; i < depth; i++) text = i % 2 ? `[${text}]` : `{"a":${text}}`;
  return text;
});

/** Field names our request schemas use, so random objects hit real fields with wrong values. */
export const FIELD_NAMES = [
  'branchId', 'actionType', 'summary', 'details', 'riskLevel', 'teamId', 'expiresInSec', 'callbackUrl', 'requiredApprovals',
  'decision', 'reason', 'ids', 'success', 'error', 'result', 'enabled', 'text', 'name', 'tags', 'role', 'subject', 'scope',
  'label', 'id', 'kind', 'channel', 'dependsOn', 'healthUrl', 'username', 'password', 'token', 'healthIntervalMs',
  'autonomy', 'branches', 'agents', 'runner', 'optedOut', '__proto__', 'constructor',
];

const scalar = fc.oneof(nastyString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 10 })), tie('value'), { maxKeys: 6 }),
})).value;

/** A body: a near-valid seed with hostile fields, any JSON, or bytes that are not JSON at all. */
export function bodyArb(seed?: Record<string, unknown>): fc.Arbitrary<{ text: string; type: string | undefined }> {
  const json = (v: unknown) => ({ text: JSON.stringify(v) ?? 'null', type: 'application/json' as string | undefined });
  const options: Array<fc.Arbitrary<{ text: string; type: string | undefined }>> = [
    hostileValue.map(json),
    fc.dictionary(fc.constantFrom(...FIELD_NAMES), hostileValue, { maxKeys: 6 }).map(json),
    deepJsonText.map((text) => ({ text, type: 'application/json' })),
    fc.constantFrom('{"__proto__":{"role":"admin"}}', '{"constructor":{"prototype":{"x":1}}}', '{', '{"a":1}}', '\u0000', 'null', '[]', '"x"').map((text) => ({ text, type: 'application/json' })),
    fc.tuple(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/json')).map(([text, type]) => ({ text, type })),
  ];
  if (seed) options.push(fc.dictionary(fc.constantFrom(...Object.keys(seed), ...FIELD_NAMES), hostileValue, { maxKeys: 3 }).map((over) => json({ ...seed, ...over })));
  return fc.oneof(...options);
}

/** Query strings: known filter names and random ones, repeated keys, hostile or malformed values. Long-poll waits stay short. */
export const queryArb = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('branchId', 'status', 'limit', 'offset', 'since', 'riskLevel', 'agentId', 'approvalId', 'before', 'state', 'channel', 'q', 'head', 'token', '__proto__', 'constructor'), fc.string({ maxLength: 8 })).map(encode),
      fc.oneof(nastyString.map(encode), fc.integer({ min: -5, max: 600 }).map(String), fc.constantFrom('%E0%A4%A', '%', '%zz', 'a&b=c', '[0]=1', '1e20', '1e999', '-0', '0.5', '9007199254740993')),
    ),
    { maxLength: 4 },
  )
  .chain((pairs) => fc.option(fc.constantFrom('abc', '-1', '1e309', 'NaN', '0x1', '[]', '0', '1'), { nil: undefined }).map((wait) => (wait === undefined ? pairs : [...pairs, ['waitSec', wait] as [string, string]])))
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));

/** A path segment: a real id (of this or another branch), a hostile string, or a raw malformed escape. */
export function segmentArb(realIds: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...realIds).map(encode) },
    { weight: 2, arbitrary: nastyString.map(encode) },
    { weight: 1, arbitrary: fc.constantFrom('%E0%A4%A', '%', '%zz', '%C0%AF', '..', '.', '%2F', 'a%00b') },
  );
}
