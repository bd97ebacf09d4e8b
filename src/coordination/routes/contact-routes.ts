import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import type { ConversationService } from '../../conversations/conversation-service.js';
import { CodedError, ErrorCode, NotFoundError } from '../../core/errors.js';
import type { ContactRecord, ConversationState } from '../../storage/records.js';
import type { Store } from '../../storage/store.js';
import { parseBody, parseQuery, textParam, wholeNumberParam } from '../http/middleware.js';
import type { AuditLog } from '../audit-log.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import { readScopeOf } from '../read-scope.js';

const STATES = ['bot', 'pending_human'] as const satisfies readonly ConversationState[];
export const replySchema = z.strictObject({ text: z.string({ message: 'expected the text to send' }).trim().min(1, 'expected some text').max(4000, 'expected at most 4000 characters') });
export const patchContactSchema = z
  .strictObject({
    optedOut: z.boolean({ message: 'expected true or false' }).optional(),
    tags: z.array(z.string().trim().min(1).max(40)).max(20, 'expected at most 20 tags').optional(),
    name: z.string().trim().min(1).max(200).optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'expected at least one of optedOut, tags, name' });

const paging = (max: number) => ({
  limit: wholeNumberParam(1, max, 50).describe('At most this many.'),
  offset: wholeNumberParam(0, Number.MAX_SAFE_INTEGER, 0, `expected a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`),
});
/** `GET /api/contacts` */
export const listContactsQuery = z.object({
  branchId: textParam('expected one branch id').optional(),
  channel: textParam('expected one channel').optional(),
  state: z.enum(STATES, { message: `expected one of ${STATES.join(', ')}` }).optional().describe('Only conversations in this state (pending_human: the hand-off queue), newest activity first.'),
  ...paging(500),
});
/** `GET /api/contacts/:id/messages` */
export const listMessagesQuery = z.object({
  before: textParam(`expected the id of one of the contact's messages`).optional().describe('Cursor: only messages older than this message id (`nextBefore` of the previous page).'),
  ...paging(200),
});

/**
 * `/api/contacts`: customers, their conversation state and message history;
 * staff reply, hand over and resolve. Managers see the contacts of their own
 * branches; operators and the admin see all.
 */
