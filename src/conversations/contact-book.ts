import type { InboundMessage } from '../bots/bot-agent.js';
import { isoNow, type Clock } from '../core/clock.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { ContactRecord, ConversationRecord, MessageRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';

/**
 * Contacts, their one current conversation, and the message log — the
 * conversation module's only way into the store. Text is stored as data and
 * never interpreted.
 */
export class ContactBook {
  constructor(private readonly deps: { store: Store; clock: Clock }) {}

  /**
   * Finds or creates the contact who sent `message` at `branchId`, refreshing
   * name, phone and last seen. A WhatsApp customer may write as their phone
   * JID one day and their LID the next: the same phone is the same contact,
   * keyed by the LID once it is known.
   */
  async touchContact(branchId: string, message: InboundMessage): Promise<ContactRecord> {
    const { store } = this.deps;
    const now = isoNow(this.deps.clock);
    const key = { branchId, channel: message.channel, externalId: message.senderId };
    for (let attempt = 0; ; attempt++) {
      const existing = (await store.contacts.findOne(key)) ?? (await this.samePhone(branchId, message));
      if (existing) {
        const patch = {
          lastSeenAt: now,
          ...(existing.externalId !== message.senderId && message.senderId.endsWith('@lid') ? { externalId: message.senderId } : {}),
          ...(message.senderName && message.senderName !== existing.name && !existing.nameByStaff ? { name: message.senderName } : {}),
          ...(message.senderPhone && message.senderPhone !== existing.phone ? { phone: message.senderPhone } : {}),
        };
        return (await store.contacts.update(existing.id, patch)) ?? existing;
      }
      try {
        return await store.contacts.insert({
          id: newId(this.deps.clock.now()),
          ...key,
          ...(message.senderName ? { name: message.senderName } : {}),
          ...(message.senderPhone ? { phone: message.senderPhone } : {}),
          firstSeenAt: now,
          lastSeenAt: now,
          optedOut: false,
          tags: [],
        });
      } catch (error) {
        // Another replica created it first: read theirs.
        if (!(error instanceof ConflictError) || attempt > 2) throw error;
      }
    }
  }

  private async samePhone(branchId: string, message: InboundMessage): Promise<ContactRecord | null> {
    // Only channels that know phones set senderPhone (WhatsApp's LIDs hide it in the id).
    if (!message.senderPhone) return null;
    return this.deps.store.contacts.findOne({ branchId, channel: message.channel, phone: message.senderPhone });
  }

  async contact(id: string): Promise<ContactRecord> {
    const contact = await this.deps.store.contacts.get(id);
    if (!contact) throw new NotFoundError('contact', id);
    return contact;
  }

  async setOptOut(contact: ContactRecord, optedOut: boolean): Promise<ContactRecord> {
    return (await this.deps.store.contacts.update(contact.id, { optedOut })) ?? contact;
  }

  /** The contact's conversation, created (with the bot answering) on first contact. */
  async conversationOf(contact: ContactRecord, message: Pick<InboundMessage, 'agentId' | 'chatId'>): Promise<ConversationRecord> {
    const existing = await this.deps.store.conversations.get(contact.id);
    if (existing) {
      // The customer may now write through another of the branch's bots: answer there.
      if (existing.agentId === message.agentId && existing.chatId === message.chatId) return existing;
      return (await this.deps.store.conversations.update(existing.id, { agentId: message.agentId, chatId: message.chatId })) ?? existing;
    }
    const now = isoNow(this.deps.clock);
    try {
      return await this.deps.store.conversations.insert({
        id: contact.id,
        contactId: contact.id,
        branchId: contact.branchId,
        channel: contact.channel,
        agentId: message.agentId,
        chatId: message.chatId,
        state: 'bot',
        openedAt: now,
        lastMessageAt: now,
        lastText: '',
        autoReplies: { count: 0, windowStart: now },
      });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return (await this.deps.store.conversations.get(contact.id))!;
    }
  }

  async conversation(contactId: string): Promise<ConversationRecord | null> {
    return this.deps.store.conversations.get(contactId);
  }

  async updateConversation(conversation: ConversationRecord, patch: Partial<Omit<ConversationRecord, 'id' | 'version'>>): Promise<ConversationRecord> {
    return (await this.deps.store.conversations.update(conversation.id, patch)) ?? { ...conversation, ...patch };
  }

  async record(message: Omit<MessageRecord, 'id' | 'version' | 'at'> & { at?: string }): Promise<MessageRecord> {
    const at = message.at ?? isoNow(this.deps.clock);
    return this.deps.store.messages.insert({ id: newId(this.deps.clock.now()), ...message, at });
  }

  /** Conversations handed to staff, newest first (a handful at any time). */
  async pendingHuman(): Promise<ConversationRecord[]> {
    return this.deps.store.conversations.find({ where: { state: 'pending_human' }, orderBy: { field: 'lastMessageAt', direction: 'desc' }, limit: 1000 });
  }
}
