import type { ChannelRegistry, ChannelState } from '../bots/channel-registry.js';
import type { Store } from '../storage/store.js';

/**
 * The state port channels get (`BotContext.state`): a namespace of the store
 * holding exactly the collections the channel's factory declared.
 */
export function channelStates(store: Store, channels: ChannelRegistry): (namespace: string) => ChannelState {
  return (namespace) => store.namespace(namespace, channels.get(namespace).state ?? {});
}
