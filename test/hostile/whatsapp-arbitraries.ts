import fc from 'fast-check';
import { hostileValue, nastyString } from './arbitraries.js';

/**
 * Baileys event payloads, shaped like Baileys' own types (`WAMessage`,
 * `ConnectionState`, creds) — near-valid and hostile: wrong types, missing
 * fields, huge texts, weird JIDs, wrapper messages nested past Baileys'
 * unwrapping limit. `known` are ids of things that exist (our poll, our
 * prompt text, approval codes, the manager's JID), so generated messages
 * also reach the code behind the first lookups.
 */
export interface KnownIds {
  pollIds: string[];
  codes: string[];
  jids: string[];
}

/** A huge text, expanded by `expandBig` when the property runs: a counterexample prints it as `BigText(n)`, not as 100,000 characters. */
export class BigText {
  constructor(readonly length: number) {}
  [fc.toStringMethod](): string {
    return `BigText(${this.length})`;
  }
}

function big(n: number): fc.Arbitrary<unknown> {
  return fc.constant(new BigText(n));
}

/** The payload with every `BigText` made a real string (plain objects and arrays are copied; buffers, errors and functions kept). */
export function expandBig(value: unknown): unknown {
  if (value instanceof BigText) return 'é'.repeat(value.length);
  if (Array.isArray(value)) return value.map(expandBig);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: expandBig(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

export const WEIRD_JIDS = [
  'x@lid', '@s.whatsapp.net', '123@g.us', '123-456@g.us', '120363000000000000@g.us', 'status@broadcast', '123@broadcast', '123@newsletter',
  '351912345678@s.whatsapp.net', '351912345678:12@s.whatsapp.net', '351912345678@c.us', '90000000000001@lid', '90000000000001:3@lid', '0@s.whatsapp.net',
  '@', '', ' ', 'abc', '@lid', 'a@b@c', '351912345678@', '+351912345678@s.whatsapp.net', '351912345678@s.whatsapp.net\u0000', '351912345678@hosted', '1@bot',
];

/** A Long as protobuf.js gives it, a number, a numeric string, nonsense. */
export const timestampArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 0, max: 2_000_000_000 }),
  fc.constantFrom(0, -1, 1e20, Number.NaN, Number.POSITIVE_INFINITY, 1.5, '1700000000', 'yesterday', '', null, undefined),
  fc.integer({ min: 0, max: 2_000_000_000 }).map((low) => ({ low, high: 0, unsigned: true, toNumber: () => low })),
  fc.constantFrom<unknown>({ low: 5 }, { low: 'x' }, { toNumber: 'not a function' }, { toNumber: () => Number.NaN }, { toNumber: () => 10n }, 10n, [], {}),
  hostileValue,
);

export function jidArb(known: KnownIds): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...WEIRD_JIDS, ...known.jids) },
    { weight: 1, arbitrary: fc.stringMatching(/^[1-9]\d{6,14}(:\d{1,2})?@(s\.whatsapp\.net|lid|g\.us)$/) },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, undefined, 5, {}, [], true) },
  );
}

function idArb(known: KnownIds): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known.pollIds) },
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF'), minLength: 1, maxLength: 24 }).map((h) => `3A${h}`) },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, undefined, 5, {}, [], { $gt: '' }) },
  );
}

export function keyArb(known: KnownIds): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ remoteJid: jidArb(known), fromMe: fc.oneof(fc.boolean(), fc.constantFrom<unknown>(null, undefined, 'false', 0, 1)), id: idArb(known), participant: jidArb(known), remoteJidAlt: jidArb(known), participantAlt: jidArb(known) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: hostileValue },
  );
}

function textArb(known: KnownIds): fc.Arbitrary<unknown> {
  const code = fc.constantFrom(...known.codes, 'ABC234', 'ZZZZZZ');
  return fc.oneof(
    { weight: 4, arbitrary: nastyString },
    { weight: 2, arbitrary: fc.oneof(fc.constantFrom('1', '2', '1.', ' 2 ', 'person', 'STOP', 'START', '/start'), code.map((c) => `APPROVE ${c}`), code.map((c) => `reject ${c} because ${'x'.repeat(50)}`)) },
    { weight: 1, arbitrary: fc.integer({ min: 8000, max: 100_000 }).chain(big) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 5, {}, [], true, '') },
  );
}

function contextInfoArb(known: KnownIds): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.record({ stanzaId: idArb(known), participant: jidArb(known), quotedMessage: fc.oneof(fc.record({ conversation: textArb(known) }), hostileValue), remoteJid: jidArb(known) }, { requiredKeys: [] }),
    hostileValue,
  );
}

function bytesArb(): fc.Arbitrary<unknown> {
  return fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), fc.base64String({ maxLength: 64 }), fc.constantFrom<unknown>(null, 5, {}, [], ''));
}

