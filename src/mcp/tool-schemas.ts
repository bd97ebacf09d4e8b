import { z } from 'zod';
import type { RiskLevel } from './coordinator-client.js';

/**
 * Input and output schemas of the MCP tools, written for the model that calls
 * them: every field says what it means here, its bounds, and what the
 * coordinator does with it. The REST API validates again (same rules as
 * `POST /api/approvals`); these only catch the obvious mistakes early.
 */

const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const satisfies readonly RiskLevel[];
const STATUSES = ['pending', 'approved', 'rejected', 'expired', 'cancelled', 'executed', 'failed'] as const;

/** How long a tool waits for a decision unless told otherwise: under the 60 s request timeout most MCP clients use. */
export const DEFAULT_WAIT_SEC = 50;
/** The longest one tool call waits; beyond it the model calls get_approval again. */
export const MAX_WAIT_SEC = 3600;

const idOrCode = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .describe('The approval id (from request_approval) or its 6-character code managers see in chat, e.g. K7QX2M.');

const branchId = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .optional()
  .describe("The branch where the action happens. Leave it out to use your agent's own branch (an agent token may only ask at its own branch; another is refused with 403).");

const idempotencyKey = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .optional()
  .describe(
    'A key naming this one action, e.g. refund-order-1234. Give one whenever you might repeat the call (after a timeout or a restart): the same key with the same request returns the approval already made instead of asking the managers twice; the same key with a different request is refused (409).',
  );

const waitFields = {
  wait: z
    .boolean()
    .default(true)
    .describe('Wait for the decision before answering (default true). false: answer at once with the pending approval; then poll with get_approval.'),
  maxWaitSec: z
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_SEC)
    .optional()
    .describe(
      `Longest wait for the decision in this call, seconds (0-${MAX_WAIT_SEC}; default ${DEFAULT_WAIT_SEC} unless this server was set up otherwise, below the 60 s tool-call timeout of many MCP clients). If nobody decided by then the answer is the still-pending approval: not an error, and not permission to act; call get_approval with waitSec to keep waiting. Raise it only if your MCP client allows long tool calls.`,
    ),
};

export const requestApprovalInput = {
  branchId,
  actionType: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'expected lowercase letters, digits, ".", "_" or "-", e.g. refund or crm.update')
    .describe(
      'What you will do, as a lowercase name: refund, payment.send, crm.update, task.create, email.send, calendar.update, data.delete... It sets the risk (the riskiest word in it wins), so name it for what the action really does. To message a customer use send_customer_message instead.',
    ),
  summary: z
    .string()
    .trim()
    .min(1)
    .max(500)
    .describe('One line the manager reads first: what, for whom, how much. E.g. "Refund 20 EUR to order 1234 (damaged parcel)". At most 500 characters.'),
  details: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'The exact values you will execute with, as a JSON object: ids, amounts, currency, recipient, dates. E.g. {"orderId": "1234", "amount": 20, "currency": "EUR"}. Managers see it as key: value lines, and the decision is bound to a hash of {actionType, details} (payloadHash): once approved, execute exactly these values and nothing else. No commentary, no secrets; at most 10,000 characters as JSON.',
    ),
  riskLevel: z
    .enum(RISK_LEVELS)
    .optional()
    .describe(
      'Raise the risk above what the action type is classified as; a lower value is ignored. low: reads and status checks (auto-approved under a semi-autonomous or autonomous team; expires after 24 h by default). medium: CRM updates, tasks, internal notices (auto-approved only under autonomous; 8 h). high: external e-mail, calendar, data changes, and unknown action types (auto-approved only under autonomous; 4 h). critical: payments, refunds, customer messages, deletions (always waits for a person, possibly an owner; 1 h).',
    ),
  expiresInSec: z
    .number()
    .int()
    .min(10)
    .max(30 * 86_400)
    .optional()
    .describe(
      "Seconds until the request expires undecided (10 to 2,592,000). It may shorten the policy's time to live for the risk, not extend it (defaults: low 86400, medium 28800, high 14400, critical 3600); a longer value is refused with 400 naming the maximum. Default: the policy's time to live. An expired request was never approved.",
    ),
  requiredApprovals: z
    .number()
    .int()
    .min(1)
    .max(10)
    .optional()
    .describe('How many different managers must approve (1-10, default 1). Any rejection rejects.'),
  idempotencyKey,
  ...waitFields,
};

