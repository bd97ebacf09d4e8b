import { afterEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InboundMessage } from '../../src/bots/bot-agent.js';
import { loadConfigFile } from '../../src/config/config-file.js';
import { InboundLimiter } from '../../src/conversations/inbound-limiter.js';
import { Responder } from '../../src/conversations/responder.js';
import { StaffHandoff } from '../../src/conversations/staff-handoff.js';
import { builtinChannels } from '../../src/bots/channels.js';
import type { ConversationRecord } from '../../src/storage/records.js';
import { ConfigError } from '../../src/core/errors.js';
import { sha256 } from '../../src/core/ids.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { addRequester, startTestCoordinator } from '../helpers/test-coordinator.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

// 2026-03-02 is a Monday; 10:00 UTC is 10:00 in Lisbon (no DST yet) and 07:00 in Recife.
const YAML = `
business: { name: Câmbio Rápido }
branches:
  - id: lisboa
    name: Lisboa
    timezone: Europe/Lisbon
    address: Rua Augusta 100, Lisboa
    businessHours: { mon: "09:00-18:00", tue: "09:00-18:00", wed: "09:00-18:00", thu: "09:00-18:00", fri: "09:00-18:00", sat: "09:00-13:00" }
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001, slack: U0ANA0001 }
      - { id: bea, name: Bea, role: manager, whatsapp: "+351910000009" }
    agents:
      - { id: lis-wa, channel: whatsapp }
      - { id: lis-tg, channel: telegram, token: t }
      - { id: lis-slack, channel: slack, botToken: b, signingSecret: s, staffChannel: C0STAFF }
    responder:
      staff: [{ agent: lis-slack }]
      rates: { USD: { buy: 5.1, sell: 5.35 }, EUR: { buy: 5.9, sell: 6.2 } }
      limits: { inboundPerMinute: 5, autoRepliesPerWindow: 4, windowMinutes: 60 }
      faq:
        - id: usd
          keywords: [dólar, dollar, usd]
          answer: "Dólar hoje: compra {rates.USD.buy}, venda {rates.USD.sell}."
        - id: eur
          keywords: [euro]
          answer: "{rates.EUR}"
        - id: hours
          keywords: [horário, opening hours]
          patterns: ["que horas (abre|fecha)"]
          answer: "{branch}: {hours}"
        - id: address
          keywords: [endereço, address, onde fica]
          answer: "Estamos em {address}."
  - id: recife
    name: Recife
    timezone: America/Recife
    businessHours: { mon: "09:00-18:00" }
    agents:
      - { id: rec-wa, channel: whatsapp }
    responder:
      faq: [{ id: usd, keywords: [dolar], answer: "Compra {rates.USD.buy}" }]
      rates: { USD: { buy: 5.2, sell: 5.4 } }
`;

const AGENT = 'agent-token-replies-00001';
const ANA = 'manager-token-ana-conv-001';
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function setup() {
  const clock = new ManualClock();
  const { registry, bots } = fakeChannels();
  const t = await startTestCoordinator({ yaml: YAML, clock, channels: registry });
  open.push(t);
  await clock.advance(0);
  const store = t.running.store;
  await addRequester(t, 'replies', 'lisboa', AGENT);
  await store.apiTokens.insert({ id: sha256(ANA), role: 'manager', subject: 'ana', createdAt: new Date(clock.now()).toISOString() });
  await until('agents up', async () => (await store.agents.find({ where: { kind: 'bot' } })).every((a) => a.status === 'up'));
  const bot = (id: string) => bots.get(id) as FakeBot;
  /** A customer writes to a branch's WhatsApp number. */
  const say = (text: string, from = '351911111111', agentId = 'lis-wa', name = 'João') => {
    const message: InboundMessage = { agentId, channel: 'whatsapp', chatId: `${from}@s.whatsapp.net`, senderId: `${from}@s.whatsapp.net`, senderPhone: from, senderName: name, text, at: new Date(clock.now()).toISOString() };
    bot(agentId).emit({ type: 'message', message });
  };
  const sentTo = (agentId: string, chat: string) => bot(agentId).sent.filter((s) => s.chatId === chat);
  /** The next reply to `from` after `count` earlier ones. */
  const reply = (count: number, from = '351911111111', agentId = 'lis-wa') =>
    until(`reply #${count + 1} to ${from}`, () => sentTo(agentId, `${from}@s.whatsapp.net`)[count]?.text);
  const contactOf = async (phone: string) => until(`contact ${phone}`, () => store.contacts.findOne({ phone }));
  const messagesOf = async (phone: string) => store.messages.find({ where: { contactId: (await contactOf(phone)).id }, orderBy: { field: 'at', direction: 'asc' } });
  /** Every queued inbound message handled (before checking that something did not happen). */
  const settled = () => t.running.coordinator.conversations.idle();
  return { t, clock, store, bot, say, reply, sentTo, contactOf, messagesOf, settled };
}

