import type { ApprovalOutcome, ApprovalPrompt } from '../bot-agent.js';
import type { ApprovalTemplate } from './cloud-config.js';

/** Meta's limits: an interactive body (1024), a text message (4096), a template text parameter (kept well inside the body's 1024). */
export const MAX_BODY = 1024;
export const MAX_TEXT = 4096;
const MAX_PARAM = 600;

const RISK_MARK: Record<string, string> = { low: '🟢 low', medium: '🟡 medium', high: '🟠 high', critical: '🔴 critical' };
const utc = (iso: string) => `${iso.replace('T', ' ').slice(0, 16)} UTC`;
const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * The prompt as an interactive message's body. The head (what, where, who,
 * until when) always fits; the details are cut to the room left, since the
 * full request is on the dashboard.
 */
export function promptBody(p: ApprovalPrompt): string {
  const head = [`Approval needed — ${p.actionType} (${p.code})`, p.summary].join('\n');
  const tail = [`Branch: ${p.branchName}   Risk: ${RISK_MARK[p.riskLevel] ?? p.riskLevel}`, `Requested by: ${p.requester}   Expires: ${utc(p.expiresAt)}`].join('\n');
  const room = MAX_BODY - tail.length - 2;
  const top = p.details ? `${head}\nDetails: ${p.details}` : head;
  return `${cut(top, room)}\n\n${tail}`;
}

export function outcomeText(o: ApprovalOutcome): string {
  const code = o.prompt ? ` ${o.prompt.code}` : '';
  const who = o.by ? ` by ${o.by}` : '';
  const via = o.via ? ` via ${o.via}` : '';
  const when = o.at ? ` at ${utc(o.at)}` : '';
  return cut(`➡${code} ${o.status.toUpperCase()}${who}${via}${when}${o.reason ? ` — reason: ${o.reason}` : ''}`, MAX_TEXT);
}

/** A template text parameter: Meta refuses new lines, tabs and more than four spaces in a row. */
function param(text: string): { type: 'text'; text: string } {
  return { type: 'text', text: cut(text.replace(/[\r\n\t]+/g, ' ').replace(/ {4,}/g, '   ').trim() || '-', MAX_PARAM) };
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
      { type: 'body', parameters: [param(p.code), param(p.branchName), param(`${p.actionType}: ${p.summary}`), param(utc(p.expiresAt))] },
      { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: approveId }] },
      { type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: rejectId }] },
    ],
  };
}
