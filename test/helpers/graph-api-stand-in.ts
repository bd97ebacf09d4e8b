import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Meta's error body: `{error: {message, type, code, error_subcode?, error_data?, fbtrace_id}}`, sent with `status`. */
export interface GraphError {
  status: number;
  error: { message: string; type: string; code: number; error_subcode?: number; error_data?: { messaging_product: 'whatsapp'; details: string }; fbtrace_id?: string };
}

const details = (text: string) => ({ messaging_product: 'whatsapp' as const, details: text });

/** Meta's own words and HTTP statuses for the errors the channel maps (developers.facebook.com, "WhatsApp error codes"). */
export const GRAPH_ERRORS = {
  reEngagement: { status: 400, error: { message: '(#131047) Re-engagement message', type: 'OAuthException', code: 131047, error_data: details('Message failed to send because more than 24 hours have passed since the customer last replied to this number.') } },
  throughput: { status: 400, error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, error_data: details('Cloud API message throughput has been reached.') } },
  pairRate: { status: 400, error: { message: '(#131056) (Business Account, Consumer Account) pair rate limit hit', type: 'OAuthException', code: 131056, error_data: details('Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.') } },
  tokenExpired: { status: 401, error: { message: 'Error validating access token: Session has expired on Tuesday, 01-Dec-26 10:00:00 PST.', type: 'OAuthException', code: 190, error_subcode: 463 } },
  undeliverable: { status: 400, error: { message: '(#131026) Message undeliverable', type: 'OAuthException', code: 131026, error_data: details('Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.') } },
} satisfies Record<string, GraphError>;

const invalidParameter = (why: string): GraphError => ({ status: 400, error: { message: '(#100) Invalid parameter', type: 'OAuthException', code: 100, error_data: details(why) } });

export interface GraphCall {
  method: string;
  /** Path without the query, e.g. `/v26.0/1065403522/messages`. */
  path: string;
  query: Record<string, string>;
  authorization?: string;
  body?: Record<string, unknown>;
  at: number;
}

/** Which calls an override applies to: sends (optionally of one message `type`) or phone-number reads. */
export type CallMatch = { kind: 'send'; type?: 'text' | 'interactive' | 'template' } | { kind: 'phone' };

/**
 * A small stand-in for Meta's Graph API (WhatsApp Cloud API) on loopback:
 * `POST /{version}/{phone-number-id}/messages` (text, interactive buttons,
 * template; checked against the documented limits) and
 * `GET /{version}/{phone-number-id}?fields=…`, bearer token checked, errors in
 * Meta's shape. `fail(match, error, times)` makes the next matching calls
 * answer an error. Calls are recorded.
 */
/**
 * The WhatsApp id Meta answers a send with: the digits, except that Brazil's
 * mobile numbers written with the ninth digit (55 AA 9XXXXXXXX) are known by
 * their older 12-digit id, as Meta's documentation warns (`input` and `wa_id`
 * of the send answer may differ).
 */
export function waIdOf(to: string): string {
  const digits = to.replace(/\D/g, '');
  const brazil = /^55(\d{2})9(\d{8})$/.exec(digits);
  return brazil ? `55${brazil[1]}${brazil[2]}` : digits;
}