describe('responder', () => {
  it('answers FAQ in Portuguese and English, ignoring case and accents, with branch fields and rates', async () => {
    const { say, reply, messagesOf, t } = await setup();
    say('Qual o preço do DOLAR hoje?');
    expect(await reply(0)).toBe('Dólar hoje: compra 5.10, venda 5.35.');
    say('what is the Euro rate');
    expect(await reply(1)).toBe('EUR: buy 5.90 / sell 6.20');
    say('HORARIO??');
    expect(await reply(2)).toBe('Lisboa: Mon-Fri 09:00-18:00; Sat 09:00-13:00');
    say('a que horas fecha?');
    expect(await reply(3)).toBe('Lisboa: Mon-Fri 09:00-18:00; Sat 09:00-13:00');
    const history = await until('8 messages stored', async () => ((await messagesOf('351911111111')).length === 8 ? messagesOf('351911111111') : null));
    expect(history.map((m) => [m.direction, m.handledBy])).toEqual([
      ['in', 'customer'], ['out', 'bot'], ['in', 'customer'], ['out', 'bot'], ['in', 'customer'], ['out', 'bot'], ['in', 'customer'], ['out', 'bot'],
    ]);
    const list = await t.call('/api/contacts?branchId=lisboa');
    expect(list.status).toBe(200);
    expect(list.body.contacts[0]).toMatchObject({ name: 'João', phone: '351911111111', channel: 'whatsapp', optedOut: false, conversation: { state: 'bot' } });
  });

  it('a manager writing to the bot (a WhatsApp LID with her phone) is not taken for a customer', async () => {
    const { bot, t, say, reply } = await setup();
    bot('lis-wa').emit({ type: 'message', message: { agentId: 'lis-wa', channel: 'whatsapp', chatId: '99887766@lid', senderId: '99887766@lid', senderPhone: '351910000009', text: 'dólar?', at: new Date().toISOString() } });
    say('dólar?');
    await reply(0);
    await t.running.coordinator.conversations.idle();
    expect(await t.running.store.contacts.count({})).toBe(1);
    expect(bot('lis-wa').sent.some((s) => s.chatId === '99887766@lid')).toBe(false);
  });

  it('a word inside another word is not a keyword ("europa" is not "euro"); no match hands off', async () => {
    const { say, reply, t, contactOf } = await setup();
    say('vou para a europa amanhã');
    expect(await reply(0)).toBe('Thank you. A person from Lisboa will answer you here shortly.');
    const contact = await contactOf('351911111111');
    await until('pending_human', async () => (await t.call(`/api/contacts/${contact.id}`)).body.contact.conversation.state === 'pending_human');
    const metrics = (await t.call('/metrics')).body as string;
    expect(metrics).toMatch(/coordinator_handoffs_total\{branch="lisboa",channel="whatsapp"\} 1\n/);
    expect(metrics).toMatch(/coordinator_customer_messages_total\{branch="lisboa",channel="whatsapp",direction="in"\} 1\n/);
    expect(metrics).toMatch(/coordinator_customer_messages_total\{branch="lisboa",channel="whatsapp",direction="out"\} 1\n/);
  });

  it('follows business hours in the branch time zone: one after-hours reply per window, FAQ once open', async () => {
    const { say, reply, clock, sentTo, messagesOf, settled } = await setup();
    say('dólar?', '5581999990000', 'rec-wa');
    expect(await reply(0, '5581999990000', 'rec-wa')).toBe('Recife is closed right now. Opening hours: Mon 09:00-18:00. Write "person" and someone will answer you when we open.');
    say('olá??', '5581999990000', 'rec-wa');
    await until('second message stored', async () => (await messagesOf('5581999990000')).length === 3);
    await settled();
    expect(sentTo('rec-wa', '5581999990000@s.whatsapp.net')).toHaveLength(1);
    // Same instant in Lisbon is open: answered.
    say('dólar');
    expect(await reply(0)).toMatch(/^Dólar hoje/);
    await clock.advance(2 * 3600_000); // 09:00 in Recife
    say('dolar', '5581999990000', 'rec-wa');
    expect(await reply(1, '5581999990000', 'rec-wa')).toBe('Compra 5.20');
  });

  it('after hours, asking for a person is a hand-off: staff answer when they open', async () => {
    const { say, reply, t, contactOf } = await setup();
    say('quero falar com uma pessoa', '5581999990001', 'rec-wa');
    expect(await reply(0, '5581999990001', 'rec-wa')).toBe('Thank you. Recife is closed right now (Mon 09:00-18:00); a person will answer you here when we open.');
    const contact = await contactOf('5581999990001');
    await until('pending_human', async () => (await t.running.store.conversations.get(contact.id))?.state === 'pending_human');
    expect(await t.running.store.auditEvents.findOne({ type: 'conversation.handed_off' })).toMatchObject({ branchId: 'recife', data: { reason: 'asked_for_person' } });
  });

  it('opt-out stops every bot message (agent replies too) until START', async () => {
    const { say, reply, t, contactOf, messagesOf, sentTo, settled } = await setup();
    say('SAIR');
    expect(await reply(0)).toBe('You will not get automatic messages from Lisboa any more. Send START to subscribe again.');
    const contact = await contactOf('351911111111');
    expect((await t.running.store.contacts.get(contact.id))?.optedOut).toBe(true);
    say('dólar?');
    await until('stored while opted out', async () => (await messagesOf('351911111111')).length === 3);
    await settled();
    expect(sentTo('lis-wa', '351911111111@s.whatsapp.net')).toHaveLength(1);
    say('Start');
    expect(await reply(1)).toBe('Welcome back: Lisboa will answer you again.');
    say('dólar?');
    expect(await reply(2)).toMatch(/^Dólar hoje/);
    expect((await t.running.store.auditEvents.find({ where: { type: 'contact.opted_out' } })).length).toBe(1);
  });

  it('START from a subscribed customer is a greeting, not a question for staff', async () => {
    const { say, reply, t, contactOf } = await setup();
    say('START');
    expect(await reply(0)).toBe('Hello! This is Lisboa. Ask about our rates, opening hours or address, or write "person" to talk to someone.');
    const contact = await contactOf('351911111111');
    expect((await t.running.store.conversations.get(contact.id))?.state).toBe('bot');
  });

  it('caps automatic replies per contact per window (no loop with another bot)', async () => {
    const { say, reply, sentTo, messagesOf, clock, settled } = await setup();
    for (let i = 0; i < 4; i++) {
      say('dólar');
      await reply(i);
      await clock.advance(20_000);
    }
    say('dólar');
    await until('5th message stored', async () => (await messagesOf('351911111111')).length === 9);
    await settled();
    expect(sentTo('lis-wa', '351911111111@s.whatsapp.net')).toHaveLength(4);
    await clock.advance(3600_000);
    say('dólar');
    expect(await reply(4)).toMatch(/^Dólar hoje/);
  });
});

