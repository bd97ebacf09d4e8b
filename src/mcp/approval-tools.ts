import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../config/logger.js';
import { approvalResult } from './approval-result.js';
import { awaitDecision, awaitExecution } from './await-decision.js';
import { CoordinatorError, isRetryable, payloadHash, type Approval, type ApprovalRequestInput, type CoordinatorClient } from './coordinator-client.js';
import { approvalOutput, cancelApprovalInput, DEFAULT_WAIT_SEC, getApprovalInput, reportResultInput, requestApprovalInput, sendCustomerMessageInput } from './tool-schemas.js';
import { errorResult, toolError } from './tool-error.js';
import type { ToolExtra } from './wait-progress.js';

export interface ToolDeps {
  /** The typed REST client, with the token of the agent the tools act for. */
  client: CoordinatorClient;
  log: Logger;
  /** `maxWaitSec` when a call does not give one (default `DEFAULT_WAIT_SEC`). */
  defaultWaitSec?: number;
  /** Progress heartbeat period (tests shorten it). */
  heartbeatMs?: number;
}

/** A mistake in the tool's input that the REST API would not name as clearly. */
class InputError extends Error {}

/** The branch an agent token sees (its own), when the call named none. */
async function branchOf(client: CoordinatorClient, given: string | undefined, signal: AbortSignal): Promise<string> {
  if (given) return given;
  const branches = (await client.status({ signal })).branches.filter((b) => !b.unknownBranch).map((b) => b.id);
  if (branches.length === 1) return branches[0]!;
  throw new InputError(`branchId is required: this token sees ${branches.length === 0 ? 'no branch' : `the branches ${branches.join(', ')}`}.`);
}

/**
 * Runs a tool body, turning what it throws into a result the model can read
 * (`isError`): API errors with their code and fields, input mistakes, and a
 * call the client cancelled (which the client no longer reads; logged).
 */
function guarded<A>(name: string, log: Logger, body: (args: A, extra: ToolExtra) => Promise<CallToolResult>) {
  return async (args: A, extra: ToolExtra): Promise<CallToolResult> => {
    try {
      return await body(args, extra);
    } catch (error) {
      if (extra.signal.aborted) {
        log.info(`${name}: the client cancelled the call; stopped waiting (the approval, if one was made, is left as it is)`, { tool: name });
        return errorResult('Cancelled by the client: stopped waiting. An approval already requested stays as it is (use cancel_approval to withdraw it).');
      }
      if (error instanceof InputError) return errorResult(error.message);
      if (!(error instanceof CoordinatorError)) log.error(`${name} failed unexpectedly`, { tool: name, error });
      else log.info(`${name}: the coordinator answered ${error.code}`, { tool: name, code: error.code, status: error.status, requestId: error.requestId });
      return toolError(error);
    }
  };
}

/** Asks for an approval and waits (or not) for the decision: request_approval and send_customer_message. */
async function ask(deps: ToolDeps, extra: ToolExtra, input: ApprovalRequestInput, options: { wait: boolean; maxWaitSec?: number; idempotencyKey?: string }): Promise<CallToolResult> {
  // The key is made here when the call gives none, so that an error can name it: a call repeated with it never asks twice.
  const idempotencyKey = options.idempotencyKey ?? randomUUID();
  let created: Approval;
  try {
    created = await deps.client.requestApproval(input, { idempotencyKey, signal: extra.signal });
  } catch (error) {
    if (extra.signal.aborted) throw error;
    const failed = toolError(error);
    if (isRetryable(error)) failed.content.push({ type: 'text', text: `If you call again for the same action, pass idempotencyKey "${idempotencyKey}": if this request did reach the coordinator, that returns it instead of asking the managers twice.` });
    return failed;
  }
  // What the decision must be bound to: the hash of what this call asked for (the client's own helper, as an agent would check it).
  const requestedHash = await payloadHash(input.actionType, input.details);
  const maxWaitSec = options.wait ? (options.maxWaitSec ?? deps.defaultWaitSec ?? DEFAULT_WAIT_SEC) : 0;
  // From here on the approval exists: whatever fails while waiting, the answer names it, so the model looks it up
  // (get_approval) instead of asking again (for message.send: a second message).
  let last = created;
  let waitedSec = 0;
  try {
    const waited = await awaitDecision(deps, extra, created, maxWaitSec);
    last = waited.approval;
    waitedSec = waited.waitedSec;
    if (input.actionType === 'message.send' && last.status === 'approved') last = await awaitExecution(deps.client, last, extra.signal);
  } catch (error) {
    if (extra.signal.aborted) throw error;
    deps.log.warn('an approval was made but following it failed', { approvalId: created.id, error });
    const answer = approvalResult(last, { requestedHash, waitedSec });
    const why = error instanceof CoordinatorError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    answer.content.push({ type: 'text', text: `The approval above was made (id ${created.id}, code ${created.code}), but following it failed afterwards (${why}). Do not ask again: call get_approval with id ${created.id} to see where it stands.` });
    return answer;
  }
  return approvalResult(last, { requestedHash, waitedSec });
}

