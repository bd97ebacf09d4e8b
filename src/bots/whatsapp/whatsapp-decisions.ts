import { normalizeMessageContent, type WAMessage } from '@whiskeysockets/baileys';
import type { Logger } from '../../config/logger.js';
import type { ApprovalOutcome, MessageRef } from '../bot-agent.js';
import type { BotContext } from '../channel-registry.js';
import { parseDecisionText, POLL_OPTIONS, readVote, renderOutcome } from './approval-poll.js';
import { deserialise, serialiseMessage } from './store-auth-state.js';
import { jidUser } from './whatsapp-socket.js';
import type { WhatsAppState } from './whatsapp-state.js';

/** What the decision handling needs from the bot. */
export interface DecisionPorts {
  agentId: string;
  state: WhatsAppState;
  context: BotContext;
  log: Logger;
  /** Sends a short text through the governor. */
  reply(jid: string, text: string, quotedKeyId?: string): Promise<void>;
  /** The phone digits behind these JIDs (phone JIDs directly, LIDs through Baileys' mapping). */
  phoneOf(jids: Array<string | null | undefined>): Promise<string | undefined>;
  /** Our own JIDs (phone and LID), for poll decryption. */
  meIds(): string[];
}

/**
 * Approvals on WhatsApp: poll votes (decrypted with the stored poll's secret)
 * and the text fallback, counted only from the manager's own number; the answer
 * `decide` gives is sent back; prompts decided elsewhere get a short follow-up.
 */
export class WhatsAppDecisions {
  /**
   * Prompt chats whose decision is being applied here (`phone|approval id or
   * code`): the engine shows the outcome on every prompt — calling `onOutcome`
   * here — before `decide` returns, and this chat gets `decide`'s answer
   * instead of a follow-up. Held only while `decide` runs, so nothing needs to
   * survive a restart.
   */
  private readonly deciding = new Set<string>();

  constructor(private readonly ports: DecisionPorts) {}

  /** Handles a poll vote: decrypts it, checks the voter is the prompted manager, applies it. */
  async onVote(message: WAMessage): Promise<void> {
    const { state, log } = this.ports;
    // Baileys' own unwrapping: votes in disappearing-messages chats come inside `ephemeralMessage` (view-once and edits wrap too).
    const update = normalizeMessageContent(message.message)?.pollUpdateMessage;
    const pollKeyId = update?.pollCreationMessageKey?.id;
    if (!pollKeyId) return;
    const stored = await state.messages.get(pollKeyId, true);
    if (!stored?.approvalId) {
      log.debug('vote on a poll that is not an approval prompt ignored', { pollKeyId });
      return;
    }
    const poll = deserialise<WAMessage>(stored.message);
    const vote = readVote({ voteMessage: message, poll, meIds: this.ports.meIds() });
    if (!vote) {
      log.warn('a poll vote could not be decrypted with the stored poll secret; ignored', { approvalId: stored.approvalId, voter: message.key.remoteJid });
      return;
    }
    await state.messages.save({ ...stored, message: serialiseMessage(poll) });
    if (!vote.option) return; // withdrawn
    const key = message.key;
    const phone = await this.ports.phoneOf([vote.voterJid, key.participantAlt, key.remoteJidAlt, key.participant, key.remoteJid]);
    if (!phone || phone !== jidUser(stored.remoteJid)) {
      log.info('poll vote from someone other than the prompted manager ignored', { approvalId: stored.approvalId, voter: vote.voterJid });
      return;
    }
    const decision = vote.option === POLL_OPTIONS[0] ? 'approve' : vote.option === POLL_OPTIONS[1] ? 'reject' : null;
    if (!decision) return;
    await this.decide({ replyJid: stored.remoteJid, quotedKeyId: stored.keyId, approvalId: stored.approvalId, code: stored.approvalCode, decision, phone });
  }

