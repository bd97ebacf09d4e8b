import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';
import type { Logger } from '../config/logger.js';
import type { Clock } from '../core/clock.js';
import type { Collection, CollectionSpec, StoredDoc } from '../storage/collection.js';
import type { BotAgent } from './bot-agent.js';

/**
 * The channel contract: everything the core knows about a chat channel is what
 * its factory declares here. A channel is its folder under `src/bots/` plus one
 * line in `channels.ts`; no other file names it.
 *
 * A factory module must stay cheap to import (zod and small helpers only): the
 * config schema is built from the registry, so the chat SDK is loaded by
 * `create`, with a dynamic `import()`, only when an agent of that channel runs.
 */

/** A tap on Approve/Reject (or a reason sent afterwards), as a channel reports it. */
export interface DecisionRequest {
  agentId: string;
  channel: string;
  approvalId: string;
  decision: 'approve' | 'reject';
  /** The presser's id on the channel (Telegram user id, Slack user id, WhatsApp JID or phone). */
  deciderId: string;
  reason?: string;
}

/** What the presser is told (e.g. in Telegram's answerCallbackQuery). */
export interface DecisionReply {
  ok: boolean;
  text: string;
  /** True when the decision was a rejection that may still take a reason. */
  askReason?: boolean;
  /** True when the approval was counted but more approvers are needed (n-of-m). */
  recorded?: boolean;
}

/** A channel's own persisted state: the collections its factory declares in `state`, over whichever store runs. */
export interface ChannelState {
  collection<T extends StoredDoc>(name: string): Collection<T>;
}

/** What a channel gets to build one bot from its agent config. */
export interface BotContext {
  logger: Logger;
  /** The environment variables the channel declared in `env`, validated (absent ones undefined). */
  env: Record<string, unknown>;
  /** Applies a decision made in chat and says what to answer; absent where nobody decides (tests). */
  decide?: (request: DecisionRequest) => Promise<DecisionReply>;
  /** Who a chat user is, if a configured manager: for greeting them on /start. */
  identify?: (channel: string, userId: string) => { name: string; branches: string[] } | null;
  /** The channel's persisted state (the namespace is the channel's name); absent where no store runs. */
  state?: (namespace: string) => ChannelState;
  /** Time for timers that must be testable (WhatsApp's governor and reconnect backoff); defaults to the system clock. */
  clock?: Clock;
}

/** How a manager is named on a channel (`managers[].identities.<key>`, or the shorthand `managers[].<key>`). */
export interface ManagerIdentity {
  /**
   * The identity's key. Channels that reach the same people share one (both
   * WhatsApp channels read `whatsapp`, a phone number).
   */
  key: string;
  /** Validates a configured identity; its output is the canonical form (a Telegram id as a string). */
  schema: z.ZodType<string, unknown>;
  /** Whether a chat user id, as the channel reports it, is this configured identity. */
  matches(configured: string, userId: string): boolean;
  /** One person writes from several chat ids (WhatsApp: phone JID and LID): a manager's reply counts from any of them. */
  severalChats?: boolean;
}

/** The bots of one channel running in this process, for its webhook routes. */
export interface ChannelBots {
  get(agentId: string): BotAgent | undefined;
  all(): BotAgent[];
}

/** One HTTP route a channel receives, mounted at `/webhooks/<channel><path>` on the API port. */
export interface WebhookRoute {
  /** `use` passes every method and sub-path on (an SDK with its own router, such as Bolt's). */
  method: 'get' | 'post' | 'use';
  /** Express path below `/webhooks/<channel>`: `/:agentId`, or `/` for the one agent of the channel. */
  path: string;
  /** `raw`: mounted before the JSON parser, the body left unread (signatures over the raw bytes); `json`: parsed and depth-checked. */
  body: 'raw' | 'json';
  /** Answers the request; a thrown CodedError becomes the API's JSON error. */
  handle(bots: ChannelBots, req: Request, res: Response, next: NextFunction): unknown;
}

/** Where a channel's webhook route is mounted: `/webhooks/<channel><path>` (`/` is the channel's bare path). */
export function webhookPath(channel: string, route: Pick<WebhookRoute, 'path'>): string {
  return `/webhooks/${channel}${route.path === '/' ? '' : route.path}`;
}

/** A chat id as a contact is found by: the id the channel writes, and a phone number where it has one. */
export interface ChatLookup {
  externalId: string;
  phone?: string;
}

export interface ChannelFactory<C extends { id: string } = { id: string } & Record<string, unknown>> {
  /** The channel's name in config (`channel: <name>`), URLs and records. */
  readonly channel: string;
  /** How people call it ("WhatsApp Cloud API"). */
  readonly label: string;
  /** The agent config's own fields, besides `id`, `channel`, `dependsOn` and `enabled` (strict: unknown keys are refused). */
  readonly agentFields: z.ZodRawShape;
  /** Fields holding secrets (redacted in `GET /config` and logs); `required` ones make the agent "missing credentials" while unset. */
  readonly credentials: { secret: readonly string[]; required: readonly string[] };
  /** Who writes on it: customers (answered by the responder), staff (hand-off threads, approvals), or both. */
  readonly carries: { customers: boolean; staff: boolean };
  /** How managers are identified on it; absent: nobody decides approvals there. */
  readonly identity?: ManagerIdentity;
  /** The environment variables it reads (a self-hosted API base, …), merged into the env schema. */
  readonly env?: z.ZodRawShape;
  /** The collections it persists, by name (`BotContext.state(channel).collection(name)`). */
  readonly state?: Readonly<Record<string, CollectionSpec>>;
  /** Its webhook routes. */
  readonly webhooks?: readonly WebhookRoute[];
  /** How a chat id given by an action (`message.send`) finds the contact; null when it is not a chat id of this channel. Default: as is. */
  chatLookup?(chatId: string): ChatLookup | null;
  /** The agent's own chat for staff (Slack's `staffChannel`), used when a hand-off target names no chat. */
  staffChat?(config: C): string | undefined;
  /** A shared chat every approval of the branch is also posted to (Slack's `approvalsChannel`). */
  approvalsChat?(config: C): string | undefined;
  /** Whether customers may write from group chats to this agent (default: one-to-one chats only). */
  acceptsGroups?(config: C): boolean;
  /** Builds the bot (loading the SDK here, not at import). */
  create(config: C, context: BotContext): BotAgent | Promise<BotAgent>;
}
