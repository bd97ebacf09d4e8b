import { promptTime } from '../prompt-time.js';
import {
  decryptPollVote,
  getAggregateVotesInPollMessage,
  getKeyAuthor,
  jidNormalizedUser,
  normalizeMessageContent,
  updateMessageWithPollUpdate,
  type AnyMessageContent,
  type proto,
  type WAMessage,
} from '@whiskeysockets/baileys';
import type { ApprovalOutcome, ApprovalPrompt } from '../bot-agent.js';

/** The poll's two options, in this order (so `1`/`2` replies match them). */
export const POLL_OPTIONS = ['Approve', 'Reject'] as const;

const RISK_MARK: Record<string, string> = { low: '🟢 low', medium: '🟡 medium', high: '🟠 high', critical: '🔴 critical' };

/** The prompt's text: summary, code and how to answer (buttons do not work on WhatsApp). */
export function renderPromptText(p: ApprovalPrompt): string {
  return [
    `*Approval needed* — ${p.actionType} (${p.code})`,
    p.summary,
    p.details ? `Details: ${p.details}` : null,
    `Branch: ${p.branchName}   Risk: ${RISK_MARK[p.riskLevel] ?? p.riskLevel}`,
    `Requested by: ${p.requester}   Expires: ${promptTime(p.expiresAt, p.timeZone)}`,
    ...(p.progress ?? []),
    '',
    `Vote in the poll below, or reply to this message with 1 (approve) or 2 (reject), or send APPROVE ${p.code} / REJECT ${p.code} <reason>.`,
  ]
    .filter((line) => line !== null)
    .join('\n');
}

/** The single-choice poll that follows the prompt text; `messageSecret` is what votes are encrypted with. */
export function pollContent(p: ApprovalPrompt, messageSecret: Uint8Array): AnyMessageContent {
  return { poll: { name: `${p.code}: ${p.actionType} — approve?`, values: [...POLL_OPTIONS], selectableCount: 1, messageSecret } };
}

/** The short follow-up when a prompt was decided elsewhere; while pending, its new progress (a poll cannot be edited). */
export function renderOutcome(code: string, o: ApprovalOutcome): string {
  if (o.status === 'pending') return `⏳ ${code} is still pending. ${(o.prompt?.progress ?? []).join(' ')}`.trim();
  return `➡ ${code} ${o.status.toUpperCase()}${o.by ? ` by ${o.by}` : ''}${o.via ? ` via ${o.via}` : ''}${o.at ? ` at ${promptTime(o.at, o.prompt?.timeZone)}` : ''}${o.reason ? ` — reason: ${o.reason}` : ''}`;
}

/** A decision typed as text. */
export type TextDecision = { decision: 'approve' | 'reject'; code?: string; reason?: string };

/**
 * Reads the text fallback: `1`/`2` (only meaningful when quoting a prompt), or
 * `APPROVE <code>` / `REJECT <code> [reason]` in any case.
 */
export function parseDecisionText(text: string, quotingPrompt: boolean): TextDecision | null {
  const t = text.trim();
  if (quotingPrompt && /^[12]\.?$/.test(t)) return { decision: t.startsWith('1') ? 'approve' : 'reject' };
  const m = /^(approve|reject)\s+([A-Za-z2-9]{6})\b\s*(.*)$/is.exec(t);
  if (!m) return null;
  const reason = m[3].trim();
  return { decision: m[1].toLowerCase() === 'approve' ? 'approve' : 'reject', code: m[2].toUpperCase(), ...(reason && m[1].toLowerCase() === 'reject' ? { reason } : {}) };
}

/** Everything needed to decrypt one vote. */
export interface VoteContext {
  /** The vote message as received (`pollUpdateMessage`, possibly inside a disappearing/view-once wrapper). */
  voteMessage: WAMessage;
  /** The stored poll we sent. */
  poll: WAMessage;
  /** Our own ids (phone JID and LID): the poll's creator may be addressed by either. */
  meIds: string[];
}

/**
 * Decrypts a vote with the stored poll's message secret (Baileys 7 no longer
 * does it) and applies it with Baileys' own helpers. The creator and voter may
 * be addressed by phone JID or LID, so each pairing is tried until the
 * authenticated decryption succeeds. Returns the chosen option (or null when
 * the vote cannot be decrypted or was withdrawn) and the voter's JID.
 */
export function readVote(ctx: VoteContext): { option: string | null; voterJid: string } | null {
  const update = normalizeMessageContent(ctx.voteMessage.message)?.pollUpdateMessage;
  const secret = ctx.poll.message?.messageContextInfo?.messageSecret;
  const pollMsgId = update?.pollCreationMessageKey?.id;
  if (!update?.vote || !secret || !pollMsgId) return null;
  const key = ctx.voteMessage.key;
  const voters = unique([getKeyAuthor(key), key.participant, key.participantAlt, key.remoteJid, key.remoteJidAlt].map((j) => (j ? jidNormalizedUser(j) : '')));
  const creators = unique(ctx.meIds.map((j) => jidNormalizedUser(j)));
  for (const voterJid of voters) {
    for (const pollCreatorJid of creators) {
      let vote: proto.Message.PollVoteMessage;
      try {
        vote = decryptPollVote(update.vote, { pollCreatorJid, pollMsgId, pollEncKey: secret, voterJid });
      } catch {
        continue;
      }
      const me = creators[0];
      updateMessageWithPollUpdate(ctx.poll, { pollUpdateMessageKey: key, vote, senderTimestampMs: Number(update.senderTimestampMs ?? 0) });
      const author = getKeyAuthor(key, me);
      const chosen = getAggregateVotesInPollMessage({ message: ctx.poll.message, pollUpdates: ctx.poll.pollUpdates }, me).find((o) => o.voters.includes(author));
      return { option: chosen?.name ?? null, voterJid };
    }
  }
  return null;
}

function unique(values: string[]): string[] {
  return [...new Set(values.filter(Boolean))];
}
