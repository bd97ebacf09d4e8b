import { createHash, createHmac } from 'node:crypto';

/** Meta lets a reply button's id (and a quick-reply payload) be 256 characters. */
export const MAX_BUTTON_ID = 256;

/** The key button ids are signed with: derived from the app secret, so it is never the secret itself. */
export function buttonSecret(appSecret: string): string {
  return createHash('sha256').update(`wacloud-buttons:${appSecret}`).digest('hex');
}

/**
 * Approval buttons carry `wa1:<approvalId>:<y|n>:<mac>`. The MAC covers the
 * approval, the decision and the number the prompt went to (digits), so a
 * hand-made reply cannot aim at another approval, flip its meaning, or be
 * used from a number it was not sent to.
 */
export function encodeButtonId(secret: string, approvalId: string, decision: 'approve' | 'reject', phone: string): string {
  const d = decision === 'approve' ? 'y' : 'n';
  const id = `wa1:${approvalId}:${d}:${mac(secret, approvalId, d, phone)}`;
  if (id.length > MAX_BUTTON_ID) throw new Error(`button id too long (${id.length} characters) for approval ${approvalId}`);
  return id;
}

/** The approval and decision of a button id, if it was signed for this presser's number; otherwise null. */
export function decodeButtonId(secret: string, id: string, presserPhone: string): { approvalId: string; decision: 'approve' | 'reject' } | null {
  const m = /^wa1:([A-Za-z0-9_-]{1,200}):([yn]):([A-Za-z0-9_-]{22})$/.exec(id);
  if (!m || mac(secret, m[1]!, m[2]!, presserPhone) !== m[3]) return null;
  return { approvalId: m[1]!, decision: m[2] === 'y' ? 'approve' : 'reject' };
}

/** Whether an id has our shape at all (a tap on some other business's button is not "forged", just not ours). */
export const looksLikeOurs = (id: string): boolean => id.startsWith('wa1:');

function mac(secret: string, approvalId: string, d: string, phone: string): string {
  return createHmac('sha256', secret).update(`${approvalId}:${d}:${phone.replace(/\D/g, '')}`).digest('base64url').slice(0, 22);
}