  /**
   * The text fallback: `1`/`2` quoting a prompt, or `APPROVE <code>` /
   * `REJECT <code> <reason>` from a manager's number. Returns false when the
   * text is not a decision (it is then a customer message).
   */
  async onText(chatJid: string, text: string, phone: string | undefined, quotedKeyId: string | undefined): Promise<boolean> {
    const quoted = quotedKeyId ? await this.ports.state.messages.get(quotedKeyId, true) : null;
    const prompt = quoted?.approvalId ? quoted : null;
    const parsed = parseDecisionText(text, Boolean(prompt));
    if (!parsed || !phone) return false;
    if (!parsed.code) {
      // `1`/`2` count only from the number the quoted prompt was sent to.
      if (!prompt?.approvalId || jidUser(prompt.remoteJid) !== phone) return false;
      await this.decide({ replyJid: chatJid, quotedKeyId: prompt.keyId, approvalId: prompt.approvalId, code: prompt.approvalCode, decision: parsed.decision, phone });
      return true;
    }
    const own = (await this.ports.state.messages.promptsFor(parsed.code)).find((p) => p.approvalId && jidUser(p.remoteJid) === phone);
    if (!own && !this.isManager(phone)) return false;
    const approvalId = own?.approvalId ?? parsed.code;
    await this.decide({ replyJid: chatJid, quotedKeyId: prompt?.keyId ?? own?.keyId, approvalId, code: parsed.code, decision: parsed.decision, phone, reason: parsed.reason });
    return true;
  }

  /** After a decision anywhere: a follow-up under the prompt, unless this chat decided it here (it got its answer). */
  async onOutcome(ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    const stored = await this.ports.state.messages.get(ref.messageId, true);
    const chat = stored?.remoteJid ?? ref.chatId;
    const code = stored?.approvalCode ?? outcome.approvalId;
    const keys = [`${jidUser(chat)}|${outcome.approvalId}`, `${jidUser(chat)}|${code}`];
    if (keys.some((k) => this.deciding.has(k))) return;
    await this.ports.reply(chat, renderOutcome(code, outcome), stored ? stored.keyId : undefined);
  }

  /**
   * Whether a phone may send `APPROVE <code>` for a prompt it was not sent: a
   * configured manager. Without `identify` (a runner), nobody: only the
   * prompts this number sent (checked by the caller) make it a decision, so
   * anyone else's `APPROVE …` stays a customer message.
   */
  private isManager(phone: string): boolean {
    const identify = this.ports.context.identify;
    if (!identify) return false;
    return Boolean(identify('whatsapp', phone) ?? identify('whatsapp', `+${phone}`));
  }

  /** Applies one decision and answers in the chat it came from; `approvalId` may be the code (the engine accepts both). */
  private async decide(d: { replyJid: string; quotedKeyId?: string; approvalId: string; code?: string; decision: 'approve' | 'reject'; phone: string; reason?: string }): Promise<void> {
    const { context, agentId, log } = this.ports;
    const { approvalId, decision, phone, reason } = d;
    const keys = [`${phone}|${approvalId}`, ...(d.code ? [`${phone}|${d.code}`] : [])];
    let text: string;
    if (!context.decide) text = 'Decisions are not taken here.';
    else {
      keys.forEach((k) => this.deciding.add(k));
      try {
        const reply = await context.decide({ agentId, channel: 'whatsapp', approvalId, decision, deciderId: phone, ...(reason ? { reason } : {}) });
        text = reply.askReason ? `${reply.text} To add a reason, send REJECT ${d.code ?? approvalId} <reason>.` : reply.text;
        log.info(`whatsapp decision answered: ${reply.text}`, { approvalId, decision });
      } catch (error) {
        log.error('decision failed', { error, approvalId });
        text = 'Something went wrong; try again or use the dashboard.';
      } finally {
        keys.forEach((k) => this.deciding.delete(k));
      }
    }
    await this.ports.reply(d.replyJid, text, d.quotedKeyId).catch((error: unknown) => log.warn('could not answer a decision', { error, approvalId }));
  }
}
