import type { InboundMessage } from '../bots/bot-agent.js';
import type { ChannelRegistry } from '../bots/channel-registry.js';
import type { BranchConfig, CoordinatorConfig, ManagerConfig } from '../config/config-schema.js';
import type { Logger } from '../config/logger.js';
import type { AgentHost } from '../branches/agent-host.js';
import { managerByIdentity } from '../branches/manager-identity.js';
import { isoNow, type Clock } from '../core/clock.js';
import { CodedError, ErrorCode } from '../core/errors.js';
import { KeyedQueue } from '../core/keyed-queue.js';
import type { EventBus } from '../coordination/event-bus.js';
import type { AuditLog } from '../coordination/audit-log.js';
import type { ContactRecord, ConversationRecord, MessageRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import { inWriteUnit, outsideWriteUnits, unitDurable } from '../storage/write-unit.js';
import { branchFields } from './answer-template.js';
import { ContactBook } from './contact-book.js';
import { InboundLimiter } from './inbound-limiter.js';
import { Responder } from './responder.js';
import { contactLabel, RESOLVE_COMMAND, StaffHandoff } from './staff-handoff.js';

export interface ConversationDeps {
  store: Store;
  hosts: AgentHost;
  bus: EventBus;
  audit: AuditLog;
  clock: Clock;
  logger: Logger;
  config: () => CoordinatorConfig;
  /** The channels: which carry customers, how managers and chat ids are matched. */
  channels: ChannelRegistry;
}

/** Who sends an outbound message, as stored in `handledBy`. */
export type Sender = { kind: 'bot' } | { kind: 'staff'; name: string } | { kind: 'agent'; agentId: string; approvalId: string };

/** The manager of one of `branches` who sent `message` (by their id on the channel, or their phone when WhatsApp gives a LID). */
function managerOf(branches: readonly BranchConfig[], message: InboundMessage, channels: ChannelRegistry): ManagerConfig | undefined {
  const ids = [message.senderId, ...(message.senderPhone ? [message.senderPhone] : [])];
  for (const branch of branches) {
    for (const id of ids) {
      const manager = managerByIdentity(branch, message.channel, id, channels);
      if (manager) return manager;
    }
  }
  return undefined;
}

const handledBy = (s: Sender) => (s.kind === 'bot' ? 'bot' : s.kind === 'staff' ? `staff:${s.name}` : `agent:${s.agentId} via approval ${s.approvalId}`);

/**
 * Customer conversations: every inbound message is rate-limited, stored with
 * its contact, run through the branch's responder (opt-out, hours, FAQ,
 * hand-off) and answered on the channel it came from; hand-offs go to staff,
 * whose replies come back to the customer. Talks to bots only through the
 * AgentHost and to the rest through the store and the event bus.
 */
export class ConversationService {
  readonly book: ContactBook;
  private readonly staff: StaffHandoff;
  private readonly limiter = new InboundLimiter();
  private readonly queue = new KeyedQueue();
  /** Inbound messages being handled (before and in the queue): shutdown waits for them. */
  private readonly inflight = new Set<Promise<void>>();
  private stopped = false;
  private responders = new WeakMap<BranchConfig, Responder>();
  private readonly log: Logger;

  constructor(private readonly deps: ConversationDeps) {
    this.book = new ContactBook(deps);
    this.staff = new StaffHandoff(deps);
    this.log = deps.logger.child({ module: 'conversations' });
  }

  /** Messages dropped by the flood limit since start. */
  get droppedInbound(): number {
    return this.limiter.droppedTotal;
  }

  /** Handles one inbound chat message (the bots' `message` event). Never throws: failures are logged. */
  handleInbound(message: InboundMessage): Promise<void> {
    if (this.stopped) {
      // The bots are stopped before this: a message now is a host's bug, and the store may be closing.
      this.log.warn(`message from ${message.channel} via ${message.agentId} after shutdown was not handled`);
      return Promise.resolve();
    }
    const handling = this.handle(message);
    this.inflight.add(handling);
    void handling.finally(() => this.inflight.delete(handling));
    return handling;
  }

  private async handle(message: InboundMessage): Promise<void> {
    try {
      const config = this.deps.config();
      const branch = config.branches.find((b) => b.agents.some((a) => a.id === message.agentId));
      if (!branch) {
        this.log.warn(`message from unknown agent ${message.agentId} ignored`);
        return;
      }
      const manager = managerOf(config.branches, message, this.deps.channels);
      const key = `${branch.id}:${message.channel}:${message.senderId}`;
      // The flood limit comes before anything that reads the store (the staff-reply lookup too);
      // configured managers are not limited, so their replies in a hand-off always get through.
      if (!manager) {
        const limit = this.limiter.take(key, branch.responder.limits.inboundPerMinute, this.deps.clock.now());
        if (!limit.ok) {
          if (limit.firstDrop) this.log.warn(`flood from ${message.channel} ${message.senderId} at ${branch.id}: over ${branch.responder.limits.inboundPerMinute} messages a minute, dropping the rest of this minute`, { branchId: branch.id });
          return;
        }
      }
      if (await this.relayFromStaff(message, manager)) return;
      // A staff-only channel (Slack): a workspace member's DM to the app is not a customer writing.
      if (!this.deps.channels.find(message.channel)?.carries.customers) return;
      if (message.group && !this.groupsAllowed(branch, message.agentId)) return;
      // Managers writing to their own bot are not customers.
      if (manager) {
        this.log.debug('message from a manager is not a customer message', { agentId: message.agentId });
        return;
      }
      // One write unit: the contact, the message, the conversation and the reply are made durable
      // together (and before anything is sent: see deliver), not one wait for the disk each.
      await this.queue.run(key, () => inWriteUnit(this.deps.store, () => this.inbound(branch, config, message)));
    } catch (error) {
      this.log.error('inbound message failed', { agentId: message.agentId, error });
    }
  }

  private groupsAllowed(branch: BranchConfig, agentId: string): boolean {
    const agent = branch.agents.find((a) => a.id === agentId);
    return agent !== undefined && this.deps.channels.find(agent.channel)?.acceptsGroups?.(agent) === true;
  }

  private async inbound(branch: BranchConfig, config: CoordinatorConfig, message: InboundMessage): Promise<void> {
    let contact = await this.book.touchContact(branch.id, message);
    // A message the channel delivers twice (a redelivered webhook, a reconnect replay) is handled once.
    // Message ids are unique per bot (Telegram's count per chat), so the bot is part of the key.
    if (message.messageId && (await this.deps.store.messages.findOne({ contactId: contact.id, externalId: message.messageId, agentId: message.agentId, direction: 'in' }))) {
      this.log.debug('duplicate inbound message ignored', { agentId: message.agentId, contactId: contact.id });
      return;
    }
    let conversation = await this.book.conversationOf(contact, message);
    const max = branch.responder.limits.maxTextLength;
    const text = message.text.length > max ? message.text.slice(0, max) : message.text;
    const stored = await this.book.record({
      contactId: contact.id,
      branchId: branch.id,
      channel: message.channel,
      direction: 'in',
      text,
      conversationId: conversation.id,
      handledBy: 'customer',
      agentId: message.agentId,
      ...(message.messageId ? { externalId: message.messageId } : {}),
      ...(text.length < message.text.length ? { truncated: true } : {}),
    });
    this.deps.bus.emit('message.recorded', stored);
    conversation = await this.book.updateConversation(conversation, { lastMessageAt: stored.at, lastText: text.slice(0, 200) });

    const windowMs = branch.responder.limits.windowMinutes * 60_000;
    const now = this.deps.clock.now();
    const afterHoursSent = Boolean(conversation.afterHoursReplyAt && now - Date.parse(conversation.afterHoursReplyAt) < windowMs);
    const outcome = this.responder(branch, config).decide({ text, optedOut: contact.optedOut, state: conversation.state, afterHoursSent, now: new Date(now) });
    this.log.debug(`responder: ${outcome.kind}`, { branchId: branch.id, contactId: contact.id });

    switch (outcome.kind) {
      case 'opt_out':
        // Confirmed once, whatever the auto-reply cap; a STOP from someone already out (another bot?) gets nothing.
        if (contact.optedOut) {
          if (conversation.state === 'pending_human') conversation = await this.toStaff(conversation, contact, text);
          break;
        }
        contact = await this.book.setOptOut(contact, true);
        await this.audit('contact.opted_out', contact);
        ({ conversation } = await this.autoReply(branch, contact, conversation, outcome.reply, { confirmation: true }));
        // Staff answering this customer must know the bot (and agents) went quiet; they may still reply.
        if (conversation.state === 'pending_human') conversation = await this.toStaff(conversation, contact, `${text}\n(opted out of automatic messages; staff replies still reach them)`);
        break;
      case 'opt_in':
        contact = await this.book.setOptOut(contact, false);
        await this.audit('contact.opted_in', contact);
        ({ conversation } = await this.autoReply(branch, contact, conversation, outcome.reply));
        if (conversation.state === 'pending_human') conversation = await this.toStaff(conversation, contact, `${text}\n(subscribed to automatic messages again)`);
        break;
      case 'with_staff':
        conversation = await this.toStaff(conversation, contact, text);
        break;
      case 'after_hours':
        if (outcome.reply) {
          const replied = await this.autoReply(branch, contact, conversation, outcome.reply);
          conversation = replied.sent ? await this.book.updateConversation(replied.conversation, { afterHoursReplyAt: isoNow(this.deps.clock) }) : replied.conversation;
        }
        break;
      case 'faq':
      case 'welcome':
        ({ conversation } = await this.autoReply(branch, contact, conversation, outcome.reply));
        break;
      case 'handoff':
        // Stored as pending first: the customer is never promised a person the conversation does not wait for,
        // and a staff reply that comes while the other notifications go out is matched, not lost.
        conversation = await this.book.updateConversation(conversation, { state: 'pending_human', reason: outcome.reason, staffThreads: [] });
        this.deps.bus.emit('conversation.handoff', { branchId: branch.id, channel: contact.channel });
        if (outcome.reply) ({ conversation } = await this.autoReply(branch, contact, conversation, outcome.reply));
        conversation = await this.notifyStaff(branch, contact, conversation, outcome.reason, 'bot');
        break;
      case 'silent_opted_out':
        break;
    }
    this.published(conversation, contact);
  }

  /** Hands the contact to staff (from the responder, or an operator through the API). */
  async handOff(contactId: string, by: string): Promise<ConversationRecord> {
    return this.forContact(contactId, async (contact) => {
      let conversation = await this.needConversation(contact);
      if (conversation.state === 'pending_human') return conversation;
      const branch = this.branchOf(contact);
      conversation = await this.book.updateConversation(conversation, { state: 'pending_human', reason: 'api', staffThreads: [] });
      const updated = await this.notifyStaff(branch, contact, conversation, 'api', by);
      this.published(updated, contact);
      return updated;
    });
  }

  /** Gives the contact back to the bot and tells the staff thread who resolved it. */
  async resolve(contactId: string, by: string): Promise<ConversationRecord> {
    return this.forContact(contactId, async (contact) => {
      const conversation = await this.needConversation(contact);
      if (conversation.state !== 'pending_human') return conversation;
      await this.staff.post(conversation.staffThreads ?? [], `✅ Resolved by ${by}: the bot answers ${contactLabel(contact)} again.`);
      const updated = await this.book.updateConversation(conversation, { state: 'bot', reason: undefined, staffThreads: undefined, autoReplies: { count: 0, windowStart: isoNow(this.deps.clock) } });
      await this.audit('conversation.resolved', contact, by);
      this.published(updated, contact);
      return updated;
    });
  }

  /**
   * Sends `text` to the contact on the chat they write from, and records it.
   * Refused (409) for a contact who opted out, unless staff are answering them.
   */
  async sendToContact(contactId: string, text: string, sender: Sender): Promise<MessageRecord> {
    return this.forContact(contactId, async (contact) => {
      const conversation = await this.needConversation(contact);
      // Staff may answer an opted-out customer only within a hand-off (the customer asked for a person).
      if (contact.optedOut && !(sender.kind === 'staff' && conversation.state === 'pending_human')) {
        throw new CodedError(ErrorCode.Conflict, `contact ${contactId} opted out of automatic messages${sender.kind === 'staff' ? '; hand the conversation to staff first to answer them' : ''}`);
      }
      const { record, conversation: updated } = await this.deliver(contact, conversation, text, sender);
      this.published(updated, contact);
      if (record.status === 'failed') throw new CodedError(ErrorCode.DeliveryFailed, `could not deliver to ${contactLabel(contact)}: ${record.error ?? 'send failed'}`);
      return record;
    });
  }

  /**
   * Runs `task` in the contact's queue (after the messages being handled for
   * them) with the contact as it is then: a STOP handled just before is seen.
   */
  private async forContact<T>(contactId: string, task: (contact: ContactRecord) => Promise<T>): Promise<T> {
    const { branchId, channel, externalId } = await this.book.contact(contactId);
    return this.queue.run(`${branchId}:${channel}:${externalId}`, async () => task(await this.book.contact(contactId)));
  }

  /** The contact a chat id on an agent belongs to (for actions addressed by chat id, so opt-outs hold). */
  async contactByChat(agentId: string, chatId: string): Promise<ContactRecord | null> {
    const { store } = this.deps;
    const conversation = await store.conversations.findOne({ agentId, chatId });
    if (conversation) return store.contacts.get(conversation.contactId);
    // A customer's chat is their id on the channel (their old chat too, or on another of the branch's bots);
    // on WhatsApp a phone number or phone JID is them as well, whichever id they write from now.
    const branch = this.deps.config().branches.find((b) => b.agents.some((a) => a.id === agentId));
    const channel = branch?.agents.find((a) => a.id === agentId)?.channel;
    if (!branch || !channel) return null;
    const byId = await store.contacts.findOne({ branchId: branch.id, channel, externalId: chatId });
    const lookup = this.deps.channels.find(channel)?.chatLookup;
    if (byId || !lookup) return byId;
    // The channel's other ways of writing the same person (WhatsApp: +351 912 345 678, …@c.us, a device, a LID).
    const found = lookup(chatId);
    if (!found) return null;
    const byExternal = await store.contacts.findOne({ branchId: branch.id, channel, externalId: found.externalId });
    return byExternal ?? (found.phone ? store.contacts.findOne({ branchId: branch.id, channel, phone: found.phone }) : null);
  }

  /** Resolves when every message being handled and all queued work are done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight);
    await this.queue.idle();
  }

  /**
   * Shutdown, once the bots have stopped: finishes every message they delivered (its writes are
   * made durable before the store closes) and refuses any that comes after.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async relayFromStaff(message: InboundMessage, manager: ManagerConfig | undefined): Promise<boolean> {
    if (!message.thread && !message.replyToMessageId) return false;
    const conversation = this.staff.match(message, await this.book.pendingHuman());
    if (!conversation) return false;
    // Named as a manager of the conversation's branch (or the relaying bot's), never of some other branch:
    // an identity configured elsewhere does not sign a message to this branch's customer.
    const ownBranches = this.deps.config().branches.filter((b) => b.id === conversation.branchId || b.agents.some((a) => a.id === message.agentId));
    const staffName = (manager ? managerOf(ownBranches, message, this.deps.channels)?.name : undefined) ?? message.senderName ?? message.senderId;
    if (RESOLVE_COMMAND.test(message.text.trim())) {
      await this.resolve(conversation.contactId, staffName);
      return true;
    }
    try {
      await this.sendToContact(conversation.contactId, `${staffName}: ${message.text}`, { kind: 'staff', name: staffName });
    } catch (error) {
      const thread = (conversation.staffThreads ?? []).filter((t) => t.agentId === message.agentId && t.chatId === message.chatId);
      await this.staff.post(thread, `⚠️ Not delivered to the customer: ${error instanceof Error ? error.message : String(error)}`);
    }
    return true;
  }

  /**
   * Tells staff about a conversation already stored as `pending_human`. Each
   * notification is saved as soon as it is posted, so a reply to the first
   * one is recognised while the others (every manager's chat) still go out.
   */
  private async notifyStaff(branch: BranchConfig, contact: ContactRecord, conversation: ConversationRecord, reason: string, by: string): Promise<ConversationRecord> {
    const recent = await this.deps.store.messages.find({ where: { contactId: contact.id, direction: 'in' }, orderBy: { field: 'at', direction: 'desc' }, limit: 5 });
    let current = conversation;
    const threads = await this.staff.open(branch, contact, reason, recent.reverse().map((m) => m.text), async (posted) => {
      current = await this.book.updateConversation(current, { staffThreads: posted });
    });
    await this.audit('conversation.handed_off', contact, by, { reason, notified: threads.map((t) => `${t.agentId}:${t.chatId}`) });
    return current;
  }

  /** Forwards a customer's message under the hand-off's staff notifications. */
  private async toStaff(conversation: ConversationRecord, contact: ContactRecord, text: string): Promise<ConversationRecord> {
    return this.book.updateConversation(conversation, { staffThreads: await this.staff.forward(conversation.staffThreads ?? [], contact, text) });
  }

  /**
   * A bot reply, within the per-window cap (a loop with another bot stops
   * here). A `confirmation` (of an opt-out) goes even to an opted-out contact
   * and past the cap, and still counts in it. `sent` is false when held back.
   */
  private async autoReply(branch: BranchConfig, contact: ContactRecord, conversation: ConversationRecord, text: string, options: { confirmation?: boolean } = {}): Promise<{ conversation: ConversationRecord; sent: boolean }> {
    if (contact.optedOut && !options.confirmation) return { conversation, sent: false };
    const limits = branch.responder.limits;
    const now = this.deps.clock.now();
    const fresh = now - Date.parse(conversation.autoReplies.windowStart) >= limits.windowMinutes * 60_000;
    const count = fresh ? 0 : conversation.autoReplies.count;
    if (count >= limits.autoRepliesPerWindow && !options.confirmation) {
      this.log.warn(`auto-reply cap reached for contact ${contact.id} (${limits.autoRepliesPerWindow} per ${limits.windowMinutes} min): not answering`, { branchId: branch.id });
      return { conversation, sent: false };
    }
    const autoReplies = { count: count + 1, windowStart: fresh ? new Date(now).toISOString() : conversation.autoReplies.windowStart };
    const { conversation: updated } = await this.deliver(contact, await this.book.updateConversation(conversation, { autoReplies }), text, { kind: 'bot' });
    return { conversation: updated, sent: true };
  }

  private async deliver(contact: ContactRecord, conversation: ConversationRecord, text: string, sender: Sender): Promise<{ record: MessageRecord; conversation: ConversationRecord }> {
    let status: MessageRecord['status'] = 'sent';
    let error: string | undefined;
    let externalId: string | undefined;
    // Nothing leaves before what led to it is on disk: a crash cannot have answered a message it lost.
    // (Outside the send's try: a unit that failed is the inbound message's failure, not the send's.)
    await unitDurable(this.deps.store);
    try {
      externalId = (await outsideWriteUnits(() => this.deps.hosts.send(conversation.agentId, conversation.chatId, text))).messageId;
    } catch (e) {
      status = 'failed';
      error = e instanceof Error ? e.message : String(e);
      this.log.warn(`reply to contact ${contact.id} via ${conversation.agentId} failed: ${error}`, { branchId: contact.branchId });
    }
    const record = await this.book.record({
      contactId: contact.id,
      branchId: contact.branchId,
      channel: contact.channel,
      direction: 'out',
      text,
      conversationId: conversation.id,
      handledBy: handledBy(sender),
      agentId: conversation.agentId,
      status,
      ...(error ? { error } : {}),
      ...(externalId ? { externalId } : {}),
    });
    this.deps.bus.emit('message.recorded', record);
    const updated = await this.book.updateConversation(conversation, { lastMessageAt: record.at, lastText: text.slice(0, 200) });
    return { record, conversation: updated };
  }

  private responder(branch: BranchConfig, config: CoordinatorConfig): Responder {
    let responder = this.responders.get(branch);
    if (!responder) {
      responder = new Responder(branch, branchFields(branch, config.business.name));
      this.responders.set(branch, responder);
    }
    return responder;
  }

  private branchOf(contact: ContactRecord): BranchConfig {
    const branch = this.deps.config().branches.find((b) => b.id === contact.branchId);
    if (!branch) throw new CodedError(ErrorCode.Conflict, `branch '${contact.branchId}' of contact ${contact.id} is no longer configured`);
    return branch;
  }

  private async needConversation(contact: ContactRecord): Promise<ConversationRecord> {
    const conversation = await this.book.conversation(contact.id);
    if (!conversation) throw new CodedError(ErrorCode.Conflict, `contact ${contact.id} has no conversation to answer in yet`);
    return conversation;
  }

  private published(conversation: ConversationRecord, contact: ContactRecord): void {
    this.deps.bus.emit('conversation.updated', { ...conversation, ...(contact.name ? { contactName: contact.name } : {}) });
  }

  private async audit(type: string, contact: ContactRecord, actor = 'bot', data?: Record<string, unknown>): Promise<void> {
    await this.deps.audit.append({ type, actor, branchId: contact.branchId, data: { contactId: contact.id, ...data } });
  }
}
