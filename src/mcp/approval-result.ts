import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { Approval } from './coordinator-client.js';
import type { approvalOutput } from './tool-schemas.js';

export type ApprovalOutput = z.infer<z.ZodObject<typeof approvalOutput>>;

/** What the tool call knows beyond the approval itself. */
export interface ResultContext {
  /** The hash of what this call asked for (request_approval, send_customer_message). */
  requestedHash?: string;
  /** Seconds this call waited for the decision. */
  waitedSec?: number;
}

/** Where the prompts went, as far as a requester may know (channels and counts, never who). */
export function promptsOf(approval: Approval): ApprovalOutput['prompts'] {
  const sent = approval.deliveries.filter((d) => d.status === 'sent');
  return {
    sent: sent.length,
    failed: approval.deliveries.length - sent.length,
    channels: [...new Set(sent.map((d) => d.channel))],
    notReached: approval.unreached?.length ?? 0,
  };
}

/** "prompt sent on telegram (2); 1 manager not reached yet" — or that nothing went out yet. */
export function promptsText(approval: Approval): string {
  const p = promptsOf(approval);
  const parts = [p.sent > 0 ? `prompt${p.sent === 1 ? '' : 's'} sent on ${p.channels.join(', ')} (${p.sent})` : 'no prompt delivered yet'];
  if (p.notReached > 0) parts.push(`${p.notReached} manager${p.notReached === 1 ? '' : 's'} not reached yet (${[...new Set(approval.unreached!.map((u) => u.state))].join(', ')})`);
  if (p.failed > 0) parts.push(`${p.failed} failed send${p.failed === 1 ? '' : 's'}`);
  return parts.join('; ');
}

/** "2026-12-02T11:42:00.000Z (in 59 min)". */
export function expiryText(approval: Approval, now = Date.now()): string {
  const minutes = Math.round((Date.parse(approval.expiresAt) - now) / 60_000);
  return `${approval.expiresAt} (${minutes > 0 ? `in ${minutes} min` : minutes === 0 ? 'within a minute' : 'past'})`;
}

function nextStep(approval: Approval, context: ResultContext): string {
  const ref = `id "${approval.id}"`;
  switch (approval.status) {
    case 'pending':
      return `Not decided yet: do not act. Call get_approval with ${ref} and waitSec to keep waiting, or cancel_approval to withdraw the request.`;
    case 'approved':
      if (context.requestedHash && context.requestedHash !== approval.decision.payloadHash) {
        return 'The decision was not taken on what this call asked for (payload hash differs): do not act; ask again.';
      }
      if (approval.actionType === 'message.send') return 'Approved; the coordinator sends the message itself. Do not send it yourself.';
      return `Execute exactly the approved details now (nothing else), then call report_result with ${ref} and success true, or false with the error.`;
    case 'executed':
    case 'failed':
      return approval.actionType === 'message.send' ? `Done: the coordinator ${approval.status === 'executed' ? 'sent the message' : 'could not send the message'}.` : 'Done: the result is recorded.';
    case 'rejected':
      return `Rejected: do not act.${approval.decision.reason ? ' Take the reason into account before asking again.' : ''}`;
    case 'expired':
      return 'Expired undecided: do not act. Ask again if it is still needed.';
    case 'cancelled':
      return 'Cancelled: do not act.';
  }
}

function headline(approval: Approval, context: ResultContext): string {
  const what = `Approval ${approval.code} (id ${approval.id}) — ${approval.actionType} at ${approval.branchId}, risk ${approval.riskLevel}: "${approval.summary}"`;
  if (approval.status === 'pending') {
    const waited = context.waitedSec ? ` after waiting ${context.waitedSec} s` : '';
    return `${what}\nStatus: PENDING${waited}. ${promptsText(approval)}. Expires ${expiryText(approval)}.`;
  }
  const d = approval.decision;
  const who = d.byName ? `${d.byName} (${d.by})` : d.by;
  const lines = [what, `Status: ${approval.status.toUpperCase()} — ${d.outcome} by ${who} via ${d.via} at ${d.at}.`];
  if (d.reason) lines.push(`Reason: ${d.reason}`);
  if (d.rule) lines.push(`Rule: ${d.rule}`);
  if (approval.result) lines.push(`Result: ${approval.result.success ? 'success' : `failed${approval.result.error ? `: ${approval.result.error}` : ''}`} at ${approval.result.at}`);
  return lines.join('\n');
}

/** The approval as the tools answer it: a compact structured shape and the same facts as text. */
export function approvalResult(approval: Approval, context: ResultContext = {}): CallToolResult {
  const structured: ApprovalOutput = {
    id: approval.id,
    code: approval.code,
    status: approval.status,
    branchId: approval.branchId,
    actionType: approval.actionType,
    riskLevel: approval.riskLevel,
    summary: approval.summary,
    expiresAt: approval.expiresAt,
    ...(approval.payloadHash ? { payloadHash: approval.payloadHash } : {}),
    ...(approval.decision ? { decision: approval.decision } : {}),
    ...(context.requestedHash && approval.decision?.payloadHash ? { payloadMatchesRequest: approval.decision.payloadHash === context.requestedHash } : {}),
    ...(approval.result ? { result: { success: approval.result.success, ...(approval.result.error ? { error: approval.result.error } : {}), at: approval.result.at } } : {}),
    prompts: promptsOf(approval),
    ...(context.waitedSec !== undefined ? { waitedSec: context.waitedSec } : {}),
    next: nextStep(approval, context),
  };
  const lines = [headline(approval, context)];
  if (approval.decision?.payloadHash) {
    const match = structured.payloadMatchesRequest === undefined ? '' : structured.payloadMatchesRequest ? ' — matches the actionType and details you sent' : ' — DIFFERS from what you sent';
    lines.push(`Decided on payload hash ${approval.decision.payloadHash}${match}.`);
  } else if (approval.payloadHash) {
    lines.push(`Payload hash: ${approval.payloadHash}.`);
  }
  if (approval.preview) lines.push(`The manager sees: ${approval.preview}`);
  lines.push(`Next: ${structured.next}`);
  return { content: [{ type: 'text', text: lines.join('\n') }], structuredContent: structured };
}
