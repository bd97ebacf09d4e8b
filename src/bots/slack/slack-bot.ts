import { Listeners } from '../../core/listeners.js';
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import bolt from '@slack/bolt';
import type { App as BoltApp, BlockAction, ButtonAction, types } from '@slack/bolt';
import express from 'express';
import type { Logger } from '../../config/logger.js';
import type { ApprovalOutcome, ApprovalPrompt, BotAgent, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bot-agent.js';
import type { BotContext } from '../channel-registry.js';

const { App, ExpressReceiver } = bolt;
type KnownBlock = types.KnownBlock;

export interface SlackAgentConfig {
  id: string;
  botToken: string;
  signingSecret: string;
  appToken?: string;
  approvalsChannel?: string;
  staffChannel?: string;
}

const RISK: Record<string, string> = { low: ':large_green_circle: low', medium: ':large_yellow_circle: medium', high: ':large_orange_circle: high', critical: ':red_circle: critical' };
const NEEDS_HUMAN = new Set(['invalid_auth', 'account_inactive', 'token_revoked', 'not_authed', 'token_expired']);

/** Bolt's logger interface over our winston child logger (so its lines are JSON, redacted, in our files). */
function boltLogger(log: Logger) {
  let level = 'info';
  const text = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return {
    debug: (...args: unknown[]) => log.debug(text(args)),
    info: (...args: unknown[]) => log.info(text(args)),
    warn: (...args: unknown[]) => log.warn(text(args)),
    error: (...args: unknown[]) => log.error(text(args)),
    setLevel: (l: string) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  } as unknown as bolt.Logger;
}

/** Approval buttons carry `approvalId:mac`; the MAC (keyed by the bot token) stops hand-made payloads. */
function signValue(secret: string, approvalId: string, decision: string): string {
  return `${approvalId}:${createHmac('sha256', secret).update(`${approvalId}:${decision}`).digest('base64url').slice(0, 12)}`;
}
function verifyValue(secret: string, value: string, decision: string): string | null {
  const [approvalId, mac] = value.split(':');
  return approvalId && mac && signValue(secret, approvalId, decision) === value ? approvalId : null;
}

function promptBlocks(p: ApprovalPrompt): KnownBlock[] {
  return [
    { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${p.actionType}`.slice(0, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: p.summary.slice(0, 2900) } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Branch*\n${p.branchName}` },
        { type: 'mrkdwn', text: `*Risk*\n${RISK[p.riskLevel] ?? p.riskLevel}` },
        { type: 'mrkdwn', text: `*Requested by*\n${p.requester}` },
        { type: 'mrkdwn', text: `*Expires*\n<!date^${Math.floor(Date.parse(p.expiresAt) / 1000)}^{date_short_pretty} {time}|${p.expiresAt}>` },
      ],
    },
    ...(p.details ? [{ type: 'section', text: { type: 'mrkdwn', text: `*Details*\n${p.details.slice(0, 2900)}` } } as KnownBlock] : []),
    { type: 'context', elements: [{ type: 'mrkdwn', text: `Code ${p.code}` }] },
  ];
}

/**
 * A Slack app (Bolt) as a BotAgent. Requests arrive through `httpHandler`
 * (mounted by the coordinator at /webhooks/slack/<agent id>), verified by
 * Bolt with the signing secret; Socket Mode when an app token is configured.
 * Actions are acknowledged first, then handled.
 */
export class SlackBot implements BotAgent {
  readonly channel = 'slack';
  readonly id: string;
  private app: BoltApp | undefined;
  private handler: express.Router | undefined;
  private readonly listeners = new Listeners<BotEvent>();
  private readonly secret: string;
  private readonly prompts = new Map<string, ApprovalPrompt>();
  /** Alert threads: chat + thread key -> ts of the first message. */
  private readonly threads = new Map<string, string>();
  private readonly log: Logger;

