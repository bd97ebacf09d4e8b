import { ChannelRegistry } from './channel-registry.js';
import { slackChannel } from './slack/slack-channel.js';
import { telegramChannel } from './telegram/telegram-channel.js';
import { whatsappChannel } from './whatsapp/whatsapp-channel.js';
import { whatsappCloudChannel } from './whatsapp-cloud/whatsapp-cloud-channel.js';

/**
 * The channels this build ships: the only list of channels in the code. Each
 * line is a channel's folder; importing them loads no chat SDK (each factory
 * loads its SDK when it creates a bot). The order is the default order of
 * approval prompts (`defaults.channelOrder` overrides it).
 */
export function builtinChannels(): ChannelRegistry {
  return new ChannelRegistry()
    .register(slackChannel)
    .register(telegramChannel)
    .register(whatsappChannel)
    .register(whatsappCloudChannel);
}

/** One shared instance for parsing config and env where no registry is passed. */
export const BUILTIN_CHANNELS: ChannelRegistry = builtinChannels();

/**
 * The registry config and env are read with: the built-in channels, plus any
 * extra channel a caller runs (a test's own channel). A caller's factory of a
 * built-in name only replaces how bots are made, not what config it reads.
 */
export function catalogWith(extra?: ChannelRegistry): ChannelRegistry {
  if (!extra) return BUILTIN_CHANNELS;
  const catalog = builtinChannels();
  for (const factory of extra.list()) if (!catalog.has(factory.channel)) catalog.register(factory);
  return catalog;
}
