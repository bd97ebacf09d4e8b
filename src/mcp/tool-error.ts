import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CoordinatorError, ValidationError } from './coordinator-client.js';

/** What the model should do about an error, by its code (never by its message). */
const HINTS: Record<string, string> = {
  validation_failed: 'Fix the fields named above and call again.',
  unauthorized: "The MCP server's token was refused (missing, mistyped or revoked): the coordinator's admin must give this server a valid agent token. Retrying will not help.",
  forbidden: 'Your agent token may not do this (another branch, another agent\'s request, or not an agent token). Do not retry the same call.',
  not_found: 'No such approval among your own requests: check the id or code (ids come from request_approval).',
  conflict: 'The approval is not in a state that allows this (see the message); call get_approval to see where it stands.',
  rate_limited: 'Too many requests: wait a minute before calling again.',
  store_unavailable: 'The coordinator cannot store anything right now: try again in a minute.',
  network_error: 'The coordinator did not answer: it may be down or restarting. Try again in a minute; the approval, if one was made, is kept.',
  timeout: 'The coordinator did not answer in time: try again; the approval, if one was made, is kept.',
};

/** A failed tool call as a result the model can read and correct (`isError`), not a protocol error. */
export function errorResult(message: string, hint?: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: hint ? `${message}\n${hint}` : message }] };
}

/** An API error (or anything thrown) as an `isError` result with the code, the message, the fields at fault and what to do. */
export function toolError(error: unknown): CallToolResult {
  if (!(error instanceof CoordinatorError)) return errorResult(`Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  const lines = [`Coordinator error ${error.code}${error.status ? ` (HTTP ${error.status})` : ''}: ${error.message}`];
  if (error instanceof ValidationError) for (const issue of error.issues) lines.push(`- ${issue.path || '(body)'}: ${issue.message}`);
  const details = error.details as { status?: unknown; approvalId?: unknown } | undefined;
  if (typeof details?.status === 'string') lines.push(`Current status: ${details.status}.`);
  // A reused Idempotency-Key names the approval it made: the model already asked, and should look it up rather than ask again.
  if (typeof details?.approvalId === 'string') {
    lines.push(`Existing approval: ${details.approvalId}.`);
    return errorResult(lines.join('\n'), `You already asked with this idempotencyKey: call get_approval with id ${details.approvalId} instead of asking again (a new key would ask the managers a second time).`);
  }
  return errorResult(lines.join('\n'), HINTS[error.code]);
}
