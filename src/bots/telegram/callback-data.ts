import { createHmac } from 'node:crypto';

/**
 * Approval buttons carry `ap:<approvalId>:<y|n>:<mac>`, at most 64 bytes as
 * Telegram requires. The MAC (HMAC-SHA256 keyed by the bot token, 10 chars) means
 * a client that sends hand-made callback data cannot aim a button at another
 * approval or flip its meaning.
 */
export function encodeCallback(secret: string, approvalId: string, decision: 'approve' | 'reject'): string {
  const d = decision === 'approve' ? 'y' : 'n';
  const data = `ap:${approvalId}:${d}:${mac(secret, approvalId, d)}`;
  if (Buffer.byteLength(data) > 64) throw new Error(`callback data too long (${Buffer.byteLength(data)} bytes) for approval ${approvalId}`);
  return data;
}

export function decodeCallback(secret: string, data: string): { approvalId: string; decision: 'approve' | 'reject' } | null {
  const m = /^ap:([A-Za-z0-9_-]{1,40}):([yn]):([A-Za-z0-9_-]{10})$/.exec(data);
  if (!m || mac(secret, m[1], m[2]) !== m[3]) return null;
  return { approvalId: m[1], decision: m[2] === 'y' ? 'approve' : 'reject' };
}

function mac(secret: string, approvalId: string, d: string): string {
  return createHmac('sha256', secret).update(`${approvalId}:${d}`).digest('base64url').slice(0, 10);
}