describe('identity, duplicates and opt-out edges', () => {
  it('a WhatsApp customer writing from their phone JID, then their LID, is one contact: opt-out and history kept', async () => {
    const { bot, reply, t, settled, sentTo } = await setup();
    const at = () => new Date().toISOString();
    bot('lis-wa').emit({ type: 'message', message: { agentId: 'lis-wa', channel: 'whatsapp', chatId: '351955555555@s.whatsapp.net', senderId: '351955555555@s.whatsapp.net', senderPhone: '351955555555', text: 'SAIR', at: at() } });
    await reply(0, '351955555555');
    bot('lis-wa').emit({ type: 'message', message: { agentId: 'lis-wa', channel: 'whatsapp', chatId: '88776655@lid', senderId: '88776655@lid', senderPhone: '351955555555', text: 'dólar?', at: at() } });
    const contact = await until('re-keyed by the LID', () => t.running.store.contacts.findOne({ externalId: '88776655@lid' }));
    await settled();
    expect(contact).toMatchObject({ phone: '351955555555', optedOut: true });
    expect(await t.running.store.contacts.count({ phone: '351955555555' })).toBe(1);
    expect(await t.running.store.messages.count({ contactId: contact.id })).toBe(3);
    expect(sentTo('lis-wa', '88776655@lid')).toHaveLength(0);
    // An agent addressing the old phone chat, however written, cannot get past the opt-out either.
    for (const chatId of ['351955555555@s.whatsapp.net', '+351 955 555 555', '351955555555@c.us', '351955555555:3@s.whatsapp.net', '88776655@lid']) {
      const created = await t.call('/api/approvals', { method: 'POST', token: AGENT, json: { branchId: 'lisboa', actionType: 'message.send', summary: 'Promo', details: { chatId, text: 'Promoção!' } } });
      expect(created.status).toBe(201);
      await t.call(`/api/approvals/${created.body.approval.id}/decision`, { method: 'POST', token: ANA, json: { decision: 'approve' } });
      await until(`failed for ${chatId}`, async () => (await t.running.store.approvals.get(created.body.approval.id))?.status === 'failed');
    }
    expect(bot('lis-wa').sent.some((s) => s.text === 'Promoção!')).toBe(false);
  });

  it('a message the channel delivers twice is stored and answered once', async () => {
    const { bot, reply, settled, messagesOf, sentTo, t } = await setup();
    const message: InboundMessage = { agentId: 'lis-wa', channel: 'whatsapp', chatId: '351966666666@s.whatsapp.net', senderId: '351966666666@s.whatsapp.net', senderPhone: '351966666666', text: 'dólar', messageId: 'WAMID-1', at: new Date().toISOString() };
    bot('lis-wa').emit({ type: 'message', message });
    await reply(0, '351966666666');
    bot('lis-wa').emit({ type: 'message', message });
    // The refusal itself: the second copy reached the contact's queue and was recognised as the same message.
    await until('the duplicate recognised', () => t.logs.some((e) => e.message === 'duplicate inbound message ignored'));
    await settled();
    expect((await messagesOf('351966666666')).filter((m) => m.direction === 'in')).toEqual([expect.objectContaining({ externalId: 'WAMID-1', agentId: 'lis-wa' })]);
    expect(sentTo('lis-wa', '351966666666@s.whatsapp.net')).toHaveLength(1);
  });

  it('STOP is confirmed even past the auto-reply cap, once; an agent or an operator cannot then write to them', async () => {
    const { say, reply, t, contactOf, settled, sentTo, clock } = await setup();
    for (let i = 0; i < 4; i++) {
      say('dólar');
      await reply(i);
      await clock.advance(20_000);
    }
    say('SAIR');
    expect(await reply(4)).toMatch(/^You will not get automatic messages/);
    await clock.advance(20_000);
    say('STOP');
    // The second opt-out reached the responder (which decides to send nothing: the contact is already out).
    const optOuts = () => t.logs.filter((e) => e.message === 'responder: opt_out').length;
    await until('the second STOP handled', () => optOuts() === 2);
    await settled();
    expect(sentTo('lis-wa', '351911111111@s.whatsapp.net')).toHaveLength(5);
    const contact = await contactOf('351911111111');
    const ask = await t.call('/api/approvals', { method: 'POST', token: AGENT, json: { branchId: 'lisboa', actionType: 'message.send', summary: 'Promo', details: { contactId: contact.id, text: 'Promoção!' } } });
    expect(ask.status).toBe(400);
    expect(ask.body.error.details.issues).toEqual([{ path: 'details.contactId', message: `contact '${contact.id}' opted out of automatic messages` }]);
    const staff = await t.call(`/api/contacts/${contact.id}/reply`, { method: 'POST', token: ANA, json: { text: 'Olá' } });
    expect(staff.status).toBe(409);
    expect(staff.body.error.message).toMatch(/hand the conversation to staff first/);
    expect(await t.running.store.approvals.count({})).toBe(0);
  });

  it('an action agent asks for approvals at its own branch only (403 elsewhere, creating nothing)', async () => {
    const { t } = await setup();
    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT, json: { branchId: 'recife', actionType: 'message.send', summary: 'Hi', details: { contactId: 'x', text: 'hi' } } });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe("agent 'replies' belongs to branch 'lisboa' and cannot ask for approvals at 'recife'");
    expect(await t.running.store.approvals.count({})).toBe(0);
  });
});

