import { promptTime } from '../prompt-time.js';
import { Listeners } from '../../core/listeners.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Bot, BotError, GrammyError, HttpError, type Context } from 'grammy';
import { autoRetry } from '@grammyjs/auto-retry';
import { apiThrottler } from '@grammyjs/transformer-throttler';
import type { Update } from 'grammy/types';
import type { Logger } from '../../config/logger.js';
import type { ApprovalOutcome, ApprovalPrompt, BotAgent, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bot-agent.js';
import type { BotContext } from '../channel-registry.js';
import { decodeCallback, encodeCallback } from './callback-data.js';
import { pollingTrouble, type PollingTrouble } from './polling-trouble.js';

export interface TelegramAgentConfig {
  id: string;
  token: string;
  /** Public HTTPS base; with it the bot uses a webhook at `<webhookUrl>/webhooks/telegram/<id>`. */
  webhookUrl?: string;
  webhookSecret?: string;
  /** Minimum time between two getUpdates calls (guards against servers that ignore `timeout`). */
  pollMinIntervalMs?: number;
}

/** grammY's Node build types signals with the abort-controller polyfill; the platform's AbortSignal works at run time. */
type GrammySignal = Parameters<Bot['api']['getMe']>[0];
const asSignal = (signal: AbortSignal) => signal as unknown as GrammySignal;

const RISK_MARK: Record<string, string> = { low: '🟢 low', medium: '🟡 medium', high: '🟠 high', critical: '🔴 critical' };
const REASON_WINDOW_MS = 10 * 60_000;
/** Telegram's longest message. */
const MAX_TEXT = 4096;
/** After a failed getUpdates, wait this long, doubling on each failure in a row up to the cap (a 409 fight with another poller calms down). */
const POLL_RETRY_BASE_MS = 2000;
const POLL_RETRY_MAX_MS = 15_000;

/** Resolves after `ms`, or at once when `signal` aborts (so `stop` never waits out a backoff). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** When Telegram says a message was sent (Unix seconds), or now when it gives no usable date. */
function sentAt(date: unknown): string {
  const ms = typeof date === 'number' ? date * 1000 : NaN;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : new Date().toISOString();
}

function renderPrompt(p: ApprovalPrompt): string {
  return [
    `Approval needed — ${p.actionType} (${p.code})`,
    p.summary,
    p.details ? `Details: ${p.details}` : '',
    `Branch: ${p.branchName}   Risk: ${RISK_MARK[p.riskLevel] ?? p.riskLevel}`,
    `Requested by: ${p.requester}   Expires: ${promptTime(p.expiresAt, p.timeZone)}`,
    ...(p.progress ?? []),
  ]
    .filter(Boolean)
    .join('\n');
}

function renderOutcome(o: ApprovalOutcome): string {
  const when = o.at ? ` at ${promptTime(o.at, o.prompt?.timeZone)}` : '';
  const who = o.by ? ` by ${o.by}` : '';
  const via = o.via ? ` via ${o.via}` : '';
  return `➡ ${o.status.toUpperCase()}${who}${via}${when}${o.reason ? ` — reason: ${o.reason}` : ''}`;
}

/**
 * A Telegram bot (grammY) as a BotAgent: long polling by default, or a webhook
 * verified by Telegram's secret token; approval prompts with signed inline
 * buttons; customer messages reported as events. Sends go through grammY's
 * throttler and auto-retry (waits `retry_after` on 429).
 */
export class TelegramBot implements BotAgent {
  readonly channel = 'telegram';
  readonly id: string;
  private bot: Bot | undefined;
  private polling: AbortController | undefined;
  /** The start under way, aborted by stop(). */
  private starting: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Listeners<BotEvent>();
  private readonly callbackSecret: string;
  /** Rejections that may still get a reason: chat:promptMessage -> approval id and when. */
  private readonly awaitingReason = new Map<string, { approvalId: string; at: number }>();
  private readonly log: Logger;
  /** Why long polling gets no updates right now (reported by the probe; cleared by the next successful getUpdates). */
  private pollTrouble: PollingTrouble | undefined;

  constructor(
    private readonly config: TelegramAgentConfig,
    private readonly context: BotContext,
  ) {
    this.id = config.id;
    this.callbackSecret = createHash('sha256').update(`callback:${config.token}`).digest('hex');
    this.log = context.logger.child({ module: 'telegram', agentId: config.id });
  }

  /** The secret Telegram must send in `X-Telegram-Bot-Api-Secret-Token` (configured, or derived from the token). */
  get webhookSecret(): string {
    return this.config.webhookSecret || createHash('sha256').update(`webhook:${this.config.token}`).digest('hex').slice(0, 48);
  }

  private build(): Bot {
    const apiRoot = this.context.env.TELEGRAM_API_ROOT as string | undefined;
    const bot = new Bot(this.config.token, { client: apiRoot ? { apiRoot } : {} });
    bot.api.config.use(apiThrottler());
    // Rate limits (429 retry_after) and 5xx are retried a few times; a network error fails at once, so a send
    // while Telegram is unreachable fails and its caller falls back (auto-retry would otherwise retry it for
    // hours). getUpdates is left to the polling loop, which must see every failure to report it.
    const retry = autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: true });
    bot.api.config.use((prev, method, payload, signal) => (method === 'getUpdates' ? prev(method, payload, signal) : retry(prev, method, payload, signal)));
    bot.command('start', (ctx) => this.onStart(ctx));
    bot.on('callback_query:data', (ctx) => this.onCallback(ctx));
    bot.on('message:text', (ctx) => this.onText(ctx));
    // No bot.catch: grammY calls it only from its own bot.start(); every update goes through dispatch() instead.
    return bot;
  }

  /**
   * Runs one update through the handlers; a handler that throws is contained
   * here and logged with the update id, for polling and webhooks alike (a
   * webhook answered 500 would make Telegram send the same update again and
   * again, holding up the ones behind it).
   */
  private async dispatch(bot: Bot, update: Update): Promise<void> {
    try {
      await bot.handleUpdate(update);
    } catch (error) {
      const cause = error instanceof BotError ? error.error : error;
      this.log.error('telegram update failed; skipped', { error: cause, updateId: update.update_id });
    }
  }

  async start(): Promise<void> {
    if (this.bot) return;
    const bot = this.build();
    // A stop while starting aborts the start's calls (Telegram may not answer for minutes: nothing must outlive stop).
    const starting = new AbortController();
    this.starting = starting;
    try {
      // Only a bot that finished starting is kept: a failed start must not look healthy to the probe.
      await bot.init(asSignal(starting.signal));
      if (this.config.webhookUrl) {
        const url = `${this.config.webhookUrl.replace(/\/$/, '')}/webhooks/telegram/${this.id}`;
        await bot.api.setWebhook(url, { secret_token: this.webhookSecret }, asSignal(starting.signal));
        this.log.info(`webhook set to ${url}`);
        this.bot = bot;
        return;
      }
      await bot.api.deleteWebhook(undefined, asSignal(starting.signal));
    } finally {
      if (this.starting === starting) this.starting = undefined;
    }
    this.bot = bot;
    this.pollTrouble = undefined;
    this.polling = new AbortController();
    this.loop = this.poll(bot, this.polling.signal).catch((error: unknown) => {
      // Not expected (the loop handles its own failures); if it happens, the probe reports it and the monitor restarts the bot.
      this.pollTrouble = { detail: `long polling stopped: ${error instanceof Error ? error.message : String(error)}`, needsHuman: false, reconnecting: false };
      this.log.error('telegram long polling stopped unexpectedly', { error });
    });
  }

  /** Our own long-polling loop (grammY's runner would spin against servers that ignore `timeout`). */
  private async poll(bot: Bot, signal: AbortSignal): Promise<void> {
    let offset = 0;
    let failures = 0;
    const minGap = this.config.pollMinIntervalMs ?? 250;
    while (!signal.aborted) {
      const started = Date.now();
      let updates: Update[];
      try {
        updates = await bot.api.getUpdates({ offset, timeout: 25, allowed_updates: ['message', 'callback_query'] }, asSignal(signal));
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        const trouble = pollingTrouble(error, failures);
        if (trouble && trouble.detail !== this.pollTrouble?.detail) this.log.error(`telegram long polling gets no updates: ${trouble.detail}`, { error });
        else this.log.warn('getUpdates failed; retrying', { error, failures });
        this.pollTrouble = trouble ?? this.pollTrouble;
        await pause(Math.min(POLL_RETRY_MAX_MS, POLL_RETRY_BASE_MS * 2 ** (failures - 1)), signal);
        continue;
      }
      if (this.pollTrouble) this.log.info(`telegram long polling works again (was: ${this.pollTrouble.detail})`);
      failures = 0;
      this.pollTrouble = undefined;
      for (const update of updates) {
        offset = update.update_id + 1;
        await this.dispatch(bot, update);
      }
      const wait = minGap - (Date.now() - started);
      if (wait > 0) await pause(wait, signal);
    }
  }

  async stop(): Promise<void> {
    this.starting?.abort();
    this.polling?.abort();
    // The loop never rejects (its failures are logged and reported by the probe); this waits for it to end.
    await this.loop;
    this.polling = undefined;
    this.loop = undefined;
    this.bot = undefined;
  }

  /** Handles one webhook request: 401 without the right secret (nothing processed), else 200. */
  async handleWebhook(secretHeader: string | undefined, update: unknown): Promise<number> {
    const expected = Buffer.from(this.webhookSecret);
    const given = Buffer.from(secretHeader ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 401;
    if (!this.bot) return 503;
    if (!update || typeof update !== 'object' || typeof (update as Update).update_id !== 'number') return 400;
    await this.dispatch(this.bot, update as Update);
    return 200;
  }

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const bot = this.bot ?? this.build();
    const started = Date.now();
    try {
      const me = await bot.api.getMe(asSignal(signal));
      if (!this.bot) return { ok: false, latencyMs: Date.now() - started, detail: 'Telegram answers, but the bot did not start (see the logs); restarting it' };
      // getMe answering is not enough: long polling may be refused (another poller, a webhook, a revoked token).
      const trouble = this.pollTrouble;
      if (trouble) return { ok: false, latencyMs: Date.now() - started, detail: trouble.detail, ...(trouble.needsHuman ? { needsHuman: true } : {}), ...(trouble.reconnecting ? { reconnecting: true } : {}) };
      return { ok: true, latencyMs: Date.now() - started, detail: `@${me.username}` };
    } catch (error) {
      if (error instanceof GrammyError && (error.error_code === 401 || error.error_code === 404)) {
        return { ok: false, needsHuman: true, latencyMs: Date.now() - started, detail: `Telegram refused the token (${error.error_code} ${error.description}): the token was revoked or is wrong; set a new one and restart` };
      }
      const detail = error instanceof HttpError ? `network error: ${error.message}` : error instanceof Error ? error.message : String(error);
      return { ok: false, latencyMs: Date.now() - started, detail };
    }
  }

  private need(): Bot {
    if (!this.bot) throw new Error(`telegram agent ${this.id} is not started`);
    return this.bot;
  }

  async send(chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    const replyTo = options?.replyTo ? { reply_parameters: { message_id: Number(options.replyTo), allow_sending_without_reply: true } } : {};
    const message = await this.need().api.sendMessage(chatId, text.slice(0, 4096), replyTo);
    return { chatId, messageId: String(message.message_id) };
  }

  private buttons(approvalId: string) {
    return {
      inline_keyboard: [
        [
          { text: '✅ Approve', callback_data: encodeCallback(this.callbackSecret, approvalId, 'approve') },
          { text: '❌ Reject', callback_data: encodeCallback(this.callbackSecret, approvalId, 'reject') },
        ],
      ],
    };
  }

  async promptApproval(chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    const message = await this.need().api.sendMessage(chatId, renderPrompt(prompt), { reply_markup: this.buttons(prompt.approvalId) });
    return { chatId, messageId: String(message.message_id) };
  }

  async updateApproval(ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    // Still pending (its progress changed): the prompt redrawn, buttons kept.
    if (outcome.status === 'pending' && outcome.prompt) {
      await this.need().api.editMessageText(ref.chatId, Number(ref.messageId), renderPrompt(outcome.prompt).slice(0, MAX_TEXT), { reply_markup: this.buttons(outcome.approvalId) });
      return;
    }
    // The outcome carries the prompt, so any process (a restarted one too) redraws it whole.
    const original = outcome.prompt ? renderPrompt(outcome.prompt) : undefined;
    // Telegram takes 4096 characters: the outcome line always fits, the prompt is cut if it must be.
    const line = renderOutcome(outcome).slice(0, 1500);
    const room = MAX_TEXT - line.length - 2;
    const head = original === undefined ? '' : `${original.length > room ? `${original.slice(0, room - 1)}…` : original}\n\n`;
    const text = `${head}${line}`;
    await this.need().api.editMessageText(ref.chatId, Number(ref.messageId), text, { reply_markup: { inline_keyboard: [] } });
  }

  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  private async onStart(ctx: Context): Promise<void> {
    const from = ctx.from;
    if (!from || ctx.chat?.type !== 'private') return;
    const who = this.context.identify?.('telegram', String(from.id));
    if (who) {
      await ctx.reply(`Hello ${who.name}. You are set up as a manager of ${who.branches.join(', ')}: approval requests and alerts for them will arrive here.`);
      return;
    }
    this.emitCustomer(ctx, '/start');
  }

  private async onCallback(ctx: Context): Promise<void> {
    const query = ctx.callbackQuery!;
    const parsed = decodeCallback(this.callbackSecret, query.data ?? '');
    if (!parsed) {
      this.log.warn('callback with invalid data ignored', { from: String(query.from.id) });
      await ctx.answerCallbackQuery({ text: 'This button is not valid.' });
      return;
    }
    let reply = { ok: false, text: 'Decisions are not taken here.' } as { ok: boolean; text: string; askReason?: boolean };
    try {
      if (this.context.decide) {
        reply = await this.context.decide({ agentId: this.id, channel: 'telegram', approvalId: parsed.approvalId, decision: parsed.decision, deciderId: String(query.from.id) });
      }
    } catch (error) {
      this.log.error('decision failed', { error, approvalId: parsed.approvalId });
      reply = { ok: false, text: 'Something went wrong; try again or use the dashboard.' };
    }
    // Always answer, so the button stops spinning; the decision is taken either way, so a failed answer (a query
    // older than Telegram keeps them) must not stop the reason question below.
    try {
      await ctx.answerCallbackQuery({ text: reply.text.slice(0, 200), show_alert: !reply.ok });
      this.log.debug(`answered callback: ${reply.text}`, { approvalId: parsed.approvalId });
    } catch (error) {
      this.log.warn(`could not answer the button press (the presser was not shown: ${reply.text})`, { error, approvalId: parsed.approvalId });
    }
    const message = query.message;
    if (reply.askReason && message) {
      this.awaitingReason.set(`${message.chat.id}:${message.message_id}`, { approvalId: parsed.approvalId, at: Date.now() });
      try {
        await ctx.api.sendMessage(message.chat.id, 'Rejected. If you want to give a reason, reply to the request with it.', { reply_parameters: { message_id: message.message_id } });
      } catch (error) {
        // The rejection stands; only the invitation to add a reason is lost (a reply to the prompt still records one).
        this.log.warn('could not ask for the rejection reason', { error, approvalId: parsed.approvalId, chatId: String(message.chat.id) });
      }
    }
  }

  private async onText(ctx: Context): Promise<void> {
    const message = ctx.message!;
    if (!ctx.from || ctx.from.is_bot) return;
    if (ctx.chat?.type !== 'private') {
      // In groups only replies to this bot's own messages matter (staff answering a hand-off).
      if (message.reply_to_message?.from?.id === ctx.me.id) this.emitCustomer(ctx, message.text ?? '', true);
      return;
    }
    const replyTo = message.reply_to_message?.message_id;
    const pending = replyTo ? this.awaitingReason.get(`${message.chat.id}:${replyTo}`) : undefined;
    if (pending && Date.now() - pending.at < REASON_WINDOW_MS && this.context.decide) {
      this.awaitingReason.delete(`${message.chat.id}:${replyTo}`);
      let reply: { ok: boolean; text: string };
      try {
        reply = await this.context.decide({ agentId: this.id, channel: 'telegram', approvalId: pending.approvalId, decision: 'reject', deciderId: String(ctx.from.id), reason: message.text });
      } catch (error) {
        this.log.error('recording the rejection reason failed', { error, approvalId: pending.approvalId });
        reply = { ok: false, text: 'The reason could not be recorded; try again or use the dashboard.' };
      }
      await ctx.reply(reply.ok ? 'Reason recorded.' : reply.text);
      return;
    }
    this.emitCustomer(ctx, message.text ?? '');
  }

  private emitCustomer(ctx: Context, text: string, group = false): void {
    const from = ctx.from!;
    const message = ctx.message;
    this.listeners.emit({
      type: 'message',
      message: {
        agentId: this.id,
        channel: 'telegram',
        chatId: String(ctx.chat!.id),
        senderId: String(from.id),
        senderName: [from.first_name, from.last_name].filter(Boolean).join(' ') || from.username,
        text,
        at: sentAt(message?.date),
        messageId: message ? String(message.message_id) : undefined,
        replyToMessageId: message?.reply_to_message ? String(message.reply_to_message.message_id) : undefined,
        ...(group ? { group } : {}),
      },
    });
  }
}
