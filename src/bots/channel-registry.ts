import type { ChannelFactory } from './channel-factory.js';

export type { BotContext, ChannelBots, ChannelFactory, ChannelState, DecisionReply, DecisionRequest, ManagerIdentity, WebhookRoute } from './channel-factory.js';
export { webhookPath } from './channel-factory.js';

/**
 * Channels by name, in the order they were registered (the default order of
 * approval prompts follows it unless `defaults.channelOrder` says otherwise).
 * Registering a name twice or asking for an unknown one throws, naming the
 * channels that exist — no hand-maintained switch anywhere.
 */
export class ChannelRegistry {
  private readonly factories = new Map<string, ChannelFactory>();

  register<C extends { id: string }>(factory: ChannelFactory<C>): this {
    if (this.factories.has(factory.channel)) throw new Error(`channel '${factory.channel}' is already registered`);
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(factory.channel)) throw new Error(`channel name '${factory.channel}' must be 1-32 lowercase letters, digits or "-"`);
    this.factories.set(factory.channel, factory as unknown as ChannelFactory);
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

  /** The factory of a channel, or undefined (for data that may name a channel this build lacks). */
  find(channel: string): ChannelFactory | undefined {
    return this.factories.get(channel);
  }

  names(): string[] {
    return [...this.factories.keys()];
  }

  list(): ChannelFactory[] {
    return [...this.factories.values()];
  }

  /** A registry with the same channels, `create` replaced for some (tests stand a fake bot in for an SDK). */
  withCreate(creates: Record<string, ChannelFactory['create']>): ChannelRegistry {
    const copy = new ChannelRegistry();
    for (const factory of this.list()) copy.register(creates[factory.channel] ? { ...factory, create: creates[factory.channel]! } : factory);
    return copy;
  }
}
