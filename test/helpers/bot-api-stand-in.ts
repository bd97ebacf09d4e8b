import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the Bot API answers: `{ok: true, result}`, or its documented error shape (HTTP status = `error_code`). */
export type BotApiAnswer = { ok: true; result: unknown } | { ok: false; error_code: number; description: string; parameters?: Record<string, unknown> };

export interface BotApiCall {
  method: string;
  params: Record<string, unknown>;
  at: number;
}

/** Telegram's own words for the failures that keep long polling from working (core.telegram.org/bots/api#getupdates). */
export const BOT_API_ERRORS = {
  conflict: { ok: false, error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' },
  webhookActive: { ok: false, error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" },
  unauthorized: { ok: false, error_code: 401, description: 'Unauthorized' },
  badGateway: { ok: false, error_code: 502, description: 'Bad Gateway' },
  blocked: { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' },
} satisfies Record<string, BotApiAnswer>;

/**
 * A small stand-in for the Telegram Bot API on loopback, for what the
 * emulator (telegram-test-api) cannot do: answer a method with an error.
 * Every method answers success by default (getMe with a bot, getUpdates with
 * queued updates or, after a short wait, none; sendMessage with a message);
 * `answer(method, fn)` replaces one method's answer. Calls are recorded.
 */
export async function botApiStandIn() {
  const calls: BotApiCall[] = [];
  const overrides = new Map<string, (params: Record<string, unknown>) => BotApiAnswer>();
  const updates: Array<{ update_id: number } & Record<string, unknown>> = [];
  let messageId = 0;
  const defaults = (method: string, params: Record<string, unknown>): BotApiAnswer => {
    switch (method) {
      case 'getMe':
        return { ok: true, result: { id: 4242, is_bot: true, first_name: 'Stand-in', username: 'stand_in_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false } };
      case 'getUpdates': {
        const offset = Number(params.offset ?? 0);
        return { ok: true, result: updates.filter((u) => u.update_id >= offset) };
      }
      case 'sendMessage':
        return { ok: true, result: { message_id: ++messageId, date: Math.floor(Date.now() / 1000), chat: { id: Number(params.chat_id), type: 'private' }, text: params.text } };
      default:
        return { ok: true, result: true };
    }
  };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      const method = (req.url ?? '').split('?')[0]!.split('/').pop() ?? '';
      let params: Record<string, unknown> = {};
      try {
        params = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        // grammY sends JSON unless it uploads files, which these tests do not.
      }
      calls.push({ method, params, at: Date.now() });
      const answer = overrides.get(method)?.(params) ?? defaults(method, params);
      // Long polling with nothing to deliver waits a little (like `timeout`, but short), so the loop does not spin.
      if (method === 'getUpdates' && answer.ok && Array.isArray(answer.result) && answer.result.length === 0) await new Promise((r) => setTimeout(r, 100));
      if (res.destroyed) return;
      res.writeHead(answer.ok ? 200 : answer.error_code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    /** The API root to give grammY (`TELEGRAM_API_ROOT`). */
    url: `http://127.0.0.1:${port}`,
    calls,
    /** Answers `method` with `fn` from now on; `undefined` restores the default. */
    answer(method: string, fn: ((params: Record<string, unknown>) => BotApiAnswer) | undefined) {
      if (fn) overrides.set(method, fn);
      else overrides.delete(method);
    },
    /** Queues an update for getUpdates. */
    push(update: { update_id: number } & Record<string, unknown>) {
      updates.push(update);
    },
    count: (method: string) => calls.filter((c) => c.method === method).length,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export type BotApiStandIn = Awaited<ReturnType<typeof botApiStandIn>>;