  constructor(
    private readonly config: SlackAgentConfig,
    private readonly context: BotContext,
  ) {
    this.id = config.id;
    this.secret = createHash('sha256').update(`actions:${config.botToken}`).digest('hex');
    this.log = context.logger.child({ module: 'slack', agentId: config.id });
  }

  /** Express-compatible handler for Slack's HTTP requests (events, interactions). */
  get httpHandler(): ((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void) | undefined {
    return this.handler as unknown as ((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void) | undefined;
  }

  private build(): BoltApp {
    // Bounded retries (rate limits are waited out within them) and a request timeout, so a
    // Slack outage shows up in health checks instead of hanging calls for half an hour.
    const clientOptions = {
      ...(this.context.env.SLACK_API_URL ? { slackApiUrl: this.context.env.SLACK_API_URL } : {}),
      retryConfig: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
      timeout: 10_000,
    };
    if (this.config.appToken) {
      return new App({ token: this.config.botToken, appToken: this.config.appToken, socketMode: true, clientOptions, deferInitialization: true, logger: boltLogger(this.log) });
    }
    const router = express.Router();
    const logger = boltLogger(this.log);
    const receiver = new ExpressReceiver({ signingSecret: this.config.signingSecret, endpoints: '/', router, processBeforeResponse: false, logger });
    this.handler = router;
    return new App({ token: this.config.botToken, receiver, clientOptions, deferInitialization: true, logger });
  }

  async start(): Promise<void> {
    if (this.app) return;
    const app = this.build();
    app.action<BlockAction<ButtonAction>>({ action_id: /^approval_(approve|reject)$/ }, async ({ ack, body, action, client }) => {
      await ack(); // within Slack's 3 seconds, before any slow work
      const decision = action.action_id === 'approval_approve' ? 'approve' : 'reject';
      const approvalId = verifyValue(this.secret, action.value ?? '', decision);
      const channelId = body.channel?.id ?? body.container?.channel_id;
      if (!approvalId) {
        this.log.warn('action with invalid value ignored', { user: body.user.id });
        return;
      }
      const reply = this.context.decide
        ? await this.context.decide({ agentId: this.id, channel: 'slack', approvalId, decision, deciderId: body.user.id }).catch((error: unknown) => {
            this.log.error('decision failed', { error, approvalId });
            return { ok: false, text: 'Something went wrong; try again or use the dashboard.' };
          })
        : { ok: false, text: 'Decisions are not taken here.' };
      if (!reply.ok && channelId) await client.chat.postEphemeral({ channel: channelId, user: body.user.id, text: reply.text });
      if (reply.ok && decision === 'reject' && 'askReason' in reply && reply.askReason) {
        await client.views.open({
          trigger_id: body.trigger_id,
          view: {
            type: 'modal',
            callback_id: 'approval_reject_reason',
            private_metadata: approvalId,
            title: { type: 'plain_text', text: 'Rejected' },
            submit: { type: 'plain_text', text: 'Save reason' },
            close: { type: 'plain_text', text: 'No reason' },
            blocks: [{ type: 'input', block_id: 'reason', optional: true, label: { type: 'plain_text', text: 'Why? (optional)' }, element: { type: 'plain_text_input', action_id: 'value', multiline: true } }],
          },
        });
      }
    });
    // People's messages (staff answering a hand-off in its thread, DMs): reported upward; Bolt already drops our own.
    app.event('message', async ({ event }) => {
      if (event.subtype !== undefined || !('user' in event) || !event.user || typeof event.text !== 'string') return;
      const thread = 'thread_ts' in event && event.thread_ts && event.thread_ts !== event.ts ? event.thread_ts : undefined;
      this.listeners.emit({
        type: 'message',
        message: {
          agentId: this.id,
          channel: 'slack',
          chatId: event.channel,
          senderId: event.user,
          text: event.text,
          at: new Date(Number(event.ts) * 1000).toISOString(),
          messageId: event.ts,
          ...(thread ? { thread } : {}),
          ...(event.channel_type !== 'im' ? { group: true } : {}),
        },
      });
    });
    app.view('approval_reject_reason', async ({ ack, body, view }) => {
      await ack();
      const reason = view.state.values.reason?.value?.value?.trim();
      if (!reason || !this.context.decide) return;
      await this.context.decide({ agentId: this.id, channel: 'slack', approvalId: view.private_metadata, decision: 'reject', deciderId: body.user.id, reason });
    });
    app.error(async (error) => {
      this.log.error('slack handler failed', { error });
    });
    await app.init();
    if (this.config.appToken) await app.start();
    this.app = app;
  }

  async stop(): Promise<void> {
    if (this.config.appToken) await this.app?.stop().catch(() => undefined);
    this.app = undefined;
    this.handler = undefined;
  }

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const app = this.app ?? this.build();
    const started = Date.now();
    try {
      const res = await Promise.race([
        app.client.auth.test(),
        new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error('timed out')))),
      ]);
      return { ok: true, latencyMs: Date.now() - started, detail: `${res.team ?? ''} as ${res.user ?? ''}`.trim() };
    } catch (error) {
      const code = (error as { data?: { error?: string } }).data?.error;
      if (code && NEEDS_HUMAN.has(code)) {
        return { ok: false, needsHuman: true, latencyMs: Date.now() - started, detail: `Slack refused the bot token (${code}): it needs a person to install the app again or set a new token` };
      }
      return { ok: false, latencyMs: Date.now() - started, detail: code ?? (error instanceof Error ? error.message : String(error)) };
    }
  }

  private need(): BoltApp {
    if (!this.app) throw new Error(`slack agent ${this.id} is not started`);
    return this.app;
  }

  async send(chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    // Thread keys are per chat: the same incident posted to a DM and to #ops has a thread in each.
    const key = options?.thread ? `${chatId}\u0000${options.thread}` : undefined;
    const thread = options?.replyTo ?? (key ? this.threads.get(key) : undefined);
    const res = await this.need().client.chat.postMessage({ channel: chatId, text, thread_ts: thread });
    if (key && !thread && res.ts) this.threads.set(key, res.ts);
    if (key && options?.closeThread) this.threads.delete(key);
    return { chatId: res.channel ?? chatId, messageId: res.ts ?? '' };
  }

  async promptApproval(chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    const blocks: KnownBlock[] = [
      ...promptBlocks(prompt),
      {
        type: 'actions',
        block_id: `approval:${prompt.approvalId}`,
        elements: [
          { type: 'button', action_id: 'approval_approve', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: signValue(this.secret, prompt.approvalId, 'approve') },
          { type: 'button', action_id: 'approval_reject', style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: signValue(this.secret, prompt.approvalId, 'reject') },
        ],
      },
    ];
    const res = await this.need().client.chat.postMessage({ channel: chatId, text: `Approval needed: ${prompt.summary}`, blocks });
    const ref = { chatId: res.channel ?? chatId, messageId: res.ts ?? '' };
    this.prompts.set(`${ref.chatId}:${ref.messageId}`, prompt);
    return ref;
  }

  async updateApproval(ref: MessageRef, o: ApprovalOutcome): Promise<void> {
    const prompt = this.prompts.get(`${ref.chatId}:${ref.messageId}`);
    const when = o.at ? ` at <!date^${Math.floor(Date.parse(o.at) / 1000)}^{date_short_pretty} {time}|${o.at}>` : '';
    const line = `*${o.status.toUpperCase()}*${o.by ? ` by ${o.by}` : ''}${o.via ? ` via ${o.via}` : ''}${when}${o.reason ? ` — reason: ${o.reason}` : ''}`;
    const blocks: KnownBlock[] = [...(prompt ? promptBlocks(prompt) : []), { type: 'section', text: { type: 'mrkdwn', text: line } }];
    await this.need().client.chat.update({ channel: ref.chatId, ts: ref.messageId, text: `${o.status}: ${prompt?.summary ?? o.approvalId}`, blocks });
  }

  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }
}