export async function graphApiStandIn(options: { phoneNumberId: string; accessToken: string; displayPhoneNumber?: string; verifiedName?: string }) {
  const calls: GraphCall[] = [];
  const overrides: Array<{ match: CallMatch; error: GraphError; times: number }> = [];
  const trace = () => randomBytes(9).toString('base64url');
  const wamid = () => `wamid.${Buffer.from(`stand-in:${randomBytes(12).toString('hex')}`).toString('base64')}`;

  const check = (body: Record<string, unknown>): string | null => {
    if (body.messaging_product !== 'whatsapp') return 'messaging_product must be whatsapp';
    if (typeof body.to !== 'string' || !/^\+?\d{6,15}$/.test(body.to)) return 'to must be a phone number';
    const context = body.context as { message_id?: unknown } | undefined;
    if (context !== undefined && typeof context.message_id !== 'string') return 'context.message_id must be a string';
    if (body.type === 'text') {
      const text = body.text as { body?: unknown } | undefined;
      if (typeof text?.body !== 'string' || text.body.length === 0 || text.body.length > 4096) return 'text.body must be 1-4096 characters';
      return null;
    }
    if (body.type === 'interactive') {
      const i = body.interactive as { type?: unknown; body?: { text?: unknown }; action?: { buttons?: Array<{ type?: unknown; reply?: { id?: unknown; title?: unknown } }> } } | undefined;
      if (i?.type !== 'button') return 'interactive.type must be button';
      if (typeof i.body?.text !== 'string' || i.body.text.length > 1024) return 'interactive.body.text must be at most 1024 characters';
      const buttons = i.action?.buttons ?? [];
      if (buttons.length < 1 || buttons.length > 3) return 'interactive.action.buttons must hold 1-3 buttons';
      for (const b of buttons) {
        if (b.type !== 'reply' || typeof b.reply?.id !== 'string' || typeof b.reply.title !== 'string') return 'each button needs type reply, reply.id and reply.title';
        if (b.reply.id.length > 256) return 'button id must be at most 256 characters';
        if (b.reply.title.length > 20) return 'button title must be at most 20 characters';
      }
      if (new Set(buttons.map((b) => b.reply!.id)).size !== buttons.length) return 'button ids must be unique';
      return null;
    }
    if (body.type === 'template') {
      const t = body.template as { name?: unknown; language?: { code?: unknown } } | undefined;
      if (typeof t?.name !== 'string' || typeof t.language?.code !== 'string') return 'template.name and template.language.code are required';
      return null;
    }
    return `unsupported message type ${String(body.type)}`;
  };

  const takeOverride = (call: GraphCall): GraphError | undefined => {
    const kind = call.method === 'POST' ? 'send' : 'phone';
    const i = overrides.findIndex((o) => o.match.kind === kind && (o.match.kind !== 'send' || !o.match.type || o.match.type === call.body?.type));
    if (i < 0) return undefined;
    const o = overrides[i]!;
    if (--o.times <= 0) overrides.splice(i, 1);
    return o.error;
  };

  const answer = (call: GraphCall): { status: number; body: unknown } => {
    const fail = (e: GraphError) => ({ status: e.status, body: { error: { ...e.error, fbtrace_id: e.error.fbtrace_id ?? trace() } } });
    if (call.authorization !== `Bearer ${options.accessToken}`) return fail({ status: 401, error: { message: 'Invalid OAuth access token - Cannot parse access token', type: 'OAuthException', code: 190 } });
    const m = /^\/(v\d+\.\d+)\/(\d+)(\/messages)?$/.exec(call.path);
    if (!m) return fail({ status: 400, error: { message: `Unknown path components: ${call.path}`, type: 'OAuthException', code: 2500 } });
    if (m[2] !== options.phoneNumberId) {
      return fail({ status: 400, error: { message: `Unsupported ${call.method.toLowerCase()} request. Object with ID '${m[2]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, type: 'GraphMethodException', code: 100, error_subcode: 33 } });
    }
    const override = takeOverride(call);
    if (override) return fail(override);
    if (call.method === 'GET' && !m[3]) {
      const node: Record<string, unknown> = { display_phone_number: options.displayPhoneNumber ?? '+351 210 000 000', verified_name: options.verifiedName ?? 'Stand-in Shop', quality_rating: 'GREEN', id: options.phoneNumberId };
      const fields = (call.query.fields ?? 'verified_name,display_phone_number,quality_rating').split(',');
      return { status: 200, body: Object.fromEntries(Object.entries(node).filter(([k]) => k === 'id' || fields.includes(k))) };
    }
    if (call.method === 'POST' && m[3]) {
      const why = check(call.body ?? {});
      if (why) return fail(invalidParameter(why));
      const to = waIdOf(String(call.body!.to));
      return { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: call.body!.to, wa_id: to }], messages: [{ id: wamid(), ...(call.body!.type === 'template' ? { message_status: 'accepted' } : {}) }] } };
    }
    return fail({ status: 400, error: { message: `Unsupported ${call.method.toLowerCase()} request.`, type: 'GraphMethodException', code: 100 } });
  };

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      let body: Record<string, unknown> | undefined;
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      } catch {
        body = undefined;
      }
      const call: GraphCall = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization, body, at: Date.now() };
      calls.push(call);
      const { status, body: out } = answer(call);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    /** The base to give the channel (`WHATSAPP_GRAPH_URL`). */
    url: `http://127.0.0.1:${port}`,
    calls,
    /** The message bodies sent, in order. */
    sent: () => calls.filter((c) => c.method === 'POST' && c.body).map((c) => c.body as Record<string, unknown> & { to: string; type: string }),
    /** The next `times` calls matching `match` answer `error`. */
    fail(match: CallMatch, error: GraphError, times = 1) {
      overrides.push({ match, error, times });
    },
    reset() {
      overrides.length = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
export type GraphApiStandIn = Awaited<ReturnType<typeof graphApiStandIn>>;

/** `X-Hub-Signature-256` as Meta computes it: `sha256=` + hex HMAC-SHA256 of the raw body with the app secret. */
export const hubSignature = (appSecret: string, raw: string | Buffer) => `sha256=${createHmac('sha256', appSecret).update(raw).digest('hex')}`;

/**
 * Builds `messages` webhook bodies the way Meta sends them (one entry, one
 * change) and POSTs them signed. `signature: null` sends none; a string
 * sends that header instead (a forgery).
 */
export function webhookSender(target: { url: string; appSecret: string; phoneNumberId: string; displayPhoneNumber?: string }) {
  let seq = 0;
  const envelope = (value: Record<string, unknown>) => ({
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: target.displayPhoneNumber ?? '351210000000', phone_number_id: target.phoneNumberId }, ...value } }] }],
  });
  const now = () => String(Math.floor(Date.now() / 1000));
  const nextId = () => `wamid.HBgM${Date.now().toString(36)}${(++seq).toString(36)}`;
  const inbound = (from: string, name: string, message: Record<string, unknown>) => envelope({ contacts: [{ profile: { name }, wa_id: from }], messages: [{ from, id: nextId(), timestamp: now(), ...message }] });
  return {
    text: (from: string, text: string, opts: { name?: string; id?: string; replyTo?: string } = {}) =>
      inbound(from, opts.name ?? 'Customer', { type: 'text', text: { body: text }, ...(opts.id ? { id: opts.id } : {}), ...(opts.replyTo ? { context: { from: target.displayPhoneNumber ?? '351210000000', id: opts.replyTo } } : {}) }),
    /** A tap on an interactive reply button of message `promptId`. */
    buttonReply: (from: string, promptId: string, buttonId: string, title: string) =>
      inbound(from, 'Manager', { type: 'interactive', context: { from: target.displayPhoneNumber ?? '351210000000', id: promptId }, interactive: { type: 'button_reply', button_reply: { id: buttonId, title } } }),
    /** A tap on a template's quick-reply button (its payload is what the send put in the button's parameter). */
    templateButton: (from: string, promptId: string, payload: string, text: string) =>
      inbound(from, 'Manager', { type: 'button', context: { from: target.displayPhoneNumber ?? '351210000000', id: promptId }, button: { payload, text } }),
    status: (wamid: string, status: 'sent' | 'delivered' | 'read' | 'failed', recipient: string, errors?: Array<{ code: number; title: string; message?: string; error_data?: { details: string } }>) =>
      envelope({ statuses: [{ id: wamid, status, timestamp: now(), recipient_id: recipient, ...(errors ? { errors } : {}) }] }),
    /** The wamid of the (first) message a built body carries. */
    idOf: (body: ReturnType<typeof envelope>) => (body.entry[0]!.changes[0]!.value as unknown as { messages: Array<{ id: string }> }).messages[0]!.id,
    /** POSTs a body signed with the app secret (or with `signature` instead). */
    async post(body: unknown, opts: { signature?: string | null; path?: string } = {}) {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const signature = opts.signature === undefined ? hubSignature(target.appSecret, raw) : opts.signature;
      if (signature !== null) headers['x-hub-signature-256'] = signature;
      const res = await fetch(`${target.url}${opts.path ?? ''}`, { method: 'POST', headers, body: raw });
      return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
    },
    async verify(query: Record<string, string>) {
      const res = await fetch(`${target.url}?${new URLSearchParams(query)}`);
      return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
    },
  };
}
