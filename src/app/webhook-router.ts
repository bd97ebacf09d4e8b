import { Router, type RequestHandler } from 'express';
import type { LocalAgentHost } from '../branches/local-agent-host.js';
import { CodedError, ErrorCode } from '../core/errors.js';
import { webhookPath, type ChannelBots, type ChannelRegistry, type WebhookRoute } from '../bots/channel-registry.js';

/**
 * Every channel's webhook routes, mounted from the registry at
 * `/webhooks/<channel><path>`: the `raw` ones before the JSON parser (their
 * signatures cover the raw bytes), the `json` ones after it. No bearer token
 * here: each channel verifies its own platform's signature.
 */
export function webhookRouters(deps: { channels: ChannelRegistry; local: LocalAgentHost }): { raw: Router; json: Router } {
  const raw = Router();
  const json = Router();
  for (const factory of deps.channels.list()) {
    const bots: ChannelBots = {
      get: (agentId) => {
        const bot = deps.local.bot(agentId);
        return bot?.channel === factory.channel ? bot : undefined;
      },
      all: () => deps.local.botsOf(factory.channel),
    };
    for (const route of factory.webhooks ?? []) {
      (route.body === 'raw' ? raw : json)[route.method](webhookPath(factory.channel, route), handler(route, bots, factory.label));
    }
  }
  return { raw, json };
}

/**
 * A route's handler with its async errors passed on to the API's error
 * handler. A path naming an agent (`:agentId`) that is not one of this
 * channel's bots here is a 404 before the channel's code runs.
 */
function handler(route: WebhookRoute, bots: ChannelBots, label: string): RequestHandler {
  return (req, res, next) => {
    const agentId = (req.params as Record<string, string | undefined>).agentId;
    if (agentId !== undefined && !bots.get(agentId)) return next(new CodedError(ErrorCode.NotFound, `No ${label} agent '${agentId}' runs here`));
    try {
      const result = route.handle(bots, req, res, next);
      if (result instanceof Promise) result.catch(next);
    } catch (error) {
      next(error);
    }
  };
}