describe('hand-off to staff', () => {
  it('hands off, forwards later messages to the Slack thread, relays staff replies attributed, and resolves', async () => {
    const { say, reply, bot, t, contactOf, messagesOf, sentTo, settled } = await setup();
    say('quero falar com um ATENDENTE');
    expect(await reply(0)).toBe('Thank you. A person from Lisboa will answer you here shortly.');
    const root = await until('staff notified', () => bot('lis-slack').sent.find((s) => s.chatId === 'C0STAFF'));
    expect(root.text).toContain('João (whatsapp +351911111111) at Lisboa needs a person (asked for a person)');
    expect(root.text).toContain('> quero falar com um ATENDENTE');
    const rootId = String(bot('lis-slack').sent.indexOf(root) + 1);

    say('é sobre uma encomenda de euros');
    const forwarded = await until('forwarded to the thread', () => bot('lis-slack').sent.find((s) => s.text.includes('é sobre uma encomenda')));
    expect(forwarded.options).toEqual({ replyTo: rootId });
    await settled();
    expect(sentTo('lis-wa', '351911111111@s.whatsapp.net')).toHaveLength(1); // the bot stays quiet ("euro" is a FAQ keyword)

    const staff = (text: string) =>
      bot('lis-slack').emit({ type: 'message', message: { agentId: 'lis-slack', channel: 'slack', chatId: 'C0STAFF', senderId: 'U0ANA0001', senderName: 'ana.s', text, thread: rootId, at: new Date().toISOString(), group: true } });
    staff('Olá João, quantos euros precisa?');
    expect(await reply(1)).toBe('Ana: Olá João, quantos euros precisa?');
    const history = await messagesOf('351911111111');
    expect(history.at(-1)).toMatchObject({ direction: 'out', handledBy: 'staff:Ana', status: 'sent' });

    staff('/resolve');
    const contact = await contactOf('351911111111');
    await until('resolved', async () => (await t.running.store.conversations.get(contact.id))?.state === 'bot');
    await until('thread told', () => bot('lis-slack').sent.some((s) => s.text.startsWith('✅ Resolved by Ana') && s.options?.replyTo === rootId));
    say('euro');
    expect(await reply(2)).toBe('EUR: buy 5.90 / sell 6.20');
    expect(await t.running.store.auditEvents.findOne({ type: 'conversation.resolved' })).toMatchObject({ actor: 'Ana', branchId: 'lisboa' });
  });

  it('a customer who opts out while with staff: staff see it and what follows, and can still answer', async () => {
    const { say, reply, bot } = await setup();
    say('quero falar com um atendente');
    await reply(0);
    const root = await until('staff notified', () => bot('lis-slack').sent.find((s) => s.chatId === 'C0STAFF'));
    const rootId = String(bot('lis-slack').sent.indexOf(root) + 1);
    say('SAIR');
    expect(await reply(1)).toMatch(/^You will not get automatic messages/);
    const note = await until('staff told', () => bot('lis-slack').sent.find((s) => s.text.includes('(opted out of automatic messages')));
    expect(note).toMatchObject({ chatId: 'C0STAFF', options: { replyTo: rootId } });
    say('mas ainda preciso dos euros');
    await until('forwarded while opted out', () => bot('lis-slack').sent.find((s) => s.text.endsWith(': mas ainda preciso dos euros')));
    bot('lis-slack').emit({ type: 'message', message: { agentId: 'lis-slack', channel: 'slack', chatId: 'C0STAFF', senderId: 'U0ANA0001', text: 'Com certeza', thread: rootId, at: new Date().toISOString(), group: true } });
    expect(await reply(2)).toBe('Ana: Com certeza');
  });

  it('a manager answering in the thread is not flood-limited; long customer text is cut in staff chats, kept whole in history', async () => {
    const { say, reply, bot, messagesOf } = await setup();
    say(`quero falar com um atendente ${'y'.repeat(1000)}`);
    await reply(0);
    const root = await until('staff notified', () => bot('lis-slack').sent.find((s) => s.chatId === 'C0STAFF'));
    expect(root.text).toContain('… (cut; the full text is on the dashboard)');
    expect(root.text.length).toBeLessThan(800);
    expect(root.text).toContain('reply "resolve" to give them back to the bot');
    const rootId = String(bot('lis-slack').sent.indexOf(root) + 1);
    say('z'.repeat(4000));
    const forwarded = await until('long message forwarded', () => bot('lis-slack').sent.find((s) => s.text.includes('zzzz')));
    expect(forwarded.text.length).toBeLessThan(3700);
    expect((await messagesOf('351911111111')).at(-1)?.text).toHaveLength(4000);
    // inboundPerMinute is 5 at this branch; the manager sends 8 answers within the minute.
    for (let i = 0; i < 8; i++) {
      bot('lis-slack').emit({ type: 'message', message: { agentId: 'lis-slack', channel: 'slack', chatId: 'C0STAFF', senderId: 'U0ANA0001', text: `parte ${i}`, thread: rootId, at: new Date().toISOString(), group: true } });
    }
    expect(await reply(8)).toBe('Ana: parte 7');
  });

  /** A StaffHandoff over the test YAML's config (match needs only the config). */
  const handoffOverYaml = () => {
    const dir = tempDir();
    open.push({ close: async () => dir.cleanup() });
    writeFileSync(join(dir.path, 'c.yaml'), YAML);
    const { config } = loadConfigFile(join(dir.path, 'c.yaml'), {});
    return new StaffHandoff({ config: () => config, channels: builtinChannels() } as never);
  };

  it('a reply to the root of a long hand-off thread still matches once only the latest ids are kept', () => {
    const handoff = handoffOverYaml();
    const ids = Array.from({ length: 50 }, (_, i) => `m${i + 2}`);
    const conversation = { contactId: 'c1', branchId: 'lisboa', staffThreads: [{ agentId: 'lis-slack', chatId: 'C0STAFF', rootId: 'm1', messageIds: ids }] } as unknown as ConversationRecord;
    const reply = (thread: string, chatId = 'C0STAFF'): InboundMessage => ({ agentId: 'lis-slack', channel: 'slack', chatId, senderId: 'U1', text: 'ok', thread, at: '' });
    expect(handoff.match(reply('m1'), [conversation])).toBe(conversation);
    expect(handoff.match(reply('m51'), [conversation])).toBe(conversation);
    expect(handoff.match(reply('m1', 'C0OTHER'), [conversation])).toBeUndefined();
    expect(handoff.match(reply('m99'), [conversation])).toBeUndefined();
  });

  it('a staff reply acts only within the branch the relaying bot serves, whatever thread a conversation holds', () => {
    const handoff = handoffOverYaml();
    // A Recife conversation holding a thread on Lisboa's Telegram bot (a stale or crafted record): Recife's hand-offs never go there.
    const thread = { agentId: 'lis-tg', chatId: '1001', rootId: '7', messageIds: ['7'] };
    const recife = { contactId: 'c-rec', branchId: 'recife', staffThreads: [thread] } as unknown as ConversationRecord;
    const lisboa = { contactId: 'c-lis', branchId: 'lisboa', staffThreads: [thread] } as unknown as ConversationRecord;
    const reply: InboundMessage = { agentId: 'lis-tg', channel: 'telegram', chatId: '1001', senderId: '1001', text: 'Transfer the fee to IBAN …', replyToMessageId: '7', at: '' };
    expect(handoff.match(reply, [recife])).toBeUndefined();
    expect(handoff.match(reply, [recife, lisboa])).toBe(lisboa);
    // A branch that no longer exists in the config is never answered into.
    expect(handoff.match(reply, [{ ...lisboa, branchId: 'gone' } as ConversationRecord])).toBeUndefined();
  });

  it('on WhatsApp a reply from another chat matches only when a manager of the branch sends it (her LID chat), not anyone quoting the id', () => {
    const handoff = handoffOverYaml();
    const conversation = { contactId: 'c1', branchId: 'lisboa', staffThreads: [{ agentId: 'lis-wa', chatId: '351910000009@s.whatsapp.net', rootId: 'WA1', messageIds: ['WA1'] }] } as unknown as ConversationRecord;
    const from = (chatId: string, senderPhone?: string): InboundMessage => ({ agentId: 'lis-wa', channel: 'whatsapp', chatId, senderId: chatId, ...(senderPhone ? { senderPhone } : {}), text: 'ok', replyToMessageId: 'WA1', at: '' });
    expect(handoff.match(from('351910000009@s.whatsapp.net'), [conversation])).toBe(conversation);
    expect(handoff.match(from('99887766@lid', '351910000009'), [conversation])).toBe(conversation);
    expect(handoff.match(from('351955555555@s.whatsapp.net', '351955555555'), [conversation])).toBeUndefined();
    expect(handoff.match(from('12345@lid'), [conversation])).toBeUndefined();
  });

  it('a staff channel that is down: the managers are told on another healthy channel, and their replies still reach the customer', async () => {
    const { say, reply, bot, t, clock } = await setup();
    bot('lis-slack').health = 'fail';
    for (let i = 0; i < 4 && (await t.running.store.agents.get('lis-slack'))?.status !== 'down'; i++) await clock.advance(30_000);
    expect((await t.running.store.agents.get('lis-slack'))?.status).toBe('down');
    say('preciso de ajuda com outra coisa');
    await reply(0);
    const note = await until('Ana told on Telegram', () => bot('lis-tg').sent.find((s) => s.chatId === '1001' && s.text.includes('needs a person')));
    expect(bot('lis-slack').sent.some((s) => s.text.includes('needs a person'))).toBe(false);
    const noteId = String(bot('lis-tg').sent.indexOf(note) + 1);
    bot('lis-tg').emit({ type: 'message', message: { agentId: 'lis-tg', channel: 'telegram', chatId: '1001', senderId: '1001', text: 'Claro, diga', replyToMessageId: noteId, at: new Date().toISOString() } });
    expect(await reply(1)).toBe('Ana: Claro, diga');
  });

  it('operators reply, hand over and resolve through the API; bad input changes nothing', async () => {
    const { say, reply, t, contactOf } = await setup();
    say('dólar');
    await reply(0);
    const contact = await contactOf('351911111111');
    expect((await t.call(`/api/contacts/${contact.id}/reply`, { method: 'POST', json: { text: '' } })).status).toBe(400);
    expect((await t.call(`/api/contacts/${contact.id}/reply`, { method: 'POST', json: { text: 'hi', extra: 1 } })).status).toBe(400);
    expect((await t.call('/api/contacts/nope/reply', { method: 'POST', json: { text: 'hi' } })).status).toBe(404);
    expect((await t.call(`/api/contacts/${contact.id}/messages`)).body.total).toBe(2);
    const handoff = await t.call(`/api/contacts/${contact.id}/handoff`, { method: 'POST', token: ANA });
    expect(handoff.body.state).toBe('pending_human');
    const sent = await t.call(`/api/contacts/${contact.id}/reply`, { method: 'POST', token: ANA, json: { text: 'Bom dia!' } });
    expect(sent.status).toBe(201);
    expect(sent.body.message).toMatchObject({ handledBy: 'staff:Ana', text: 'Ana: Bom dia!', status: 'sent' });
    expect(await reply(1)).toBe('Ana: Bom dia!');
    expect((await t.call(`/api/contacts/${contact.id}/resolve`, { method: 'POST', token: ANA })).body.state).toBe('bot');
    expect((await t.call(`/api/contacts/${contact.id}`, { method: 'PATCH', json: { tags: ['vip'] } })).body.contact.tags).toEqual(['vip']);
    expect((await t.call(`/api/contacts/${contact.id}`, { method: 'PATCH', json: { optedOut: 'yes' } })).status).toBe(400);
    // A name staff set stays, whatever display name the customer's app sends next.
    expect((await t.call(`/api/contacts/${contact.id}`, { method: 'PATCH', json: { name: 'João Silva (VIP)' } })).body.contact.name).toBe('João Silva (VIP)');
    say('dólar');
    await reply(2);
    expect((await t.running.store.contacts.get(contact.id))?.name).toBe('João Silva (VIP)');
  });
});

