import { Listeners } from '../../core/listeners.js';
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import bolt from '@slack/bolt';
import type { App as BoltApp, BlockAction, ButtonAction, ReceiverProcessEventErrorHandlerArgs, types } from '@slack/bolt';
import express from 'express';
import type { Logger } from '../../config/logger.js';
import type { ApprovalOutcome, ApprovalPrompt, BotAgent, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bot-agent.js';
import type { BotContext, DecisionReply } from '../channel-registry.js';
import { noticeModal, outcomeBlocks, promptBlocks, reasonModal } from './slack-blocks.js';
import { escapeMrkdwn, fromSlackText } from './slack-text.js';

const { App, ExpressReceiver } = bolt;
type KnownBlock = types.KnownBlock;
/** Message subtypes that are still a person writing (a thread reply also sent to the channel, a message with a file). */
const PERSON_SUBTYPES = new Set(['thread_broadcast', 'file_share']);

export interface SlackAgentConfig {
  id: string;
  botToken: string;
  signingSecret: string;
  appToken?: string;
  approvalsChannel?: string;
  staffChannel?: string;
}

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
  /** No retries, for calls that must not wait: health checks (measuring Slack now) and name look-ups. */
  private readonly plainClient: bolt.webApi.WebClient;
  /** Slack user id -> display name (null: unknown, e.g. no users:read scope); bounded. */
  private readonly names = new Map<string, string | null>();
  private readonly listeners = new Listeners<BotEvent>();
  private readonly secret: string;
  private readonly log: Logger;

  constructor(
    private readonly config: SlackAgentConfig,
    private readonly context: BotContext,
  ) {
    this.id = config.id;
    this.secret = createHash('sha256').update(`actions:${config.botToken}`).digest('hex');
    this.log = context.logger.child({ module: 'slack', agentId: config.id });
    this.plainClient = new bolt.webApi.WebClient(config.botToken, { ...this.apiOptions(), retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 10_000, logger: boltLogger(this.log) });
  }

  private apiOptions() {
    const slackApiUrl = this.context.env.SLACK_API_URL as string | undefined;
    return slackApiUrl ? { slackApiUrl } : {};
  }

  /** Express-compatible handler for Slack's HTTP requests (events, interactions). */
  get httpHandler(): ((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void) | undefined {
    return this.handler as unknown as ((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void) | undefined;
  }

  /** A Bolt app, and the router to mount for HTTP (none in Socket Mode). */
  private build(): { app: BoltApp; router?: express.Router } {
    // Bounded retries (rate limits are waited out within them, off the event loop) and a request
    // timeout, so a Slack outage shows up in health checks instead of hanging calls for half an hour.
    const clientOptions = { ...this.apiOptions(), retryConfig: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 10_000 }, timeout: 10_000 };
    const logger = boltLogger(this.log);
    if (this.config.appToken) {
      // The Socket Mode receiver opens its connection with its own client: point it at SLACK_API_URL too.
      const installerOptions = { clientOptions: this.apiOptions() };
      return { app: new App({ token: this.config.botToken, appToken: this.config.appToken, socketMode: true, clientOptions, installerOptions, deferInitialization: true, logger }) };
    }
    const router = express.Router();
    const receiver = new ExpressReceiver({ signingSecret: this.config.signingSecret, endpoints: '/', router, processBeforeResponse: false, logger, processEventErrorHandler: (args) => this.refuseUnprocessable(args) });
    return { app: new App({ token: this.config.botToken, receiver, clientOptions, deferInitialization: true, logger }), router };
  }

  /**
   * A signed request Bolt cannot process (an `event_callback` whose `event` is
   * not an object, a payload of no known shape) is the sender's fault: a 400
   * with the API's error shape, not Bolt's default 500. Our own listeners'
   * errors never get here (they go to `app.error`, which logs them).
   */
  private async refuseUnprocessable({ error, response }: ReceiverProcessEventErrorHandlerArgs): Promise<boolean> {
    if (response.headersSent) {
      this.log.warn('a Slack request failed after it was acknowledged', { error });
      return false;
    }
    const unauthorized = error instanceof Error && error.name === 'AuthorizationError';
    this.log.warn(`Slack request refused: ${unauthorized ? 'not authorized' : 'Bolt could not process it'}`, { error });
    response.writeHead(unauthorized ? 401 : 400, { 'content-type': 'application/json; charset=utf-8' });
    response.end(JSON.stringify({ error: { code: unauthorized ? 'unauthorized' : 'validation_failed', message: unauthorized ? 'Slack request not authorized' : 'Not a Slack request this app can process' } }));
    return true;
  }

  async start(): Promise<void> {
    if (this.app) return;
    const { app, router } = this.build();
    app.action<BlockAction<ButtonAction>>({ action_id: /^approval_(approve|reject)$/ }, async ({ ack, body, action, client }) => {
      await ack(); // within Slack's 3 seconds, before any slow work
      const decision = action.action_id === 'approval_approve' ? 'approve' : 'reject';
      const approvalId = verifyValue(this.secret, action.value ?? '', decision);
      const channelId = body.channel?.id ?? body.container?.channel_id;
      if (!approvalId) {
        this.log.warn('action with invalid value ignored', { user: body.user.id });
        return;
      }
      // Slack's trigger_id lasts 3 seconds: the reason modal opens now, while the decision is taken,
      // and is turned into a notice if no reason is wanted (refused, too late, already given).
      const modal =
        decision === 'reject'
          ? client.views.open({ trigger_id: body.trigger_id, view: reasonModal(approvalId) }).catch((error: unknown) => {
              this.log.warn('could not open the reason modal', { error, approvalId });
              return undefined;
            })
          : undefined;
      const reply: DecisionReply = this.context.decide
        ? await this.context.decide({ agentId: this.id, channel: 'slack', approvalId, decision, deciderId: body.user.id }).catch((error: unknown) => {
            this.log.error('decision failed', { error, approvalId });
            return { ok: false, text: 'Something went wrong; try again or use the dashboard.' };
          })
        : { ok: false, text: 'Decisions are not taken here.' };
      // Refusals, and "recorded; N more needed" for an n-of-m approval, are shown to the clicker only.
      const tell = !reply.ok || reply.recorded;
      if (tell && channelId) await client.chat.postEphemeral({ channel: channelId, user: body.user.id, text: reply.text });
      const viewId = (await modal)?.view?.id;
      if (viewId && !(reply.ok && reply.askReason)) {
        await client.views.update({ view_id: viewId, view: noticeModal(reply.text) }).catch((error: unknown) => this.log.warn('could not update the reason modal', { error, approvalId }));
      }
    });
    // People's messages (staff answering a hand-off in its thread, DMs): reported upward; Bolt already drops our own.
    app.event('message', async ({ event }) => {
      if ((event.subtype !== undefined && !PERSON_SUBTYPES.has(event.subtype)) || !('user' in event) || !event.user || typeof event.text !== 'string' || !event.text) return;
      const thread = 'thread_ts' in event && event.thread_ts && event.thread_ts !== event.ts ? event.thread_ts : undefined;
      const name = await this.displayName(event.user);
      this.listeners.emit({
        type: 'message',
        message: {
          agentId: this.id,
          channel: 'slack',
          chatId: event.channel,
          senderId: event.user,
          ...(name ? { senderName: name } : {}),
          text: fromSlackText(event.text),
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
    this.handler = router;
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    this.handler = undefined;
    if (!this.config.appToken || !app) return;
    try {
      await app.stop();
    } catch (error) {
      // Forgotten either way: a restart builds a new app and Socket Mode connection.
      this.log.warn('the Slack Socket Mode connection did not close cleanly; dropped', { error });
    }
  }

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const started = Date.now();
    let onAbort: (() => void) | undefined;
    try {
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new Error('timed out'));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      const res = await Promise.race([this.plainClient.auth.test(), aborted]);
      return { ok: true, latencyMs: Date.now() - started, detail: `${res.team ?? ''} as ${res.user ?? ''}`.trim() };
    } catch (error) {
      const code = (error as { data?: { error?: string } }).data?.error;
      if (code && NEEDS_HUMAN.has(code)) {
        return { ok: false, needsHuman: true, latencyMs: Date.now() - started, detail: `Slack refused the bot token (${code}): it needs a person to install the app again or set a new token` };
      }
      return { ok: false, latencyMs: Date.now() - started, detail: code ?? (error instanceof Error ? error.message : String(error)) };
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** The name staff see each other by (a reply relayed to a customer is signed with it). */
  private async displayName(userId: string): Promise<string | undefined> {
    if (!this.names.has(userId)) {
      let name: string | null = null;
      try {
        const { user } = await this.plainClient.users.info({ user: userId });
        name = user?.profile?.display_name || user?.real_name || user?.name || null;
      } catch (error) {
        this.log.debug('no name for a Slack user (the app may lack the users:read scope)', { user: userId, error });
      }
      if (this.names.size >= 1000) this.names.clear();
      this.names.set(userId, name);
    }
    return this.names.get(userId) ?? undefined;
  }

  private need(): BoltApp {
    if (!this.app) throw new Error(`slack agent ${this.id} is not started`);
    return this.app;
  }

  async send(chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    const res = await this.need().client.chat.postMessage({ channel: chatId, text: escapeMrkdwn(text), thread_ts: options?.replyTo });
    return { chatId: res.channel ?? chatId, messageId: res.ts ?? '' };
  }

  /** The prompt's blocks with its signed Approve / Reject buttons. */
  private promptWithButtons(prompt: ApprovalPrompt): KnownBlock[] {
    return [
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
  }

  async promptApproval(chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    const res = await this.need().client.chat.postMessage({ channel: chatId, text: escapeMrkdwn(`Approval needed: ${prompt.summary}`), blocks: this.promptWithButtons(prompt) });
    return { chatId: res.channel ?? chatId, messageId: res.ts ?? '' };
  }

  async updateApproval(ref: MessageRef, o: ApprovalOutcome): Promise<void> {
    // Still pending (its progress changed): the prompt redrawn, buttons kept.
    if (o.status === 'pending' && o.prompt) {
      await this.need().client.chat.update({ channel: ref.chatId, ts: ref.messageId, text: escapeMrkdwn(`Approval needed: ${o.prompt.summary}`), blocks: this.promptWithButtons(o.prompt) });
      return;
    }
    // The outcome carries the prompt, so any process (a restarted one too) redraws it whole.
    const summary = escapeMrkdwn(`${o.status}: ${o.prompt?.summary ?? o.approvalId}`);
    await this.need().client.chat.update({ channel: ref.chatId, ts: ref.messageId, text: summary, blocks: outcomeBlocks(o, o.prompt) });
  }

  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }
}
