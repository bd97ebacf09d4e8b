import { CodedError, ErrorCode } from '../../core/errors.js';
import type { ChannelFactory } from '../channel-registry.js';
import { WhatsAppBot, type WhatsAppAgentConfig } from './whatsapp-bot.js';

/**
 * The registry entry for WhatsApp. The bot keeps its session, lease, sent
 * messages and outbound queue in the store, reached through
 * `BotContext.whatsappState`; without it the agent cannot run.
 */
export const whatsappChannel: ChannelFactory<WhatsAppAgentConfig> = {
  channel: 'whatsapp',
  create(config, context) {
    if (!context.whatsappState) {
      throw new CodedError(ErrorCode.Config, `WhatsApp agent ${config.id} needs a store for its session and outbound queue (BotContext.whatsappState is not set)`, { agentId: config.id });
    }
    return new WhatsAppBot(config, context, { state: context.whatsappState(config.id), clock: context.clock });
  },
};
