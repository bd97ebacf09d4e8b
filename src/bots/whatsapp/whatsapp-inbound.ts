import {
  isJidBroadcast,
  isJidGroup,
  isJidNewsletter,
  isJidStatusBroadcast,
  normalizeMessageContent,
  toNumber,
  type WAMessage,
} from '@whiskeysockets/baileys';

/** Longest inbound text passed on (WhatsApp allows ~65k characters; nobody needs that in a log or a ticket). */
export const MAX_INBOUND_TEXT = 8000;
const MAX_NAME = 100;

/** What one received `WAMessage` is to the bot. */
export type Inbound =
  | { kind: 'vote' }
  | {
      kind: 'text';
      chatJid: string;
      /** Who wrote it: the chat itself, or the participant in a group. */
      senderJid: string;
      group: boolean;
      text: string;
      /** Milliseconds since the epoch, when the message carries a usable timestamp. */
      atMs?: number;
      messageId?: string;
      /** The id of the message this one quotes. */
      quotedId?: string;
      pushName?: string;
      /** JIDs that may reveal the sender's phone (the `…Alt` forms first). */
      phoneJids: string[];
    };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** The chats and senders a message may come from: a user (phone or LID) or a group, with a non-empty user part. */
const USER_JID = /^[0-9]{1,20}(:[0-9]{1,4})?@(s\.whatsapp\.net|lid)$/;
const GROUP_JID = /^[0-9]{1,24}(-[0-9]{1,16})?@g\.us$/;
const jidOf = (v: unknown, group: boolean): string | undefined => {
  const jid = str(v);
  return jid && (group ? GROUP_JID : USER_JID).test(jid) ? jid : undefined;
};

/**
 * Reads a received message defensively: anything malformed, from us, from a
 * status/broadcast/newsletter, a group (unless `groups`) or without text is
 * null. Texts are capped at `MAX_INBOUND_TEXT`. Never throws.
 */
export function readInbound(m: WAMessage | null | undefined, options: { groups: boolean }): Inbound | null {
  const key = m?.key;
  const jid = str(key?.remoteJid);
  if (!m || !key || !jid || key.fromMe || isJidStatusBroadcast(jid) || isJidBroadcast(jid) || isJidNewsletter(jid)) return null;
  let content: ReturnType<typeof normalizeMessageContent>;
  try {
    content = normalizeMessageContent(m.message);
  } catch {
    return null;
  }
  if (!content || typeof content !== 'object') return null;
  if (content.pollUpdateMessage) return { kind: 'vote' };
  const raw = str(content.conversation) ?? str(content.extendedTextMessage?.text);
  if (!raw) return null;
  const group = Boolean(isJidGroup(jid));
  if (group && !options.groups) return null;
  // A chat or sender id that is not a WhatsApp user or group JID cannot be answered (nor trusted as someone): drop it.
  if (!jidOf(jid, group)) return null;
  const senderJid = group ? jidOf(key.participant, false) : jid;
  if (!senderJid) return null;
  const text = raw.length > MAX_INBOUND_TEXT ? `${raw.slice(0, MAX_INBOUND_TEXT)}…` : raw;
  const quotedId = str(content.extendedTextMessage?.contextInfo?.stanzaId);
  const pushName = str(m.pushName)?.slice(0, MAX_NAME);
  const atMs = timestampMs(m.messageTimestamp);
  const messageId = str(key.id);
  const phoneJids = (group ? [key.participantAlt, key.participant] : [key.remoteJidAlt, jid]).filter((j): j is string => Boolean(str(j)));
  return {
    kind: 'text',
    chatJid: jid,
    senderJid,
    group,
    text,
    phoneJids,
    ...(atMs !== undefined ? { atMs } : {}),
    ...(messageId ? { messageId } : {}),
    ...(quotedId ? { quotedId } : {}),
    ...(pushName ? { pushName } : {}),
  };
}

/** Baileys' seconds (number or Long) as milliseconds, or undefined when absent or nonsense. */
function timestampMs(value: WAMessage['messageTimestamp']): number | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    const seconds: unknown = toNumber(value);
    if (typeof seconds !== 'number') return undefined; // a BigInt or anything else a hostile Long-like gives back
    const ms = seconds * 1000;
    return Number.isFinite(ms) && ms > 0 && ms < 8.64e15 ? ms : undefined;
  } catch {
    return undefined;
  }
}
