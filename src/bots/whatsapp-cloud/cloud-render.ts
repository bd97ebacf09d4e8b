import { promptTime } from '../prompt-time.js';
import type { ApprovalOutcome, ApprovalPrompt } from '../bot-agent.js';
import type { ApprovalTemplate } from './cloud-config.js';

/** Meta's limits: an interactive body (1024) and a text message (4096) in characters. */
export const MAX_BODY = 1024;
export const MAX_TEXT = 4096;
/**
 * The template's four parameters, each capped so that together (770) with the
 * template's own words they stay inside the 1024 of a template body.
 */
const PARAM_MAX = { code: 20, branch: 120, action: 600, expiry: 30 };
/** A branch name or requester in a prompt's last lines. */
const NAME_MAX = 120;
/** The progress lines (approvals so far, escalation steps), together. */
const PROGRESS_MAX = 300;

const RISK_MARK: Record<string, string> = { low: '🟢 low', medium: '🟡 medium', high: '🟠 high', critical: '🔴 critical' };
/**
 * `text` in at most `max` UTF-16 units (how Meta counts), cut with an ellipsis
 * between whole characters, so an emoji is never split in half.
 */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

/**
 * The prompt as an interactive message's body. The head (what, where, who,
 * until when) always fits; the details are cut to the room left, since the
 * full request is on the dashboard.
 */
export function promptBody(p: ApprovalPrompt): string {
  const head = [`Approval needed — ${p.actionType} (${p.code})`, p.summary].join('\n');
  const tail = [`Branch: ${cut(p.branchName, NAME_MAX)}   Risk: ${RISK_MARK[p.riskLevel] ?? p.riskLevel}`, `Requested by: ${cut(p.requester, NAME_MAX)}   Expires: ${promptTime(p.expiresAt, p.timeZone)}`, ...(p.progress?.length ? [cut(p.progress.join(' '), PROGRESS_MAX)] : [])].join('\n');
  const room = Math.max(0, MAX_BODY - tail.length - 2);
  const top = p.details ? `${head}\nDetails: ${p.details}` : head;
  return `${cut(top, room)}\n\n${tail}`;
}

export function outcomeText(o: ApprovalOutcome): string {
  const code = o.prompt ? ` ${o.prompt.code}` : '';
  // Still pending: what changed (a partial approval, an escalation step), as a reply (a sent message cannot be edited).
  if (o.status === 'pending') return cut(`⏳${code} is still pending. ${(o.prompt?.progress ?? []).join(' ')}`.trim(), MAX_TEXT);
  const who = o.by ? ` by ${o.by}` : '';
  const via = o.via ? ` via ${o.via}` : '';
  const when = o.at ? ` at ${promptTime(o.at, o.prompt?.timeZone)}` : '';
  return cut(`➡${code} ${o.status.toUpperCase()}${who}${via}${when}${o.reason ? ` — reason: ${o.reason}` : ''}`, MAX_TEXT);
}

/** A template text parameter: Meta refuses new lines, tabs and more than four spaces in a row. */
function param(text: string, max: number): { type: 'text'; text: string } {
  return { type: 'text', text: cut(text.replace(/[\r\n\t]+/g, ' ').replace(/ {4,}/g, '   ').trim() || '-', max) };
}

/**
 * The approval template's message: body parameters {{1}} code, {{2}} branch,
 * {{3}} summary, {{4}} expiry (docs/whatsapp-cloud.md shows the template to
 * submit), and the signed ids as the payloads of its two quick-reply buttons.
 */
export function templateMessage(template: ApprovalTemplate, p: ApprovalPrompt, approveId: string, rejectId: string): Record<string, unknown> {
  return {
    name: template.name,
    language: { code: template.language },
    components: [
      { type: 'body', parameters: [param(p.code, PARAM_MAX.code), param(p.branchName, PARAM_MAX.branch), param(`${p.actionType}: ${p.summary}`, PARAM_MAX.action), param(promptTime(p.expiresAt, p.timeZone), PARAM_MAX.expiry)] },
      { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: approveId }] },
      { type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: rejectId }] },
    ],
  };
}
