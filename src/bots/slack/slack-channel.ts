import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { CodedError, ErrorCode } from '../../core/errors.js';
import type { BotAgent } from '../bot-agent.js';
import { credentialField, optionalUrlField } from '../channel-fields.js';
import type { ChannelBots, ChannelFactory, WebhookRoute } from '../channel-factory.js';
import type { SlackAgentConfig } from './slack-bot.js';

const credential = credentialField();
const optionalUrl = optionalUrlField('the Slack Web API base, e.g. https://slack.com/api/');

/** A Slack bot serves its requests with Bolt's own handler (signature and 5-minute window checked there). */
type BoltHandler = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
const handlerOf = (bot: BotAgent | undefined): BoltHandler | undefined => (bot as { httpHandler?: BoltHandler } | undefined)?.httpHandler;

/**
 * Slack's requests go to the agent's Bolt receiver; mounted before the JSON
 * parser because Bolt needs the raw body. `/webhooks/slack` works when only
 * one Slack app is configured.
 */
function dispatch(bots: ChannelBots, agentId: string | undefined, req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
  const all = bots.all();
  const bot = agentId ? bots.get(agentId) : all.length === 1 ? all[0] : undefined;
  const handler = handlerOf(bot);
  if (!handler) {
    const why = agentId ? `No Slack agent '${agentId}' runs here` : all.length === 0 ? 'No Slack agent runs here' : `Several Slack apps run here: use /webhooks/slack/<agent id> (${all.map((b) => b.id).join(', ')})`;
    return next(new CodedError(ErrorCode.NotFound, why));
  }
  handler(req, res, next);
}

const webhooks: WebhookRoute[] = [
  // `use` strips the mount path, as Bolt's router (listening on '/') expects.
  { method: 'use', path: '/:agentId', body: 'raw', handle: (bots, req, res, next) => dispatch(bots, String(req.params.agentId), req, res, next) },
  { method: 'use', path: '/', body: 'raw', handle: (bots, req, res, next) => (req.path === '/' ? dispatch(bots, undefined, req, res, next) : next()) },
];

/** The registry entry for Slack (Bolt): the staff side — approvals, hand-off threads — never customers. */
export const slackChannel: ChannelFactory<SlackAgentConfig> = {
  channel: 'slack',
  label: 'Slack',
  agentFields: {
    botToken: credential,
    signingSecret: credential,
    appToken: z.string().optional(),
    /** A channel every approval of the branch is also posted to. */
    approvalsChannel: z.string().optional(),
    /** The channel staff read hand-offs in, when a staff target names no chat. */
    staffChannel: z.string().optional(),
  },
  credentials: { secret: ['botToken', 'signingSecret', 'appToken'], required: ['botToken', 'signingSecret'] },
  carries: { customers: false, staff: true },
  identity: {
    key: 'slack',
    schema: z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack member id such as U012ABCDEF'),
    matches: (configured, userId) => configured === userId,
  },
  env: { SLACK_API_URL: optionalUrl },
  webhooks,
  staffChat: (config) => config.staffChannel,
  approvalsChat: (config) => config.approvalsChannel,
  async create(config, context) {
    const { SlackBot } = await import('./slack-bot.js');
    return new SlackBot(config, context);
  },
};
