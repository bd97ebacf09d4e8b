import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  /** When the call arrived (ms since the epoch). */
  at: number;
}

/**
 * Stands in for Slack's Web API (slack.com cannot be reached here): records
 * every call and answers the methods we use with Slack's shapes —
 * auth.test, chat.postMessage, chat.update, chat.postEphemeral, views.open,
 * views.update, users.info. `rateLimited` lists methods whose next call gets
 * Slack's 429 with `Retry-After: 1`.
 */
export async function slackApiStandIn() {
  const state = { calls: [] as SlackCall[], authError: undefined as string | undefined, delayMs: 0, seq: 0, rateLimited: [] as string[], users: {} as Record<string, string> };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0];
      const type = req.headers['content-type'] ?? '';
      const args: Record<string, unknown> = type.includes('json') ? JSON.parse(raw || '{}') : Object.fromEntries(new URLSearchParams(raw));
      for (const key of ['blocks', 'view']) if (typeof args[key] === 'string') args[key] = JSON.parse(args[key] as string);
      state.calls.push({ method, args, at: Date.now() });
      if (state.rateLimited.includes(method)) {
        state.rateLimited.splice(state.rateLimited.indexOf(method), 1);
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
        return;
      }
      if (state.delayMs && method !== 'auth.test') await new Promise((r) => setTimeout(r, state.delayMs));
      if (Array.isArray(args.blocks) && !blocksFit(args.blocks as Block[])) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'invalid_blocks' }));
        return;
      }
      const channel = String(args.channel ?? '');
      const dm = channel.startsWith('U') ? `D${channel.slice(1)}` : channel;
      const body =
        method === 'auth.test'
          ? state.authError
            ? { ok: false, error: state.authError }
            : { ok: true, url: 'https://test.slack.com/', team: 'Test', user: 'coordinator', team_id: 'T0TEST', user_id: 'U0BOT', bot_id: 'B0BOT' }
          : method === 'chat.postMessage'
            ? { ok: true, channel: dm, ts: `1700000000.${String(++state.seq).padStart(6, '0')}`, message: { text: args.text } }
            : method === 'chat.update'
              ? { ok: true, channel, ts: args.ts }
              : method === 'chat.postEphemeral'
                ? { ok: true, message_ts: '1700000000.999999' }
                : method === 'views.open' || method === 'views.update'
                  ? { ok: true, view: { id: 'V0TEST' } }
                  : method === 'users.info'
                    ? state.users[String(args.user)]
                      ? { ok: true, user: { id: args.user, name: 'handle', real_name: state.users[String(args.user)], profile: { display_name: state.users[String(args.user)] } } }
                      : { ok: false, error: 'user_not_found' }
                    : { ok: false, error: 'unknown_method' };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`,
    calls: (method: string) => state.calls.filter((c) => c.method === method),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Block {
  type: string;
  text?: { text: string };
  fields?: Array<{ text: string }>;
}

/** Slack's Block Kit limits: header 150, section text 3000, each field 2000 characters. */
function blocksFit(blocks: Block[]): boolean {
  return blocks.every((b) => {
    if (b.type === 'header') return (b.text?.text.length ?? 0) <= 150;
    if (b.type === 'section') return (b.text?.text.length ?? 0) <= 3000 && (b.fields ?? []).every((f) => f.text.length <= 2000);
    return true;
  });
}

/** Headers for a request signed exactly as Slack signs it: v0 HMAC-SHA256 over `v0:<ts>:<body>`. */
export function slackSignature(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-signature': signature, 'x-slack-request-timestamp': String(timestamp), 'content-type': 'application/x-www-form-urlencoded' };
}

/** An interaction body as Slack posts it: `payload=<urlencoded JSON>`. */
export function interactionBody(payload: unknown): string {
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
