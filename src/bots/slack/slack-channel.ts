import type { ChannelFactory } from '../channel-registry.js';
import { SlackBot, type SlackAgentConfig } from './slack-bot.js';

/** The registry entry for Slack. */
export const slackChannel: ChannelFactory<SlackAgentConfig> = {
  channel: 'slack',
  create: (config, context) => new SlackBot(config, context),
};