describe('protection and history', () => {
  it('drops a flood from one number (counted, logged once) without starving another', async () => {
    const { say, reply, messagesOf, t } = await setup();
    for (let i = 0; i < 12; i++) say(`spam ${i}`, '351900000000');
    say('dólar');
    expect(await reply(0)).toMatch(/^Dólar hoje/);
    await until('flood handled', async () => (await messagesOf('351900000000')).filter((m) => m.direction === 'in').length === 5);
    await t.running.coordinator.conversations.idle();
    expect((await messagesOf('351900000000')).filter((m) => m.direction === 'in')).toHaveLength(5);
    expect(t.running.coordinator.conversations.droppedInbound).toBe(7);
    // Phone numbers are masked in logs.
    expect(t.logs.filter((e) => String(e.message).startsWith('flood from whatsapp ***000@s.whatsapp.net at lisboa'))).toHaveLength(1);
  });

  it('the limiter forgets stale windows, so memory stays bounded under many senders', () => {
    const limiter = new InboundLimiter(60_000);
    for (let minute = 0; minute < 5; minute++) {
      for (let i = 0; i < 12_000; i++) expect(limiter.take(`m${minute}:${i}`, 1, minute * 60_000 + i).ok).toBe(true);
    }
    // Five minutes of 12,000 new senders each: at most about two minutes' worth are kept.
    expect(limiter.size).toBeLessThanOrEqual(24_000);
    expect(limiter.take('m4:1', 1, 4 * 60_000 + 20_000)).toEqual({ ok: false, firstDrop: true, dropped: 1 });
  });

  it('stores over-long text cut to the limit (marked), as data', async () => {
    const { say, messagesOf } = await setup();
    say(`{address} <script>${'x'.repeat(5000)}`);
    const [first] = await until('stored', async () => ((await messagesOf('351911111111')).length ? messagesOf('351911111111') : null));
    expect(first!.text).toHaveLength(4096);
    expect(first!.text.startsWith('{address} <script>')).toBe(true);
    expect(first!.truncated).toBe(true);
  });

  it('pages the message history newest first', async () => {
    const { say, reply, t, contactOf, clock } = await setup();
    for (let i = 0; i < 3; i++) {
      say(`dólar ${i}`);
      await reply(i);
      await clock.advance(1000);
    }
    const contact = await contactOf('351911111111');
    const page1 = await t.call(`/api/contacts/${contact.id}/messages?limit=4`);
    expect(page1.body).toMatchObject({ total: 6, limit: 4, offset: 0, nextOffset: 4, nextBefore: page1.body.messages[3].id });
    expect(page1.body.messages.map((m: { text: string }) => m.text.slice(0, 7))).toEqual(['Dólar h', 'dólar 2', 'Dólar h', 'dólar 1']);
    const page2 = await t.call(`/api/contacts/${contact.id}/messages?limit=4&offset=4`);
    expect(page2.body.messages.map((m: { text: string }) => m.text.slice(0, 7))).toEqual(['Dólar h', 'dólar 0']);
    expect(page2.body.nextOffset).toBeNull();
    expect(page2.body.nextBefore).toBeNull();
    // New messages arrive while paging: the `before` cursor still gives exactly the rest.
    say('dólar 3');
    await reply(3);
    const rest = await t.call(`/api/contacts/${contact.id}/messages?limit=4&before=${page1.body.nextBefore}`);
    expect(rest.body).toMatchObject({ total: 8, nextBefore: null });
    expect(rest.body.messages.map((m: { text: string }) => m.text.slice(0, 7))).toEqual(['Dólar h', 'dólar 0']);
    expect((await t.call(`/api/contacts/${contact.id}/messages?before=nope`)).status).toBe(400);
    expect((await t.call(`/api/contacts/${contact.id}/messages?limit=0`)).status).toBe(400);
    expect((await t.call('/api/contacts?state=gone')).status).toBe(400);
  });
});

