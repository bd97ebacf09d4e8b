import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Ids are at most 229 characters: inside the 256 Meta allows a reply button's id and a quick-reply payload. */
const APPROVAL_ID = /^[A-Za-z0-9_-]{1,200}$/;
const BUTTON_ID = /^wa1:([A-Za-z0-9_-]{1,200}):([yn]):([A-Za-z0-9_-]{22})$/;

/**
 * The key one agent's button ids are signed with: derived from the app secret
 * and the agent id, so it is never the secret itself, and two numbers of one
 * Meta app do not accept each other's buttons.
 */
export function buttonSecret(appSecret: string, agentId: string): string {
  return createHash('sha256').update(`wacloud-buttons:${agentId}:${appSecret}`).digest('hex');
}

/**
 * Approval buttons carry `wa1:<approvalId>:<y|n>:<mac>`. The MAC covers the
 * approval, the decision and the number the prompt went to (digits), so a
 * hand-made reply cannot aim at another approval, flip its meaning, or be
 * used from a number it was not sent to.
 */
export function encodeButtonId(secret: string, approvalId: string, decision: 'approve' | 'reject', phone: string): string {
  if (!APPROVAL_ID.test(approvalId)) throw new Error(`approval id '${approvalId.slice(0, 40)}' cannot be carried by a button (letters, digits, _ and -, up to 200)`);
  const d = decision === 'approve' ? 'y' : 'n';
  return `wa1:${approvalId}:${d}:${mac(secret, approvalId, d, phone)}`;
}

/**
 * The approval and decision of a button id, with the number it was signed
 * for, if that is one of `phones` (the presser's number and the numbers Meta
 * said it is: Brazil and Mexico numbers are written one way and arrive another);
 * otherwise null. The MAC is compared in constant time.
 */
export function decodeButtonId(secret: string, id: string, phones: readonly string[]): { approvalId: string; decision: 'approve' | 'reject'; phone: string } | null {
  const m = BUTTON_ID.exec(id);
  if (!m) return null;
  const given = Buffer.from(m[3]!);
  for (const phone of phones) {
    if (timingSafeEqual(Buffer.from(mac(secret, m[1]!, m[2]!, phone)), given)) return { approvalId: m[1]!, decision: m[2] === 'y' ? 'approve' : 'reject', phone };
  }
  return null;
}

/** Whether an id has our shape at all (a tap on some other business's button is not "forged", just not ours). */
export const looksLikeOurs = (id: string): boolean => id.startsWith('wa1:');

function mac(secret: string, approvalId: string, d: string, phone: string): string {
  return createHmac('sha256', secret).update(`${approvalId}:${d}:${phone.replace(/\D/g, '')}`).digest('base64url').slice(0, 22);
}
