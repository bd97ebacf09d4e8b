import { ChannelRegistry, type ChannelFactory } from './channel-registry.js';
import { slackChannel } from './slack/slack-channel.js';
import { telegramChannel } from './telegram/telegram-channel.js';
import { whatsappChannel } from './whatsapp/whatsapp-channel.js';

/**
 * The channels this build ships. Each channel folder adds one line here as it
 * lands (telegram/, slack/, whatsapp/); until then a configured agent of that
 * channel shows as down with "not available in this build".
 */
export function defaultChannels(): ChannelRegistry {
  return new ChannelRegistry()
    .register(telegramChannel as unknown as ChannelFactory)
    .register(slackChannel as unknown as ChannelFactory)
    .register(whatsappChannel as unknown as ChannelFactory);
}
