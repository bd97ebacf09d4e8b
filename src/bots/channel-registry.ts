import type { Logger } from '../config/logger.js';
import type { BotAgent } from './bot-agent.js';

/** What a channel needs to build one bot from its agent config. */
export interface BotContext {
  logger: Logger;
  env: { TELEGRAM_API_ROOT?: string; SLACK_API_URL?: string };
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