export const getApprovalInput = {
  id: idOrCode,
  waitSec: z
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_SEC)
    .default(0)
    .describe(`Wait up to this many seconds for a decision while it is pending (0-${MAX_WAIT_SEC}, default 0: answer at once). Keep it at ${DEFAULT_WAIT_SEC} or less unless your MCP client allows long tool calls.`),
};

export const cancelApprovalInput = {
  id: idOrCode.describe('The approval id or code of your own pending request to withdraw. Managers see it as cancelled; a decided one cannot be cancelled (409).'),
};

export const reportResultInput = {
  id: idOrCode.describe('The approval id or code of your approved request.'),
  success: z.boolean().describe('true: you executed the approved action (the approval becomes executed). false: you tried and it failed (it becomes failed).'),
  error: z.string().max(2000).optional().describe('With success false: what went wrong, for the managers and the audit log (at most 2000 characters).'),
  result: z.record(z.string(), z.unknown()).optional().describe('Optional facts about the execution, as a JSON object: e.g. {"refundId": "rf_881"}.'),
};

export const sendCustomerMessageInput = {
  branchId,
  contactId: z.string().trim().min(1).max(200).optional().describe('A known customer (contact id): the text goes out on the chat the customer writes from. Give contactId, or chatId, not both.'),
  chatId: z.string().trim().min(1).max(200).optional().describe("Any chat one of the branch's bots can reach (a chat id or phone number on that channel). Give chatId, or contactId, not both."),
  channel: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected a channel name such as telegram')
    .optional()
    .describe("With chatId: the channel to send on (e.g. telegram or whatsapp; the branch must have a bot on it). Default: the branch's first healthy bot."),
  text: z
    .string()
    .trim()
    .min(1)
    .max(1000)
    .describe('The exact text the customer gets (1-1000 characters, plain text: no control characters). The manager approves this very text; nothing is changed after approval.'),
  summary: z.string().trim().min(1).max(500).optional().describe('One line for the manager; default: who the message is for.'),
  idempotencyKey,
  ...waitFields,
};

const decisionOutput = z.object({
  outcome: z.enum(['approved', 'rejected', 'expired', 'cancelled']),
  by: z.string().describe('Manager id, admin, policy (auto-approved), system (timer) or the requester (cancelled).'),
  byName: z.string().optional(),
  via: z.string().describe('Where the decision came from: a chat channel, api, dashboard, policy or timer.'),
  at: z.string(),
  reason: z.string().optional(),
  rule: z.string().optional(),
  payloadHash: z.string().optional().describe('The payloadHash the decision was taken on.'),
});

/** What every approval tool answers in `structuredContent` (also as text). */
export const approvalOutput = {
  id: z.string(),
  code: z.string(),
  status: z.enum(STATUSES),
  branchId: z.string(),
  actionType: z.string(),
  riskLevel: z.enum(RISK_LEVELS),
  summary: z.string(),
  expiresAt: z.string(),
  payloadHash: z.string().optional().describe('SHA-256 of the canonical JSON of {actionType, details}: what is being approved.'),
  decision: decisionOutput.optional(),
  payloadMatchesRequest: z.boolean().optional().describe('The decision was taken on exactly the actionType and details this call sent.'),
  result: z.object({ success: z.boolean(), error: z.string().optional(), at: z.string() }).optional(),
  prompts: z.object({
    sent: z.number().describe('Prompts delivered to managers (or an approvals chat).'),
    failed: z.number(),
    channels: z.array(z.string()).describe('Channels the prompts went out on.'),
    notReached: z.number().describe('Managers not reached yet (queued, waiting for a channel, retrying).'),
  }),
  waitedSec: z.number().optional().describe('How long this call waited for the decision.'),
  next: z.string().describe('What to do now.'),
};
