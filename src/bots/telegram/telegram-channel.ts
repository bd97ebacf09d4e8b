import type { ChannelFactory } from '../channel-registry.js';
import { TelegramBot, type TelegramAgentConfig } from './telegram-bot.js';

/** The registry entry for Telegram. */
export const telegramChannel: ChannelFactory<TelegramAgentConfig> = {
  channel: 'telegram',
  create: (config, context) => new TelegramBot(config, context),
};
