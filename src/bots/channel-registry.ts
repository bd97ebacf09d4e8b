import type { Logger } from '../config/logger.js';
import type { Clock } from '../core/clock.js';
import type { BotAgent } from './bot-agent.js';
import type { WhatsAppState } from './whatsapp/whatsapp-state.js';

/** A tap on Approve/Reject (or a reason sent afterwards), as a channel reports it. */
export interface DecisionRequest {
  agentId: string;
  channel: string;
  approvalId: string;
  decision: 'approve' | 'reject';
  /** The presser's id on the channel (Telegram user id, Slack user id, WhatsApp JID). */
  deciderId: string;
  reason?: string;
}

/** What the presser is told (e.g. in Telegram's answerCallbackQuery). */
export interface DecisionReply {
  ok: boolean;
  text: string;
  /** True when the decision was a rejection that may still take a reason. */
  askReason?: boolean;
  /** True when the approval was counted but more approvers are needed (n-of-m). */
  recorded?: boolean;
}

/** What a channel needs to build one bot from its agent config. */
export interface BotContext {
  logger: Logger;
  env: { TELEGRAM_API_ROOT?: string; SLACK_API_URL?: string };
  /** Applies a decision made in chat and says what to answer; absent where nobody decides (tests). */
  decide?: (request: DecisionRequest) => Promise<DecisionReply>;
  /** Who a chat user is, if a configured manager: for greeting them on /start. */
  identify?: (channel: string, userId: string) => { name: string; branches: string[] } | null;
  /** Where a WhatsApp agent keeps its session, lease, sent messages and outbound queue (over the store). */
  whatsappState?: (agentId: string) => WhatsAppState;
  /** Time for timers that must be testable (WhatsApp's governor and reconnect backoff); defaults to the system clock. */
  clock?: Clock;
}

export interface ChannelFactory<C = Record<string, unknown>> {
  readonly channel: string;
  create(agentConfig: C & { id: string }, context: BotContext): BotAgent;
}

/**
 * Channels by name. Registering a name twice or asking for an unknown one
 * throws, naming the channels that exist — no hand-maintained switch anywhere.
 */
export class ChannelRegistry {
  private readonly factories = new Map<string, ChannelFactory>();

  register(factory: ChannelFactory): this {
    if (this.factories.has(factory.channel)) throw new Error(`channel '${factory.channel}' is already registered`);
    this.factories.set(factory.channel, factory);
    return this;
  }

  has(channel: string): boolean {
    return this.factories.has(channel);
  }

  get(channel: string): ChannelFactory {
    const factory = this.factories.get(channel);
    if (!factory) throw new Error(`unknown channel '${channel}' (registered: ${this.names().join(', ') || 'none'})`);
    return factory;
  }

  names(): string[] {
    return [...this.factories.keys()];
  }
}
