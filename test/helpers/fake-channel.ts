import { Listeners } from '../../src/core/listeners.js';
import type { ApprovalOutcome, ApprovalPrompt, BotAgent, BotEvent, MessageRef, ProbeResult, SendOptions } from '../../src/bots/bot-agent.js';
import { ChannelRegistry, type BotContext, type ChannelFactory, type DecisionReply } from '../../src/bots/channel-registry.js';
import { BUILTIN_CHANNELS } from '../../src/bots/channels.js';

export type FakeHealth = 'ok' | 'fail' | 'hang' | 'needs-human' | 'reconnecting';

/** A chat bot whose health and delivery the test controls; records what it was asked to do. */
export class FakeBot implements BotAgent {
  health: FakeHealth = 'ok';
  /** What a 'needs-human' probe says. */
  needsHumanDetail = 'token revoked (401): needs a person';
  failSends = false;
  probes = 0;
  starts = 0;
  stops = 0;
  readonly sent: Array<{ chatId: string; text: string; options?: SendOptions }> = [];
  readonly prompts: Array<{ chatId: string; prompt: ApprovalPrompt; messageId: string }> = [];
  readonly updates: Array<{ ref: MessageRef; outcome: ApprovalOutcome }> = [];
  /** Chat ids this bot cannot reach (like a Telegram user who never pressed /start). */
  readonly unreachable = new Set<string>();
  private readonly listeners = new Listeners<BotEvent>();

  constructor(
    readonly id: string,
    readonly channel: string,
    private readonly context?: BotContext,
  ) {}

  /** A manager (or anyone) taps Approve / Reject on this bot's prompt: the one route a channel reports a decision by. */
  tap(approvalId: string, decision: 'approve' | 'reject', deciderId: string, reason?: string): Promise<DecisionReply> {
    if (!this.context?.decide) throw new Error(`bot ${this.id} was built without a decide() in its context`);
    return this.context.decide({ agentId: this.id, channel: this.channel, approvalId, decision, deciderId, ...(reason ? { reason } : {}) });
  }

  async start(): Promise<void> {
    this.starts++;
  }
  async stop(): Promise<void> {
    this.stops++;
  }
  probe(signal: AbortSignal): Promise<ProbeResult> {
    this.probes++;
    if (this.health === 'hang') return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    if (this.health === 'needs-human') return Promise.resolve({ ok: false, detail: this.needsHumanDetail, needsHuman: true });
    if (this.health === 'reconnecting') return Promise.resolve({ ok: false, detail: 'disconnected: connection lost (408); reconnecting', reconnecting: true });
    return Promise.resolve(this.health === 'ok' ? { ok: true, latencyMs: 12 } : { ok: false, detail: 'connection refused' });
  }
  async send(chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    if (this.failSends) throw new Error('send refused');
    this.sent.push({ chatId, text, ...(options ? { options } : {}) });
    return { chatId, messageId: String(this.sent.length) };
  }
  async promptApproval(chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    if (this.unreachable.has(chatId)) throw new Error('403: bot was blocked by the user');
    const ref = await this.send(chatId, `approve? ${prompt.code}`);
    this.prompts.push({ chatId, prompt, messageId: ref.messageId });
    return ref;
  }
  async updateApproval(ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    this.updates.push({ ref, outcome });
  }
  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }
  emit(event: BotEvent): void {
    this.listeners.emit(event);
  }
}

/**
 * Stands in for the real channels (telegram, slack, whatsapp) in coordination
 * tests: same interface, no network. `bots` gives the test each agent's bot.
 */
export function fakeChannels(names = ['telegram', 'slack', 'whatsapp']): { registry: ChannelRegistry; bots: Map<string, FakeBot> } {
  const bots = new Map<string, FakeBot>();
  const registry = new ChannelRegistry();
  for (const channel of names) {
    // The real channel's declarations (config fields, identity, webhooks) with a fake bot.
    const real = BUILTIN_CHANNELS.find(channel);
    const factory: ChannelFactory = {
      ...(real ?? { channel, label: channel, agentFields: {}, credentials: { secret: [], required: [] }, carries: { customers: true, staff: true } }),
      create(config, context) {
        const bot = new FakeBot(config.id, channel, context);
        bots.set(config.id, bot);
        return bot;
      },
    };
    registry.register(factory);
  }
  return { registry, bots };
}
