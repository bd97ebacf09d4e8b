import type { Logger } from '../../config/logger.js';
import { isoNow, systemClock, type Clock } from '../../core/clock.js';
import { CodedError, ErrorCode } from '../../core/errors.js';
import { sha256 } from '../../core/ids.js';
import { Listeners } from '../../core/listeners.js';
import type { ApprovalOutcome, ApprovalPrompt, BotAgent, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bot-agent.js';
import type { BotContext, DecisionReply } from '../channel-factory.js';
import { phoneDigits } from '../phone-identity.js';
import { buttonSecret, decodeButtonId, encodeButtonId, looksLikeOurs } from './button-ids.js';
import type { WhatsAppCloudAgentConfig } from './cloud-config.js';
import { cut, MAX_TEXT, outcomeText, promptBody, templateMessage } from './cloud-render.js';
import type { CloudMessageRecord, CloudState } from './cloud-state.js';
import { GraphApiError, GraphClient, type OutboundBody } from './graph-client.js';
import { CHALLENGE, sameSecret, validSignature } from './webhook-signature.js';
import { inboundMessageSchema, messagesChanges, statusSchema, webhookSchema, type InboundMessagePayload, type MessagesChange, type WebhookPayload } from './webhook-payload.js';

export type { WhatsAppCloudAgentConfig } from './cloud-config.js';

/** Meta's customer-service window, less a margin for clocks and messages in flight. */
const WINDOW_MS = 24 * 3600_000 - 5 * 60_000;
const REASON_WINDOW_MS = 10 * 60_000;
const PRUNE_EVERY_MS = 3600_000;
/** The most one send waits out rate limits in all, whatever the retry settings. */
const MAX_TOTAL_WAIT_MS = 120_000;
export const DEFAULT_GRAPH_URL = 'https://graph.facebook.com';

/** When Meta says a message was sent (Unix seconds), never later than now. */
function whenSent(timestamp: string | undefined, now: number): string {
  const ms = timestamp ? Number(timestamp) * 1000 : NaN;
  return new Date(Number.isFinite(ms) && ms > 0 && ms <= now ? ms : now).toISOString();
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/**
 * A WhatsApp Business number on Meta's Cloud API as a BotAgent. Nothing is
 * held open: sends are Graph API calls, and everything inbound (messages,
 * button taps, delivery statuses) arrives by the webhook the factory mounts,
 * verified by its signature before anything is read. Approvals are real
 * reply buttons, or the approved template outside the 24-hour window.
 */
export class WhatsAppCloudBot implements BotAgent {
  readonly channel = 'whatsapp-cloud';
  readonly id: string;
  private readonly graph: GraphClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly secret: string;
  private readonly listeners = new Listeners<BotEvent>();
  /** Webhook work answered already but still running (a test, or `stop`, waits for it). */
  private readonly pending = new Set<Promise<void>>();
  /** A rejection that may still get a reason: `<number>:<prompt wamid>` → the approval, and when. */
  private readonly awaitingReason = new Map<string, { approvalId: string; deciderId: string; at: number }>();
  private started = false;
  private lastWebhookAt: number | undefined;
  private lastPrune = 0;

  constructor(
    private readonly config: WhatsAppCloudAgentConfig,
    private readonly context: BotContext,
    private readonly state: CloudState,
  ) {
    this.id = config.id;
    this.clock = context.clock ?? systemClock;
    this.log = context.logger.child({ module: 'whatsapp-cloud', agentId: config.id });
    this.secret = buttonSecret(config.appSecret, config.id);
    const baseUrl = typeof context.env.WHATSAPP_GRAPH_URL === 'string' && context.env.WHATSAPP_GRAPH_URL ? context.env.WHATSAPP_GRAPH_URL : DEFAULT_GRAPH_URL;
    this.graph = new GraphClient({ baseUrl, version: config.graphApiVersion, phoneNumberId: config.phoneNumberId, accessToken: config.accessToken, timeoutMs: config.requestTimeoutMs });
  }

  async start(): Promise<void> {
    this.started = true;
    await this.prune();
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.idle();
  }

  /** Resolves once every webhook delivery answered so far is processed. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  // ---- webhook ----------------------------------------------------------------

  /** Meta's subscription check: the challenge to echo, or null (wrong mode or token). */
  verifySubscription(query: Record<string, unknown>): string | null {
    if (query['hub.mode'] !== 'subscribe' || !sameSecret(this.config.verifyToken, query['hub.verify_token'])) return null;
    const challenge = query['hub.challenge'];
    return typeof challenge === 'string' && CHALLENGE.test(challenge) ? challenge : null;
  }

  /**
   * Takes one webhook delivery: refused (401, 400) before anything is read or
   * changed unless it is signed by the app secret and is a webhook; otherwise
   * accepted at once and processed after the answer, its failures logged.
   */
  acceptWebhook(raw: Buffer, signature: string | undefined): void {
    if (!validSignature(this.config.appSecret, raw, signature)) throw new CodedError(ErrorCode.Unauthorized, 'Missing or wrong X-Hub-Signature-256');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new CodedError(ErrorCode.Validation, 'Not a WhatsApp webhook', { issues: [{ path: '(root)', message: 'expected a JSON body' }] });
    }
    const parsed = webhookSchema.safeParse(body);
    if (!parsed.success) throw new CodedError(ErrorCode.Validation, 'Not a WhatsApp webhook', { issues: [{ path: 'object', message: "expected {object: 'whatsapp_business_account', entry: [...]}" }] });
    this.lastWebhookAt = this.clock.now();
    const work: Promise<void> = this.process(parsed.data)
      .catch((error: unknown) => void this.log.error('whatsapp cloud webhook processing failed', { error }))
      .finally(() => this.pending.delete(work));
    this.pending.add(work);
  }

  private async process(payload: WebhookPayload): Promise<void> {
    for (const change of messagesChanges(payload)) {
      const numberId = change.metadata?.phone_number_id;
      if (numberId && numberId !== this.config.phoneNumberId) {
        this.log.warn(`webhook for phone number id ${numberId} ignored: this agent is ${this.config.phoneNumberId} (give each number its own callback URL)`);
        continue;
      }
      for (const e of change.errors ?? []) this.log.warn(`WhatsApp Cloud API reported error ${e.code}: ${e.title ?? e.message ?? ''}`, { details: e.error_data?.details });
      for (const item of change.messages ?? []) await this.each('message', item, () => this.onMessage(inboundMessageSchema.parse(item), change));
      for (const item of change.statuses ?? []) await this.each('status', item, () => this.onStatus(statusSchema.parse(item)));
    }
  }

  /** One item of a delivery; a malformed or failing one is logged and skipped, the others still run. */
  private async each(what: string, item: unknown, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      const id = item && typeof item === 'object' ? (item as { id?: unknown }).id : undefined;
      this.log.error(`whatsapp cloud ${what} skipped`, { error, wamid: typeof id === 'string' ? id : undefined });
    }
  }

  private async onMessage(m: InboundMessagePayload, change: MessagesChange): Promise<void> {
    const now = this.clock.now();
    if (!(await this.state.firstSight(m.id, new Date(now).toISOString()))) {
      this.log.debug('repeated webhook delivery of a message ignored', { wamid: m.id });
      return;
    }
    const waId = phoneDigits(m.from);
    // Any message (text, a tap, an image) opens the 24-hour window.
    await this.state.noteInbound(waId, whenSent(m.timestamp, now));
    const tap = m.type === 'interactive' ? m.interactive?.button_reply : m.type === 'button' ? { id: m.button?.payload ?? '', title: m.button?.text } : undefined;
    if (tap && looksLikeOurs(tap.id)) return this.onTap(m, waId, tap.id);
    const text = m.type === 'text' ? m.text?.body : tap?.title;
    if (text === undefined) {
      this.log.debug(`inbound ${m.type} message not handled (text and buttons only)`, { wamid: m.id });
      return;
    }
    const reasonKey = m.context?.id ? `${waId}:${m.context.id}` : undefined;
    const reason = reasonKey ? this.awaitingReason.get(reasonKey) : undefined;
    if (reason && reasonKey && now - reason.at < REASON_WINDOW_MS && this.context.decide) {
      this.awaitingReason.delete(reasonKey);
      const reply = await this.decide({ approvalId: reason.approvalId, decision: 'reject', deciderId: reason.deciderId, reason: text });
      await this.replyTo(waId, m.id, reply.ok ? 'Reason recorded.' : reply.text);
      return;
    }
    const name = change.contacts?.find((c) => phoneDigits(c.wa_id) === waId)?.profile?.name;
    this.listeners.emit({
      type: 'message',
      message: {
        agentId: this.id,
        channel: this.channel,
        chatId: waId,
        senderId: waId,
        senderPhone: waId,
        ...(name ? { senderName: name } : {}),
        text,
        at: whenSent(m.timestamp, now),
        messageId: m.id,
        ...(m.context?.id ? { replyToMessageId: m.context.id } : {}),
      },
    });
  }

  private async onTap(m: InboundMessagePayload, waId: string, buttonId: string): Promise<void> {
    // The number the prompt went to may be written differently from the id Meta reports the tap under.
    const parsed = decodeButtonId(this.secret, buttonId, [waId, ...(await this.state.inputsOf(waId))]);
    if (!parsed) {
      this.log.warn('button tap refused: its id is not signed for this number', { from: waId, wamid: m.id });
      await this.replyTo(waId, m.id, 'This button is not valid for your number.');
      return;
    }
    const reply = this.context.decide ? await this.decide({ approvalId: parsed.approvalId, decision: parsed.decision, deciderId: parsed.phone }) : { ok: false, text: 'Decisions are not taken here.' };
    const text = reply.askReason ? `${reply.text} If you want to give a reason, reply to the request with it.` : reply.text;
    const sent = await this.replyTo(waId, m.id, text);
    if (reply.askReason) {
      const at = this.clock.now();
      for (const id of [m.context?.id, sent]) if (id) this.awaitingReason.set(`${waId}:${id}`, { approvalId: parsed.approvalId, deciderId: parsed.phone, at });
    }
  }

  private async decide(request: { approvalId: string; decision: 'approve' | 'reject'; deciderId: string; reason?: string }): Promise<DecisionReply> {
    try {
      return await this.context.decide!({ agentId: this.id, channel: this.channel, ...request });
    } catch (error) {
      this.log.error('decision failed', { error, approvalId: request.approvalId });
      return { ok: false, text: 'Something went wrong; try again or use the dashboard.' };
    }
  }

  /** Answers a tap or a reason under the presser's message; a failure is logged (the decision stands). */
  private async replyTo(waId: string, wamid: string, text: string): Promise<string | undefined> {
    try {
      return (await this.send(waId, text, { replyTo: wamid })).messageId;
    } catch (error) {
      this.log.warn(`could not answer ${waId} (they were not shown: ${text})`, { error });
      return undefined;
    }
  }

  private async onStatus(s: { id: string; status: string; timestamp?: string; errors?: Array<{ code: number; title?: string; message?: string; error_data?: { details?: string } }> }): Promise<void> {
    const error = s.errors?.map((e) => `${e.code} ${e.title ?? e.message ?? ''}${e.error_data?.details ? `: ${e.error_data.details}` : ''}`.trim()).join('; ');
    const known = await this.state.applyStatus(s.id, s.status, whenSent(s.timestamp, this.clock.now()), error || undefined);
    if (!known) this.log.debug(`status ${s.status} for a message we did not record`, { wamid: s.id });
    else if (s.status === 'failed') this.log.warn(`WhatsApp could not deliver a message: ${error ?? 'no reason given'}`, { wamid: s.id });
  }

  // ---- sending ----------------------------------------------------------------

  async send(chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    const to = this.recipient(chatId);
    const replyTo = options?.replyTo;
    const wamid = await this.post({ to, type: 'text', text: { body: cut(text, MAX_TEXT), preview_url: false }, ...(replyTo ? { context: { message_id: replyTo } } : {}) });
    await this.record({ wamid, to, kind: 'text', ...(replyTo ? { replyTo } : {}) });
    return { chatId: to, messageId: wamid };
  }

  /**
   * Reply buttons inside the 24-hour window; the approved template outside it
   * (known from the stored inbound times, or Meta's 131047). Without a
   * template, fails clearly so the approval goes to the manager's next channel.
   */
  async promptApproval(chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    const to = this.recipient(chatId);
    const approveId = encodeButtonId(this.secret, prompt.approvalId, 'approve', to);
    const rejectId = encodeButtonId(this.secret, prompt.approvalId, 'reject', to);
    const last = await this.state.lastInbound((await this.state.waIdOf(to)) ?? to);
    let why = `${to} has not written to this number in the last 24 hours`;
    if (last && this.clock.now() - Date.parse(last) < WINDOW_MS) {
      try {
        const wamid = await this.post({
          to,
          type: 'interactive',
          interactive: {
            type: 'button',
            body: { text: promptBody(prompt) },
            action: { buttons: [{ type: 'reply', reply: { id: approveId, title: 'Approve' } }, { type: 'reply', reply: { id: rejectId, title: 'Reject' } }] },
          },
        });
        await this.record({ wamid, to, kind: 'prompt', approvalId: prompt.approvalId });
        return { chatId: to, messageId: wamid };
      } catch (error) {
        if (!(error instanceof GraphApiError && error.kind === 'outside_window')) throw error;
        why = `Meta answered ${error.graphCode} (${error.graphMessage})`;
      }
    }
    const template = this.config.approvalTemplate;
    if (!template) {
      throw new CodedError(ErrorCode.DeliveryFailed, `cannot prompt ${to} on WhatsApp Cloud API: ${why}, so only a template may be sent, and agent ${this.id} has no approvalTemplate configured`, { agentId: this.id, to });
    }
    this.log.info(`prompting ${to} with template ${template.name}: ${why}`, { approvalId: prompt.approvalId });
    const wamid = await this.post({ to, type: 'template', template: templateMessage(template, prompt, approveId, rejectId) });
    await this.record({ wamid, to, kind: 'template', approvalId: prompt.approvalId });
    return { chatId: to, messageId: wamid };
  }

  /** The Cloud API cannot edit a message: the outcome is a reply under the prompt, told once per status. */
  async updateApproval(ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    // A pending prompt's progress is told once per change of it; an outcome once per status.
    const told = outcome.status === 'pending' ? `pending:${sha256((outcome.prompt?.progress ?? []).join('\n')).slice(0, 16)}` : outcome.status;
    if (await this.state.outcomeTold(ref.messageId, told)) return;
    const to = this.recipient(ref.chatId);
    const wamid = await this.post({ to, type: 'text', text: { body: outcomeText(outcome), preview_url: false }, context: { message_id: ref.messageId } });
    await this.record({ wamid, to, kind: 'outcome', replyTo: ref.messageId, approvalId: outcome.approvalId, outcomeStatus: told });
  }

  private recipient(chatId: string): string {
    const to = phoneDigits(chatId);
    if (!/^\d{6,15}$/.test(to)) throw new CodedError(ErrorCode.Validation, `'${chatId}' is not a phone number WhatsApp can write to`);
    return to;
  }

  /** Sends one message, waiting out rate limits a bounded number of times; other refusals fail with Meta's words. */
  private async post(body: OutboundBody): Promise<string> {
    const { attempts, baseMs, maxMs } = this.config.retry;
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const sent = await this.graph.sendMessage(body);
        if (sent.waId) await this.noteWaId(body.to, phoneDigits(sent.waId));
        return sent.wamid;
      } catch (error) {
        // Doubling waits with up to 20 % jitter (senders retrying together spread out), within the total budget.
        const wait = Math.round(Math.min(maxMs, baseMs * 2 ** attempt) * (1 + Math.random() * 0.2));
        if (error instanceof GraphApiError && error.kind === 'rate_limited' && attempt < attempts && waited + wait <= MAX_TOTAL_WAIT_MS) {
          waited += wait;
          this.log.warn(`WhatsApp Cloud API rate limit (${error.graphCode}); retrying in ${wait} ms`, { attempt: attempt + 1, of: attempts });
          await new Promise<void>((resolve) => this.clock.setTimeout(resolve, wait));
          continue;
        }
        throw this.explain(error);
      }
    }
  }

  /** Keeps which WhatsApp id a number as written is; a store failure must not fail the send. */
  private async noteWaId(to: string, waId: string): Promise<void> {
    if (!waId || waId === to) return;
    try {
      await this.state.noteWaId(to, waId);
    } catch (error) {
      this.log.warn(`sent, but could not remember that ${to} is WhatsApp id ${waId}`, { error });
    }
  }

  /** A refused token or permission says what a person must do; other errors pass as Meta worded them. */
  private explain(error: unknown): unknown {
    if (!(error instanceof GraphApiError)) return error;
    if (error.kind === 'token') return new CodedError(ErrorCode.DeliveryFailed, `${this.id} needs a new access token: Meta refused it (${error.graphCode}: ${error.graphMessage})`, error.details, { cause: error });
    if (error.kind === 'permission') return new CodedError(ErrorCode.DeliveryFailed, `${this.id}'s access token lacks a permission (${error.graphCode}: ${error.graphMessage}); give the system user whatsapp_business_messaging`, error.details, { cause: error });
    return error;
  }

  /** Keeps what was sent (statuses land on it); a store failure here must not turn a sent message into a failed send. */
  private async record(doc: Omit<CloudMessageRecord, 'id' | 'version' | 'agentId' | 'status' | 'sentAt'>): Promise<void> {
    try {
      await this.state.recordSent({ ...doc, sentAt: isoNow(this.clock) });
    } catch (error) {
      this.log.warn('sent, but could not record the message', { error, wamid: doc.wamid });
    }
  }

  // ---- health -----------------------------------------------------------------

  /** A cheap authenticated read of the phone number, plus how long since the last webhook. */
  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const started = Date.now();
    const latency = () => Date.now() - started;
    try {
      const info = await this.graph.phoneNumber(signal);
      if (!this.started) return { ok: false, latencyMs: latency(), detail: 'Meta answers, but the agent is not started' };
      await this.prune();
      const number = [info.display_phone_number, info.verified_name ? `(${info.verified_name})` : ''].filter(Boolean).join(' ') || this.config.phoneNumberId;
      const quality = info.quality_rating ? `, quality ${info.quality_rating}` : '';
      const fresh = this.lastWebhookAt === undefined ? 'no webhook received since start' : `last webhook ${ago(this.clock.now() - this.lastWebhookAt)} ago`;
      return { ok: true, latencyMs: latency(), detail: `${number}${quality}; ${fresh}` };
    } catch (error) {
      if (error instanceof GraphApiError && error.kind === 'token') {
        return { ok: false, needsHuman: true, latencyMs: latency(), detail: `needs a new access token: Meta refused it (${error.graphCode}: ${error.graphMessage}); create a permanent system-user token, set accessToken and restart` };
      }
      if (error instanceof GraphApiError && error.kind === 'permission') {
        return { ok: false, needsHuman: true, latencyMs: latency(), detail: `the access token lacks a permission (${error.graphCode}: ${error.graphMessage})` };
      }
      return { ok: false, latencyMs: latency(), detail: error instanceof Error ? error.message : String(error) };
    }
  }

  private async prune(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    try {
      await this.state.forgetSeenBefore(now);
    } catch (error) {
      this.log.warn('could not forget old webhook message ids', { error });
    }
  }
}
