import type { AgentHost } from '../../branches/agent-host.js';
import type { ConversationService } from '../../conversations/conversation-service.js';
import type { Store } from '../../storage/store.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';
import { zodIssues } from '../../config/zod-issues.js';
import type { ApprovalEngine } from './approval-engine.js';

/**
 * Characters that would make the prompt show the manager something other than
 * what the customer gets: control characters (each one grows to `\u000b` in
 * the prompt's details, pushing the end of the text out of view) and
 * bidirectional overrides (which reorder what is displayed).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const HIDING = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const text = z
  .string({ message: 'expected the text to send' })
  .trim()
  .min(1, 'expected some text')
  .max(1000, 'expected at most 1000 characters (the manager sees the whole text before approving)')
  .refine((t) => !HIDING.test(t), { message: 'expected plain text: control characters and bidirectional overrides are refused (they could hide part of the text from the manager who approves it)' });
/** `details` of a message.send request: to a known customer, or to any chat through a channel or agent. */
export const messageSendDetails = z.union(
  [
    z.strictObject({ contactId: z.string().min(1), text }),
    z.strictObject({ chatId: z.string().min(1), text, channel: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected a channel name').optional(), agentId: z.string().optional() }),
  ],
  { message: 'expected details {contactId, text} or {chatId, text, channel?, agentId?}' },
);

/**
 * Built-in action `message.send` (critical by default): an agent proposes a
 * message; once approved the coordinator sends it itself and reports
 * executed/failed.
 *
 * - `details: {contactId, text}` — a reply to a customer: sent on the chat they
 *   write from and recorded in their history as the agent's, via this approval.
 * - `details: {chatId, text, channel?|agentId?}` — any chat, through the
 *   branch's agent on that channel (or the first healthy one); recorded too
 *   when that chat is a known customer's.
 */
export function registerMessageSend(engine: ApprovalEngine, deps: { settings: RuntimeSettings; store: Store; hosts: AgentHost; conversations: ConversationService }): void {
  engine.registerValidator('message.send', async (details, branchId) => {
    const parsed = messageSendDetails.safeParse(details);
    if (!parsed.success) throw new ValidationError('Invalid message.send details', zodIssues(parsed.error, 'details'));
    if ('contactId' in parsed.data) {
      const contact = await deps.store.contacts.get(parsed.data.contactId);
      if (!contact || contact.branchId !== branchId) throw new ValidationError('Unknown contact', [{ path: 'details.contactId', message: `no contact '${parsed.data.contactId}' at branch ${branchId}` }]);
      if (contact.optedOut) throw new ValidationError('Contact opted out', [{ path: 'details.contactId', message: `contact '${contact.id}' opted out of automatic messages` }]);
    } else if (parsed.data.channel) {
      const channel = parsed.data.channel;
      const agents = deps.settings.config.branches.find((b) => b.id === branchId)?.agents ?? [];
      if (!agents.some((a) => a.channel === channel)) {
        const known = [...new Set(agents.map((a) => a.channel))];
        throw new ValidationError('No agent on that channel', [{ path: 'details.channel', message: `branch ${branchId} has no ${channel} agent (its channels: ${known.join(', ') || 'none'})` }]);
      }
    }
  });
  engine.registerPreviewer('message.send', async (details) => {
    const d = messageSendDetails.parse(details);
    if ('contactId' in d) {
      const contact = await deps.store.contacts.get(d.contactId);
      const who = [contact?.phone ? `+${contact.phone.replace(/^\+/, '')}` : undefined, contact?.channel].filter(Boolean).join(' on ');
      return `Sends to ${contact?.name ?? 'the customer'}${who ? ` (${who})` : ''} exactly:\n${d.text}`;
    }
    return `Sends to chat ${d.chatId}${d.agentId ? ` through ${d.agentId}` : d.channel ? ` on ${d.channel}` : ''} exactly:\n${d.text}`;
  });
  engine.registerExecutor('message.send', async (approval) => {
    const details = (approval.details ?? {}) as { contactId?: unknown; chatId?: unknown; text?: unknown; channel?: unknown; agentId?: unknown };
    if (typeof details.text !== 'string' || details.text.trim() === '') return { success: false, error: 'message.send needs details.text (a non-empty string)' };
    const sender = { kind: 'agent' as const, agentId: approval.requesterId, approvalId: approval.id };
    if (typeof details.contactId === 'string') {
      const contact = await deps.store.contacts.get(details.contactId);
      if (!contact || contact.branchId !== approval.branchId) return { success: false, error: `no contact '${details.contactId}' at branch ${approval.branchId}` };
      const message = await deps.conversations.sendToContact(contact.id, details.text, sender);
      return { success: true, result: { contactId: contact.id, messageId: message.id } };
    }
    if (typeof details.chatId !== 'string') return { success: false, error: 'message.send needs details.contactId or details.chatId' };
    const branch = deps.settings.config.branches.find((b) => b.id === approval.branchId);
    const candidates = (branch?.agents ?? []).filter((a) => (details.agentId ? a.id === details.agentId : details.channel ? a.channel === details.channel : true));
    for (const agent of candidates) {
      const record = await deps.store.agents.get(agent.id);
      if (record?.status !== 'up' || !deps.hosts.hosts(agent.id)) continue;
      const contact = await deps.conversations.contactByChat(agent.id, details.chatId);
      if (contact) {
        const message = await deps.conversations.sendToContact(contact.id, details.text, sender);
        return { success: true, result: { agentId: agent.id, channel: agent.channel, contactId: contact.id, messageId: message.id } };
      }
      const ref = await deps.hosts.send(agent.id, details.chatId, details.text);
      return { success: true, result: { agentId: agent.id, channel: agent.channel, ...ref } };
    }
    return { success: false, error: `no healthy ${String(details.channel ?? details.agentId ?? '')} agent at branch ${approval.branchId} to send through`.replace('  ', ' ') };
  });
}