/** The content of one message (`proto.IMessage`), possibly inside disappearing / view-once / edit wrappers, possibly nested too deep to unwrap. */
export function contentArb(known: KnownIds): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    { weight: 5, arbitrary: fc.record({ conversation: textArb(known) }) },
    fc.record({ extendedTextMessage: fc.oneof(fc.record({ text: textArb(known), contextInfo: contextInfoArb(known) }, { requiredKeys: [] }), hostileValue) }),
    fc.record({
      pollUpdateMessage: fc.oneof(
        fc.record(
          {
            pollCreationMessageKey: fc.oneof(fc.record({ remoteJid: jidArb(known), fromMe: fc.boolean(), id: idArb(known) }, { requiredKeys: [] }), hostileValue),
            vote: fc.oneof(fc.record({ encPayload: bytesArb(), encIv: bytesArb() }, { requiredKeys: [] }), hostileValue),
            senderTimestampMs: timestampArb,
          },
          { requiredKeys: [] },
        ),
        hostileValue,
      ),
    }),
    fc.record({ imageMessage: fc.record({ caption: textArb(known), url: nastyString, mimetype: nastyString, jpegThumbnail: bytesArb() }, { requiredKeys: [] }) }),
    fc.record({ protocolMessage: fc.record({ type: fc.oneof(fc.integer({ min: -1, max: 30 }), nastyString), key: keyArb(known), editedMessage: fc.record({ conversation: textArb(known) }) }, { requiredKeys: [] }) }),
    fc.record({ reactionMessage: fc.record({ key: keyArb(known), text: nastyString, senderTimestampMs: timestampArb }, { requiredKeys: [] }) }),
    fc.record({ pollCreationMessageV3: fc.record({ name: nastyString, options: fc.array(fc.record({ optionName: nastyString }), { maxLength: 3 }), selectableOptionsCount: fc.integer() }, { requiredKeys: [] }) }),
    fc.record({ messageContextInfo: fc.record({ messageSecret: bytesArb() }), conversation: textArb(known) }, { requiredKeys: ['conversation'] }),
    fc.dictionary(fc.constantFrom('conversation', 'extendedTextMessage', 'pollUpdateMessage', 'imageMessage', 'senderKeyDistributionMessage', 'buttonsResponseMessage', 'listResponseMessage', '__proto__', 'constructor'), hostileValue, { maxKeys: 4 }),
    hostileValue,
  );
  const wrapper = fc.constantFrom('ephemeralMessage', 'viewOnceMessage', 'viewOnceMessageV2', 'viewOnceMessageV2Extension', 'documentWithCaptionMessage', 'editedMessage', 'associatedChildMessage', 'groupStatusMessage', 'groupStatusMessageV2');
  return fc.tuple(leaf, fc.array(wrapper, { maxLength: 7 })).map(([inner, wrappers]) => wrappers.reduce<unknown>((message, w) => ({ [w]: { message } }), inner));
}

/** One `WAMessage`. */
export function waMessageArb(known: KnownIds): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.record({ key: keyArb(known), message: fc.oneof(contentArb(known), fc.constantFrom<unknown>(null, undefined, 'text', 5)), pushName: fc.oneof(nastyString, fc.constantFrom<unknown>(null, 5, {}), fc.integer({ min: 200, max: 5000 }).chain(big)), messageTimestamp: timestampArb, participant: jidArb(known), status: fc.integer({ min: -1, max: 6 }), broadcast: fc.boolean() }, { requiredKeys: ['key', 'message'] }) },
    { weight: 1, arbitrary: hostileValue },
  );
}

/** A `messages.upsert` payload: `{messages, type}` with hostile messages, or a payload of the wrong shape altogether. */
export function upsertArb(known: KnownIds): fc.Arbitrary<{ messages: unknown; type: unknown }> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ messages: fc.array(waMessageArb(known), { minLength: 1, maxLength: 5 }), type: fc.constant<unknown>('notify') }) },
    { weight: 1, arbitrary: fc.record({ messages: fc.oneof(fc.array(waMessageArb(known), { maxLength: 3 }), hostileValue), type: fc.oneof(fc.constantFrom<unknown>('append', 'notify', 'NOTIFY', undefined, null), nastyString) }) },
  );
}

/** A Boom-shaped error (`output.statusCode`) or anything else Baileys might close with. */
const disconnectErrorArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(401, 403, 408, 411, 428, 440, 500, 503, 515, 0, -1, 999).map((statusCode) => Object.assign(new Error('Stream Errored'), { isBoom: true, output: { statusCode, payload: { statusCode } } })),
  fc.oneof(fc.integer(), nastyString, fc.constant(null)).map((statusCode) => Object.assign(new Error('odd'), { output: { statusCode } })),
  fc.constantFrom<unknown>(undefined, null, 'closed', 428, {}, { output: null }, { output: { statusCode: { valueOf: () => 401 } } }),
  hostileValue,
);

/** A `connection.update` (`Partial<ConnectionState>`), near-valid or not. */
export const connectionUpdateArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        connection: fc.oneof(fc.constantFrom<unknown>('open', 'close', 'connecting', undefined), nastyString),
        lastDisconnect: fc.oneof(fc.record({ error: disconnectErrorArb, date: fc.oneof(fc.date(), nastyString) }, { requiredKeys: [] }), hostileValue),
        qr: fc.oneof(fc.constantFrom<unknown>('2@qr,abc', undefined), nastyString, fc.constantFrom<unknown>(5, {}, [], true)),
        isNewLogin: fc.oneof(fc.boolean(), hostileValue),
        isOnline: fc.boolean(),
        receivedPendingNotifications: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: hostileValue },
);

/** A `creds.update` payload (a partial of Baileys' AuthenticationCreds), near-valid or not. */
export const credsUpdateArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ me: fc.oneof(fc.record({ id: nastyString, lid: nastyString, name: nastyString }, { requiredKeys: [] }), hostileValue), registered: fc.oneof(fc.boolean(), hostileValue), pairingCode: nastyString, platform: nastyString }, { requiredKeys: [] }),
  hostileValue,
);
