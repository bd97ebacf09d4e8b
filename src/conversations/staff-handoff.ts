import type { InboundMessage, MessageRef } from '../bots/bot-agent.js';
import type { BranchConfig, CoordinatorConfig } from '../config/config-schema.js';
import type { Logger } from '../config/logger.js';
import type { AgentHost } from '../branches/agent-host.js';
import { identityOn, managerByIdentity } from '../branches/manager-identity.js';
import type { ChannelRegistry } from '../bots/channel-registry.js';
import type { ContactRecord, ConversationRecord, StaffThread } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import { afterUnitDurable, outsideWriteUnits, unitDurable } from '../storage/write-unit.js';

/** Staff may type this as a reply in the hand-off thread to give the customer back to the bot. */
export const RESOLVE_COMMAND = /^[/!#]?resolved?\.?$/i;
const KEEP_IDS = 50;
/** Each recent customer message quoted in a hand-off notification is cut to this, so the instructions after them always fit. */
const QUOTE_MAX = 400;
/** A customer message forwarded to staff chats is cut to this (Telegram takes 4096 characters; the dashboard has it all). */
const FORWARD_MAX = 3500;

/**
 * The reply comes from the chat the notification went to. On WhatsApp a
 * manager notified at her phone JID may answer from her LID chat: another chat
 * counts only when the sender is a manager of the conversation's branch (by
 * the phone WhatsApp gives with the LID), never for anyone who quotes an id.
 */
function sameChat(chatId: string, message: InboundMessage, branch: BranchConfig, channels: ChannelRegistry): boolean {
  if (chatId === message.chatId) return true;
  if (!channels.find(message.channel)?.identity?.severalChats) return false;
  return [message.senderPhone, message.senderId].some((id) => id !== undefined && managerByIdentity(branch, message.channel, id, channels) !== undefined);
}

/**
 * May `agentId` relay staff replies for a conversation of `branch`? Only one of
 * the branch's own bots, or a bot the branch's hand-offs are configured to go
 * through (its staff chats, the business's ops chat) — checked against the
 * config in force, so a thread stored earlier never lets another branch's bot
 * speak to this branch's customers.
 */
function relaysFor(config: CoordinatorConfig, branch: BranchConfig, agentId: string): boolean {
  return branch.agents.some((a) => a.id === agentId) || branch.responder.staff.some((t) => t.agent === agentId) || config.business.opsAlerts?.agent === agentId;
}

/** `text` cut to `max` characters, marked when cut. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (cut; the full text is on the dashboard)`;
}

const REASONS: Record<string, string> = {
  asked_for_person: 'asked for a person',
  no_answer: 'the bot had no answer',
  responder_off: 'automatic answers are off',
  api: 'handed over by an operator',
};

export function contactLabel(contact: ContactRecord): string {
  const id = contact.phone ? `+${contact.phone.replace(/^\+/, '')}` : contact.externalId;
  return contact.name ? `${contact.name} (${contact.channel} ${id})` : `${contact.channel} ${id}`;
}

interface Target {
  agentId: string;
  chatId: string;
}

/**
 * The staff side of a hand-off, channel-agnostic: posts the notification in
 * the branch's staff chat (first configured target whose agent is up; else the
 * branch managers' chats on a healthy bot; else the ops chat), forwards later
 * customer messages under it, and recognises staff replies to it.
 */
export class StaffHandoff {
  constructor(private readonly deps: { store: Store; hosts: AgentHost; config: () => CoordinatorConfig; logger: Logger; channels: ChannelRegistry }) {}

  /**
   * Opens threads for a new hand-off; returns them (empty when no staff chat
   * could be reached: the dashboard still shows it). `posted` is called with
   * the threads so far after each notification goes out.
   */
  async open(branch: BranchConfig, contact: ContactRecord, reason: string, recent: string[], posted?: (threads: StaffThread[]) => Promise<void>): Promise<StaffThread[]> {
    const quoted = recent.map((t) => `> ${clip(t, QUOTE_MAX).replace(/\n/g, '\n> ')}`).join('\n');
    const text = `🙋 ${contactLabel(contact)} at ${branch.name} needs a person (${REASONS[reason] ?? reason}).\n${quoted}\n\nReply to this message (in its thread on Slack) to answer them; reply "resolve" to give them back to the bot.`;
    const threads: StaffThread[] = [];
    // Groups in order: the staff chat (the first that takes it), else every manager's chat, else the ops chat.
    for (const group of await this.targets(branch)) {
      for (const target of group.targets) {
        let ref: MessageRef;
        // In a write unit (an inbound message), what led to the hand-off is on disk before anyone is
        // told (outside the send's try: a unit that failed is not a failed notification).
        await unitDurable(this.deps.store);
        try {
          ref = await outsideWriteUnits(() => this.deps.hosts.send(target.agentId, target.chatId, text));
        } catch (error) {
          this.deps.logger.warn(`hand-off notification through ${target.agentId} failed; trying the next staff chat`, { module: 'conversations', error });
          continue;
        }
        threads.push({ agentId: target.agentId, chatId: ref.chatId, rootId: ref.messageId, messageIds: [ref.messageId] });
        await posted?.([...threads]);
        if (!group.all) break;
      }
      if (threads.length > 0) break;
    }
    if (threads.length === 0) this.deps.logger.warn(`no staff chat reachable for the hand-off of contact ${contact.id}: only the dashboard shows it`, { module: 'conversations', branchId: branch.id });
    return threads;
  }

  /** Forwards what the customer wrote (cut if long) under every thread of the hand-off. */
  forward(threads: StaffThread[], contact: ContactRecord, text: string): Promise<StaffThread[]> {
    return this.post(threads, `${contactLabel(contact)}: ${clip(text, FORWARD_MAX)}`);
  }

  /** Posts `text` under every thread of the hand-off; returns the threads with the new message ids. */
  async post(threads: StaffThread[], text: string): Promise<StaffThread[]> {
    const postAll = () =>
      Promise.all(
        threads.map(async (thread) => {
          try {
            const ref = await this.deps.hosts.send(thread.agentId, thread.chatId, text, { replyTo: thread.rootId });
            return { ...thread, messageIds: [...thread.messageIds, ref.messageId].slice(-KEEP_IDS) };
          } catch (error) {
            this.deps.logger.warn(`could not post to the hand-off thread in ${thread.chatId} via ${thread.agentId}`, { module: 'conversations', error });
            return thread;
          }
        }),
      );
    // In a write unit (an inbound message), what is posted is on disk first.
    return afterUnitDurable(this.deps.store, postAll);
  }

  /**
   * Is `message` a staff reply in one of these conversations' threads? (The root always counts: only the latest ids are kept.)
   * It must come through the thread's bot, in the thread's chat, and that bot must serve the conversation's branch.
   */
  match(message: InboundMessage, pending: ConversationRecord[]): ConversationRecord | undefined {
    const refs = [message.thread, message.replyToMessageId].filter((r): r is string => Boolean(r));
    if (refs.length === 0) return undefined;
    const config = this.deps.config();
    return pending.find((c) => {
      const branch = config.branches.find((b) => b.id === c.branchId);
      if (!branch || !relaysFor(config, branch, message.agentId)) return false;
      return (c.staffThreads ?? []).some((t) => t.agentId === message.agentId && sameChat(t.chatId, message, branch, this.deps.channels) && refs.some((r) => r === t.rootId || t.messageIds.includes(r)));
    });
  }

  private async targets(branch: BranchConfig): Promise<Array<{ all: boolean; targets: Target[] }>> {
    const config = this.deps.config();
    const agents = config.branches.flatMap((b) => b.agents);
    const up = async (id: string) => this.deps.hosts.hosts(id) && (await this.deps.store.agents.get(id))?.status === 'up';
    const staff: Target[] = [];
    for (const target of branch.responder.staff) {
      const agent = agents.find((a) => a.id === target.agent);
      const chat = target.chat ?? (agent ? this.deps.channels.find(agent.channel)?.staffChat?.(agent) : undefined);
      if (agent && chat && (await up(agent.id))) staff.push({ agentId: agent.id, chatId: chat });
    }
    // Each manager once, on the first healthy bot of the branch they can be reached on.
    const healthy: BranchConfig['agents'] = [];
    for (const agent of branch.agents) if (await up(agent.id)) healthy.push(agent);
    const managers = branch.managers.flatMap((manager) => {
      const agent = healthy.find((a) => identityOn(manager, a.channel, this.deps.channels));
      return agent ? [{ agentId: agent.id, chatId: identityOn(manager, agent.channel, this.deps.channels)! }] : [];
    });
    const ops = config.business.opsAlerts;
    const opsTarget = ops && (await up(ops.agent)) ? [{ agentId: ops.agent, chatId: ops.chat }] : [];
    return [
      { all: false, targets: staff },
      { all: true, targets: managers },
      { all: false, targets: opsTarget },
    ];
  }
}