const APPROVAL_TOOL_NOTE = 'Answers with the approval: status, decision (who, via which channel, reason), payloadHash, and what to do next.';

/** request_approval, get_approval, cancel_approval, report_result and send_customer_message. */
export function registerApprovalTools(server: McpServer, deps: ToolDeps): void {
  const { client, log } = deps;

  server.registerTool(
    'request_approval',
    {
      title: 'Ask a manager to approve an action',
      description: [
        'Asks the managers of a branch to approve an action you want to take (a refund, a payment, a data change...) before you take it; they decide from chat (Slack, Telegram, WhatsApp) or the dashboard.',
        'By default waits for the decision (progress notifications say where the prompt went and when it expires), up to maxWaitSec; then answers with the approval still pending, which is not permission to act: keep waiting with get_approval.',
        'Act only on status approved, exactly with the details you sent, then call report_result. Low-risk actions may be auto-approved at once by policy.',
        'Cancelling this tool call stops the wait only; the request stays in front of the managers until decided or expired (withdraw it with cancel_approval).',
        APPROVAL_TOOL_NOTE,
      ].join(' '),
      inputSchema: requestApprovalInput,
      outputSchema: approvalOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    guarded('request_approval', log, async (args, extra) => {
      const { wait, maxWaitSec, idempotencyKey, branchId, ...request } = args;
      return ask(deps, extra, { ...request, branchId: await branchOf(client, branchId, extra.signal) }, { wait, maxWaitSec, idempotencyKey });
    }),
  );

  server.registerTool(
    'get_approval',
    {
      title: 'Read an approval (optionally wait for its decision)',
      description: `Reads one of your approval requests by id or code. With waitSec it waits (with progress notifications) until it is decided or waitSec passes. ${APPROVAL_TOOL_NOTE}`,
      inputSchema: getApprovalInput,
      outputSchema: approvalOutput,
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    guarded('get_approval', log, async ({ id, waitSec }, extra) => {
      const approval = await client.getApproval(id, { signal: extra.signal });
      const waited = await awaitDecision(deps, extra, approval, waitSec);
      return approvalResult(waited.approval, { waitedSec: waitSec > 0 ? waited.waitedSec : undefined });
    }),
  );

  server.registerTool(
    'cancel_approval',
    {
      title: 'Withdraw a pending approval request',
      description: `Withdraws one of your pending requests: every copy of the prompt shows it cancelled and nobody can approve it any more. A request already decided cannot be cancelled (the error says its status). ${APPROVAL_TOOL_NOTE}`,
      inputSchema: cancelApprovalInput,
      outputSchema: approvalOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    guarded('cancel_approval', log, async ({ id }, extra) => approvalResult(await client.cancel(id, { signal: extra.signal }))),
  );

  server.registerTool(
    'report_result',
    {
      title: 'Report what happened after an approval',
      description: `After you executed (or failed to execute) an approved action, records the outcome on the approval for the managers and the audit log: success true makes it executed, false makes it failed. Only once, and only for an approved request. ${APPROVAL_TOOL_NOTE}`,
      inputSchema: reportResultInput,
      outputSchema: approvalOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    guarded('report_result', log, async ({ id, ...result }, extra) => approvalResult(await client.reportResult(id, result, { signal: extra.signal }))),
  );

  server.registerTool(
    'send_customer_message',
    {
      title: 'Send a message to a customer, once a manager approves it',
      description: [
        'Proposes a message to a customer (contactId) or to any chat a branch bot reaches (chatId, channel): the manager sees the recipient and the exact text, and once approved the coordinator sends it itself and records it in the customer history. Never send it yourself.',
        'Customer messages are critical risk: a person always decides. Waits like request_approval; the answer says whether it was sent (executed) or could not be (failed).',
        APPROVAL_TOOL_NOTE,
      ].join(' '),
      inputSchema: sendCustomerMessageInput,
      outputSchema: approvalOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    guarded('send_customer_message', log, async (args, extra) => {
      const { contactId, chatId, channel, text, summary, wait, maxWaitSec, idempotencyKey } = args;
      if ((contactId === undefined) === (chatId === undefined)) throw new InputError('Give exactly one of contactId (a known customer) or chatId (any chat a branch bot reaches).');
      if (channel !== undefined && contactId !== undefined) throw new InputError('channel goes with chatId only: a contact is answered on the chat they write from.');
      const details = contactId !== undefined ? { contactId, text } : { chatId: chatId!, text, ...(channel ? { channel } : {}) };
      const line = summary ?? (contactId !== undefined ? `Message to customer ${contactId}` : `Message to chat ${chatId}${channel ? ` on ${channel}` : ''}`);
      const branchId = await branchOf(client, args.branchId, extra.signal);
      return ask(deps, extra, { branchId, actionType: 'message.send', summary: line, details }, { wait, maxWaitSec, idempotencyKey });
    }),
  );
}