describe('agent-proposed replies', () => {
  it('an approved message.send reaches the customer and is recorded as the agent’s, via the approval', async () => {
    const { say, reply, t, contactOf, messagesOf } = await setup();
    say('dólar');
    await reply(0);
    const contact = await contactOf('351911111111');
    const created = await t.call('/api/approvals', { method: 'POST', token: AGENT, json: { branchId: 'lisboa', actionType: 'message.send', summary: 'Tell João his order is ready', details: { contactId: contact.id, text: 'A sua encomenda de euros está pronta.' } } });
    expect(created.status).toBe(201);
    const decided = await t.call(`/api/approvals/${created.body.approval.id}/decision`, { method: 'POST', token: ANA, json: { decision: 'approve' } });
    expect(decided.status).toBe(200);
    expect(await reply(1)).toBe('A sua encomenda de euros está pronta.');
    await until('executed', async () => (await t.running.store.approvals.get(created.body.approval.id))?.status === 'executed');
    expect((await messagesOf('351911111111')).at(-1)).toMatchObject({ direction: 'out', handledBy: `agent:replies via approval ${created.body.approval.id}` });
  });

  it('a message.send request with bad details is refused at once (400), creating nothing', async () => {
    const { t } = await setup();
    const ask = (details: unknown) => t.call('/api/approvals', { method: 'POST', token: AGENT, json: { branchId: 'lisboa', actionType: 'message.send', summary: 'Say hi', details } });
    const missing = await ask({ contactId: 'nobody', text: 'hi' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.issues).toEqual([{ path: 'details.contactId', message: "no contact 'nobody' at branch lisboa" }]);
    const empty = await ask({ chatId: '123', text: '   ' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.details.issues[0].path).toMatch(/^details/);
    expect((await ask(undefined)).status).toBe(400);
    expect(await t.running.store.approvals.count({})).toBe(0);
  });
});

describe('responder config', () => {
  const load = (responder: string) => {
    const dir = tempDir();
    open.push({ close: async () => dir.cleanup() });
    const path = join(dir.path, 'c.yaml');
    writeFileSync(path, `branches:\n  - id: b\n    name: B\n    agents: [{ id: b-tg, channel: telegram, token: t }]\n    responder:\n${responder}`);
    return () => loadConfigFile(path, {});
  };
  it('a bad regex is a config error naming the rule', () => {
    expect(load('      faq: [{ id: broken, patterns: ["(abre"], answer: x }]')).toThrow(ConfigError);
    expect(load('      faq: [{ id: broken, patterns: ["(abre"], answer: x }]')).toThrow(/branches\[0\]\.responder\.faq\[0\]\.patterns\[0\].*FAQ rule 'broken': invalid regular expression/s);
  });
  it('accents in a pattern are ignored like in the text it runs on', () => {
    const config = load('      faq: [{ id: hours, patterns: ["horário|endereço"], answer: x }]')();
    const branch = config.config.branches[0]!;
    const responder = new Responder(branch, { branch: 'B' } as never);
    expect(responder.decide({ text: 'Qual o HORARIO?', optedOut: false, state: 'bot', afterHoursSent: false, now: new Date('2026-03-02T10:00:00Z') })).toMatchObject({ kind: 'faq', ruleId: 'hours' });
  });
  it('an unknown template field or staff agent is a config error', () => {
    expect(load('      faq: [{ id: r, keywords: [x], answer: "{rates.GBP.buy}" }]')).toThrow(/FAQ rule 'r' uses unknown field \{rates.GBP.buy\}/);
    expect(load('      staff: [{ agent: nobody, chat: C1 }]')).toThrow(/responder\.staff\[0\]\.agent.*unknown agent 'nobody'/s);
    expect(load('      staff: [{ agent: b-tg }]')).toThrow(/say which chat of 'b-tg' staff read/);
  });
});
