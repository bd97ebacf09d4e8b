import { z } from 'zod';
import type { ApprovalOutcome, ApprovalPrompt, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bots/bot-agent.js';
import type { DecisionReply, DecisionRequest } from '../bots/channel-registry.js';

/**
 * The `/agents` Socket.IO namespace between the coordinator and runners.
 * Commands go down with an acknowledgement; bot events come up.
 *
 * A runner is a separate process holding a token scoped to some branches: the
 * coordinator trusts nothing it sends. Every runner -> coordinator payload and
 * every reply to a command is parsed with the strict schemas below (unknown
 * fields refused, lengths bounded) before anything reads it.
 */
export const RUNNER_NAMESPACE = '/agents';

export type Ack<T> = (reply: { ok: true; value: T } | { ok: false; error: string }) => void;

/** Runner -> coordinator. */
export interface RunnerToCoordinator {
  register: (hello: { runner: string; agents: string[] }, ack: Ack<{ accepted: string[] }>) => void;
  event: (event: BotEvent) => void;
  /** A decision tapped in chat on a runner's bot; the coordinator answers what to tell the presser. */
  decide: (request: DecisionRequest, ack: Ack<DecisionReply>) => void;
}

/** Coordinator -> runner. */
export interface CoordinatorToRunner {
  probe: (req: { agentId: string }, ack: Ack<ProbeResult>) => void;
  restart: (req: { agentId: string }, ack: Ack<null>) => void;
  send: (req: { agentId: string; chatId: string; text: string; options?: SendOptions }, ack: Ack<MessageRef>) => void;
  promptApproval: (req: { agentId: string; chatId: string; prompt: ApprovalPrompt }, ack: Ack<MessageRef>) => void;
  updateApproval: (req: { agentId: string; ref: MessageRef; outcome: ApprovalOutcome }, ack: Ack<null>) => void;
  /** To action agents connected with their own token: their approval requests as they change. */
  approval: (approval: unknown) => void;
}

/** Length limits of what a runner may send (generous for every channel, small enough that nothing huge is stored). */
export const RUNNER_LIMITS = {
  id: 100,
  chatId: 256,
  text: 65_536,
  detail: 2_000,
  qr: 4_096,
  agentsPerRunner: 500,
} as const;

const id = z.string().min(1).max(RUNNER_LIMITS.id);
const chatId = z.string().min(1).max(RUNNER_LIMITS.chatId);
const detail = z.string().max(RUNNER_LIMITS.detail);

export const messageRefSchema = z.strictObject({ chatId, messageId: chatId });

export const inboundMessageSchema = z.strictObject({
  agentId: id,
  channel: id,
  chatId,
  senderId: chatId,
  senderName: z.string().max(RUNNER_LIMITS.chatId).optional(),
  text: z.string().max(RUNNER_LIMITS.text),
  at: z.string().max(64),
  messageId: chatId.optional(),
  replyToMessageId: chatId.optional(),
  senderPhone: z.string().max(32).optional(),
  thread: chatId.optional(),
  group: z.boolean().optional(),
});

export const botEventSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('message'), message: inboundMessageSchema }),
  z.strictObject({ type: z.literal('pairing'), agentId: id, qr: z.string().max(RUNNER_LIMITS.qr).optional(), pairingCode: z.string().max(64).nullable().optional(), paired: z.boolean().optional() }),
  z.strictObject({ type: z.literal('connection'), agentId: id, state: z.enum(['open', 'closed']), detail: detail.optional() }),
]);

export const registerSchema = z.strictObject({
  runner: id,
  agents: z.array(id).min(1, 'no agents to host').max(RUNNER_LIMITS.agentsPerRunner),
});

export const decisionRequestSchema = z.strictObject({
  agentId: id,
  channel: z.string().max(RUNNER_LIMITS.id),
  approvalId: id,
  decision: z.enum(['approve', 'reject']),
  deciderId: chatId,
  reason: detail.optional(),
});

export const probeResultSchema = z.strictObject({
  ok: z.boolean(),
  latencyMs: z.number().finite().nonnegative().optional(),
  detail: detail.optional(),
  needsHuman: z.boolean().optional(),
  reconnecting: z.boolean().optional(),
});

/** A runner's acknowledgement of a command: `{ok: true, value}` or `{ok: false, error}`. */
export function ackSchema<T extends z.ZodType>(value: T) {
  return z.discriminatedUnion('ok', [z.strictObject({ ok: z.literal(true), value }), z.strictObject({ ok: z.literal(false), error: detail })]);
}

/**
 * Every runner -> coordinator event, by name: its payload schema and whether
 * the sender expects an acknowledgement. The gateway attaches one handler per
 * entry, and the hostile-input suite drives every entry, so an event added
 * here is validated and fuzzed without anyone remembering to.
 */
export const RUNNER_EVENTS = {
  register: { payload: registerSchema, ack: true },
  event: { payload: botEventSchema, ack: false },
  decide: { payload: decisionRequestSchema, ack: true },
} as const satisfies Record<keyof RunnerToCoordinator, { payload: z.ZodType; ack: boolean }>;

export type RunnerEventName = keyof typeof RUNNER_EVENTS;

/** What each coordinator -> runner command must be answered with (the `value` of a successful ack). */
export const COMMAND_REPLIES = {
  probe: probeResultSchema,
  restart: z.null(),
  send: messageRefSchema,
  promptApproval: messageRefSchema,
  updateApproval: z.null(),
} as const satisfies Record<Exclude<keyof CoordinatorToRunner, 'approval'>, z.ZodType>;

export type RunnerCommand = keyof typeof COMMAND_REPLIES;

/** A short, readable account of why a payload failed its schema (for the ack, the log and the audit event). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(payload)'}: ${i.message}`)
    .join('; ');
}