export function contactRoutes(deps: { store: Store; conversations: ConversationService; settings: RuntimeSettings; audit: AuditLog; auth: RequestHandler }): Router {
  const router = Router();
  const { store, conversations } = deps;

  /** Branch ids this caller may see (undefined: all), by the same read scope as every other route. */
  const visibleBranches = async (req: Request): Promise<string[] | undefined> => {
    const scope = await readScopeOf(req.principal!, deps.settings.config, store);
    return scope.kind === 'all' ? undefined : scope.branches;
  };
  const staffName = (req: Request): string => {
    const p = req.principal!;
    const manager = deps.settings.config.branches.flatMap((b) => b.managers).find((m) => m.id === p.subject);
    return manager?.name ?? (p.role === 'admin' ? 'admin' : p.subject);
  };
  const visibleContact = async (req: Request): Promise<ContactRecord> => {
    const id = String(req.params.id);
    const contact = await store.contacts.get(id);
    const branches = await visibleBranches(req);
    if (!contact || (branches && !branches.includes(contact.branchId))) throw new NotFoundError('contact', id);
    return contact;
  };
  const withConversation = async (contact: ContactRecord) => {
    const { version: _v, ...rest } = contact;
    const conversation = await store.conversations.get(contact.id);
    return { ...rest, conversation: conversation ? { state: conversation.state, reason: conversation.reason, lastMessageAt: conversation.lastMessageAt, lastText: conversation.lastText, agentId: conversation.agentId } : null };
  };

  router.get('/api/contacts', deps.auth, async (req, res) => {
    const q = parseQuery(listContactsQuery, req.query);
    const { limit, offset } = q;
    const branches = await visibleBranches(req);
    const branchId = q.branchId;
    if (branchId && branches && !branches.includes(branchId)) throw new NotFoundError('branch', branchId);
    const branchFilter = branchId ? { branchId } : branches ? { branchId: { in: branches } } : {};
    if (q.state !== undefined) {
      // By conversation state (e.g. the hand-off queue), newest activity first.
      const where = { ...branchFilter, state: q.state };
      const [list, total] = await Promise.all([store.conversations.find({ where, orderBy: { field: 'lastMessageAt', direction: 'desc' }, limit, offset }), store.conversations.count(where)]);
      const contacts = await Promise.all(list.map(async (c) => store.contacts.get(c.contactId)));
      res.json({ contacts: await Promise.all(contacts.filter((c): c is ContactRecord => Boolean(c)).map(withConversation)), total, limit, offset });
      return;
    }
    const where = { ...branchFilter, ...(q.channel ? { channel: q.channel } : {}) };
    const [list, total] = await Promise.all([store.contacts.find({ where, orderBy: { field: 'lastSeenAt', direction: 'desc' }, limit, offset }), store.contacts.count(where)]);
    res.json({ contacts: await Promise.all(list.map(withConversation)), total, limit, offset });
  });

  router.get('/api/contacts/:id', deps.auth, async (req, res) => {
    res.json({ contact: await withConversation(await visibleContact(req)) });
  });

  // Newest first. Ids sort by time, so `before=<message id>` pages stably while new messages arrive
  // (`nextBefore` is the cursor for the next page); `offset` works too for jumping.
  router.get('/api/contacts/:id/messages', deps.auth, async (req, res) => {
    const contact = await visibleContact(req);
    const { limit, offset, before } = parseQuery(listMessagesQuery, req.query, 'Invalid paging');
    if (before !== undefined) {
      const anchor = await store.messages.get(before);
      if (!anchor || anchor.contactId !== contact.id) {
        throw new CodedError(ErrorCode.Validation, 'Invalid paging', { issues: [{ path: 'before', message: `expected the id of one of contact ${contact.id}'s messages` }] });
      }
    }
    const all = { contactId: contact.id };
    const where = before === undefined ? all : { ...all, id: { lt: before } };
    const [messages, remaining, total] = await Promise.all([
      store.messages.find({ where, orderBy: { field: 'id', direction: 'desc' }, limit, offset }),
      store.messages.count(where),
      store.messages.count(all),
    ]);
    const more = offset + messages.length < remaining;
    res.json({
      messages: messages.map(({ version: _v, ...m }) => m),
      total,
      limit,
      offset,
      nextOffset: before === undefined && more ? offset + messages.length : null,
      nextBefore: more ? messages.at(-1)!.id : null,
    });
  });

  router.post('/api/contacts/:id/reply', deps.auth, async (req, res) => {
    const contact = await visibleContact(req);
    const { text } = parseBody(replySchema, req.body);
    const name = staffName(req);
    const message = await conversations.sendToContact(contact.id, `${name}: ${text}`, { kind: 'staff', name });
    const { version: _v, ...view } = message;
    res.status(201).json({ message: view });
  });

  router.post('/api/contacts/:id/handoff', deps.auth, async (req, res) => {
    const contact = await visibleContact(req);
    const conversation = await conversations.handOff(contact.id, staffName(req));
    res.json({ contact: await withConversation(contact), state: conversation.state });
  });

  router.post('/api/contacts/:id/resolve', deps.auth, async (req, res) => {
    const contact = await visibleContact(req);
    const conversation = await conversations.resolve(contact.id, staffName(req));
    res.json({ contact: await withConversation(contact), state: conversation.state });
  });

  router.patch('/api/contacts/:id', deps.auth, async (req, res) => {
    const contact = await visibleContact(req);
    const patch = parseBody(patchContactSchema, req.body);
    const updated = (await store.contacts.update(contact.id, { ...patch, ...(patch.name ? { nameByStaff: true } : {}) })) ?? contact;
    await deps.audit.append({ type: 'contact.updated', actor: staffName(req), branchId: contact.branchId, data: { contactId: contact.id, ...patch } });
    res.json({ contact: await withConversation(updated) });
  });

  return router;
}
