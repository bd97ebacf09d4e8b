import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BotEvent } from '../../src/bots/bot-agent.js';
import type { WAMessage } from '@whiskeysockets/baileys';
import { ChannelRegistry, type BotContext, type ChannelFactory, type DecisionRequest } from '../../src/bots/channel-registry.js';
import { WhatsAppBot, type WhatsAppAgentConfig } from '../../src/bots/whatsapp/whatsapp-bot.js';
import { MAX_INBOUND_TEXT } from '../../src/bots/whatsapp/whatsapp-inbound.js';
import { whatsappChannel } from '../../src/bots/whatsapp/whatsapp-channel.js';
import { waState, whatsAppStateStore } from '../helpers/whatsapp-state.js';
import { whatsAppState } from '../../src/bots/whatsapp/whatsapp-state-store.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { disappearing, OUR_LID, phoneText, phoneVote, standInSockets } from '../helpers/baileys-stand-in.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const AGENT_TOKEN = 'agent-token-whatsapp-tests-1';
const ANA = '351910000001';
const ANA_JID = `${ANA}@s.whatsapp.net`;
const ANA_LID = '70000000000011@lid';
const EVE_JID = '351930000009@s.whatsapp.net';
const BRUNO = '351920000002';
const BRUNO_JID = `${BRUNO}@s.whatsapp.net`;

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, whatsapp: "+${ANA}" }
      # Another manager of the branch; prompts go to him on Telegram only (he has none here), so he gets none on WhatsApp.
      - { id: bruno, name: Bruno, role: manager, whatsapp: "+${BRUNO}", prefer: [telegram] }
    agents:
      - { id: lis-wa, channel: whatsapp, minGapMs: 200, jitterMs: 0 }
`;

describe('WhatsApp approvals (poll + text fallback) through the real coordinator', () => {
  let t: TestCoordinator;
  const sockets = standInSockets({ autoOpen: true });
  const events: BotEvent[] = [];

  beforeAll(async () => {
    // The real WhatsApp channel, its bot on the stand-in socket.
    const channels = new ChannelRegistry().register({
      ...whatsappChannel,
      create: (config, context) => new WhatsAppBot(config, context, { state: whatsAppState(context.state!('whatsapp'), config.id), makeSocket: sockets.makeSocket }),
    } satisfies ChannelFactory<WhatsAppAgentConfig>);
    t = await startTestCoordinator({ yaml: YAML, channels, env: { HEALTH_INTERVAL_MS: '1000' } });
    t.running.coordinator.hosts.onEvent((e) => events.push(e));
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    await until('lis-wa up', async () => (await t.running.store.agents.get('lis-wa'))?.status === 'up');
  });
  afterAll(async () => {
    await t.close();
  });

  const sock = () => sockets.latest();
  const status = async (id: string) => (await t.running.store.approvals.get(id))?.status;
  const prompt = async (summary: string) => {
    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary } });
    expect(res.status).toBe(201);
    const code: string = res.body.approval.code;
    const poll = await until('the poll', () => sock().sent.map((s) => s.message).find((m) => m.message?.pollCreationMessageV3?.name?.startsWith(code)));
    const text = sock().sent.map((s) => s.message).find((m) => m.message?.extendedTextMessage?.text?.includes(summary) || m.message?.conversation?.includes(summary));
    return { approval: res.body.approval as { id: string; code: string }, code, poll, text: text! };
  };
  const replyTo = (jid: string, contains: string) => until(`a reply containing "${contains}"`, () => sock().texts(jid).find((x) => x.includes(contains)));

  it('sends a text with the summary and code, then a single-choice poll Approve / Reject', async () => {
    const p = await prompt('Refund 20 EUR to order 1');
    expect(p.text.key.remoteJid).toBe(ANA_JID);
    expect(p.text.message?.extendedTextMessage?.text ?? p.text.message?.conversation).toMatch(new RegExp(`Approval needed\\* — refund \\(${p.code}\\)\\nRefund 20 EUR to order 1`));
    expect(p.poll.message?.pollCreationMessageV3).toMatchObject({ selectableOptionsCount: 1, options: [{ optionName: 'Approve' }, { optionName: 'Reject' }] });
    expect(p.poll.message?.messageContextInfo?.messageSecret).toHaveLength(32);
    // (Recorded once the send returned, so possibly a moment after the poll is on the socket.)
    const approval = await until('the delivery recorded', async () => {
      const a = await t.running.store.approvals.get(p.approval.id);
      return a && a.deliveries.length > 0 ? a : null;
    });
    expect(approval.deliveries[0]).toMatchObject({ channel: 'whatsapp', agentId: 'lis-wa', chatId: ANA_JID, status: 'sent', messageId: p.poll.key.id });
    // Every sent message is stored, so Baileys' getMessage(key) finds it (retries, polls).
    const getMessage = sock().config.getMessage!;
    expect((await getMessage({ remoteJid: ANA_JID, id: p.poll.key.id, fromMe: true }))?.pollCreationMessageV3?.name).toBe(p.poll.message?.pollCreationMessageV3?.name);
  });

  it("the manager's poll vote approves; the answer is sent back", async () => {
    const p = await prompt('Refund 30 EUR to order 2');
    sock().receive(phoneVote({ jid: ANA_JID, pushName: 'Ana' }, p.poll, 'Approve'));
    await until('approved', async () => (await status(p.approval.id)) === 'approved');
    expect((await t.running.store.approvals.get(p.approval.id))!.decision).toMatchObject({ by: 'ana', via: 'whatsapp' });
    await replyTo(ANA_JID, `Approved ${p.code}.`);
    // She decided here and got the answer: no "decided elsewhere" follow-up besides it. The engine updates every prompt
    // (queueing any follow-up) before `decide` returns and the answer is queued behind it, in order: once the answer
    // is out, a follow-up would be out too.
    expect(sock().texts(ANA_JID).filter((x) => x.includes(p.code) && !x.includes('Approval needed'))).toEqual([`Approved ${p.code}.`]);
  });

  it('a vote from the manager addressed by LID is mapped to her phone through the LID mapping', async () => {
    sock().lids.set(ANA_LID, `${ANA}:3@s.whatsapp.net`);
    const p = await prompt('Refund 35 EUR to order 2b');
    sock().receive(phoneVote({ jid: ANA_LID }, p.poll, 'Reject', { creatorJid: OUR_LID }));
    await until('rejected', async () => (await status(p.approval.id)) === 'rejected');
    await replyTo(ANA_JID, `Rejected ${p.code}. To add a reason, send REJECT ${p.code} <reason>.`);
  });

  it("a stranger's vote is ignored: nothing decided, nothing answered", async () => {
    const p = await prompt('Refund 40 EUR to order 3');
    const before = sock().sent.length;
    sock().receive(phoneVote({ jid: EVE_JID, pushName: 'Eve' }, p.poll, 'Approve'));
    // The refusal itself: the vote was read, found not to be the prompted manager's, and dropped there.
    await until('the ignore log line', () => t.logs.some((e) => e.message === 'poll vote from someone other than the prompted manager ignored' && e.approvalId === p.approval.id));
    expect(await status(p.approval.id)).toBe('pending');
    expect(sock().sent.length).toBe(before);
  });

  it("another manager's vote on a poll sent to Ana's number is ignored: a poll counts only from the number it was sent to", async () => {
    const p = await prompt('Refund 45 EUR to order 3b');
    const before = sock().sent.length;
    const ignored = () => t.logs.filter((e) => e.message === 'poll vote from someone other than the prompted manager ignored').length;
    const seen = ignored();
    sock().receive(phoneVote({ jid: BRUNO_JID, pushName: 'Bruno' }, p.poll, 'Approve'));
    await until('the ignore log line', () => ignored() > seen);
    expect(await status(p.approval.id)).toBe('pending');
    expect(sock().sent.length).toBe(before);
    expect(sock().texts(BRUNO_JID)).toEqual([]);
    // Ana's own vote still counts afterwards.
    sock().receive(phoneVote({ jid: ANA_JID }, p.poll, 'Approve'));
    await until('approved', async () => (await status(p.approval.id)) === 'approved');
    expect((await t.running.store.approvals.get(p.approval.id))!.decision).toMatchObject({ by: 'ana' });
  });

  it('votes and replies inside a disappearing-messages chat (ephemeralMessage wrapper) count', async () => {
    const p = await prompt('Refund 47 EUR to order 3c');
    sock().receive(disappearing(phoneVote({ jid: ANA_JID }, p.poll, 'Reject')));
    await until('rejected', async () => (await status(p.approval.id)) === 'rejected');
    await replyTo(ANA_JID, `Rejected ${p.code}.`);
    const q = await prompt('Refund 48 EUR to order 3d');
    sock().receive(disappearing(phoneText({ jid: ANA_JID }, '1', q.text)));
    await until('approved', async () => (await status(q.approval.id)) === 'approved');
  });

  it('text fallback: "2" quoting the prompt rejects, "REJECT <code> <reason>" adds the reason, "APPROVE <code>" approves', async () => {
    const p = await prompt('Refund 50 EUR to order 4');
    sock().receive(phoneText({ jid: ANA_JID }, '2', p.text));
    await until('rejected', async () => (await status(p.approval.id)) === 'rejected');
    sock().receive(phoneText({ jid: ANA_JID }, `REJECT ${p.code} customer already refunded`));
    await until('reason stored', async () => (await t.running.store.approvals.get(p.approval.id))?.decision?.reason === 'customer already refunded');

    const q = await prompt('Refund 55 EUR to order 5');
    sock().receive(phoneText({ jid: ANA_JID }, `approve ${q.code.toLowerCase()}`));
    await until('approved', async () => (await status(q.approval.id)) === 'approved');
    // The same words from someone who is not a manager are just a customer message.
    sock().receive(phoneText({ jid: EVE_JID }, `APPROVE ${q.code}`));
    await until('customer event', () => events.find((e) => e.type === 'message' && e.message.text === `APPROVE ${q.code}`));
  });

  it('a decision elsewhere sends a follow-up to the prompt; a late vote is told who decided', async () => {
    const p = await prompt('Refund 60 EUR to order 6');
    const res = await t.call(`/api/approvals/${p.approval.id}/decision`, { method: 'POST', json: { decision: 'approve' } });
    expect(res.status).toBe(200);
    await replyTo(ANA_JID, `➡ ${p.code} APPROVED by admin via api`);
    sock().receive(phoneVote({ jid: ANA_JID }, p.poll, 'Reject'));
    await replyTo(ANA_JID, `Too late: ${p.code} was already approved by`);
    expect(await status(p.approval.id)).toBe('approved');
  });

  it('customer texts become inbound events with LID and phone; status, groups and our own messages are ignored', async () => {
    const lid = '80000000000077@lid';
    sock().receive(phoneText({ jid: lid, alt: '5511987654321@s.whatsapp.net', pushName: 'Rui' }, 'Qual é o câmbio do euro?'));
    const event = await until('inbound', () => events.find((e) => e.type === 'message' && e.message.text === 'Qual é o câmbio do euro?'));
    expect(event).toMatchObject({ message: { agentId: 'lis-wa', channel: 'whatsapp', chatId: lid, senderId: lid, senderPhone: '5511987654321', senderName: 'Rui' } });
    const ignored = [
      { ...phoneText({ jid: 'status@broadcast' }, 'status text'), key: { remoteJid: 'status@broadcast', participant: EVE_JID, fromMe: false, id: 'S1' } },
      { ...phoneText({ jid: '120363000000000001@g.us' }, 'group text'), key: { remoteJid: '120363000000000001@g.us', participant: EVE_JID, fromMe: false, id: 'G1' } },
      { ...phoneText({ jid: EVE_JID }, 'our own text'), key: { remoteJid: EVE_JID, fromMe: true, id: 'M1' } },
    ];
    sock().receive(...ignored);
    sock().receive(phoneText({ jid: EVE_JID }, 'marker'));
    await until('marker', () => events.find((e) => e.type === 'message' && e.message.text === 'marker'));
    expect(events.filter((e) => e.type === 'message' && /status text|group text|our own text/.test(e.message.text))).toEqual([]);
  });
});

describe('WhatsApp decisions in a runner (no manager directory): APPROVE <code> counts only from the prompted number', () => {
  it("the prompted manager's APPROVE decides; a stranger's is a customer message; a bad message in a batch is skipped", async () => {
    const dir = tempDir('wa-runner-');
    const store = SqliteStore.open({ dataDir: dir.path });
    const sockets = standInSockets({ autoOpen: true });
    const decided: DecisionRequest[] = [];
    const context: BotContext = {
      logger: memoryLogger().logger,
      env: {},
      decide: async (request) => (decided.push(request), { ok: true, text: `Approved ${request.approvalId}.` }),
    };
    const bot = new WhatsAppBot({ id: 'run-wa', minGapMs: 10, jitterMs: 0 }, context, { state: whatsAppStateStore(store, 'run-wa'), makeSocket: sockets.makeSocket });
    const events: BotEvent[] = [];
    bot.onEvent((e) => events.push(e));
    try {
      await bot.start();
      await until('open', async () => (await bot.probe()).ok);
      const prompt = { approvalId: 'apr-1', code: 'K7WQ2M', branchName: 'Porto', actionType: 'refund', summary: 'Refund 5 EUR', riskLevel: 'critical', requester: 'refunds', expiresAt: '2026-03-02T12:00:00.000Z' };
      await bot.promptApproval(ANA_JID, prompt);
      sockets.latest().receive(phoneText({ jid: EVE_JID }, 'APPROVE K7WQ2M'));
      await until('customer event', () => events.find((e) => e.type === 'message' && e.message.text === 'APPROVE K7WQ2M'));
      expect(decided).toEqual([]);
      // A malformed message (no key) does not drop the valid one after it; a huge text is capped.
      const huge = 'x'.repeat(100_000);
      sockets.latest().receive({ message: { conversation: 'no key' } } as unknown as WAMessage, { ...phoneText({ jid: EVE_JID }, huge), messageTimestamp: Number.NaN });
      const big = await until('the capped text', () => events.find((e) => e.type === 'message' && e.message.text.startsWith('xxx')));
      expect(big.type === 'message' && big.message.text.length).toBe(MAX_INBOUND_TEXT + 1);
      sockets.latest().receive(phoneText({ jid: ANA_JID }, 'approve k7wq2m'));
      await until('decided', () => decided.length === 1);
      expect(decided[0]).toMatchObject({ approvalId: 'apr-1', decision: 'approve', deciderId: ANA });
      await until('the answer', () => sockets.latest().texts(ANA_JID).includes('Approved apr-1.'));
    } finally {
      await bot.stop();
      await store.close();
      dir.cleanup();
    }
  });
});

describe('WhatsApp follow-ups do not hold the approval engine', () => {
  it('updateApproval returns once the follow-up is stored and queued, even while the number is down; it goes out after the reconnect', async () => {
    const dir = tempDir('wa-follow-');
    const store = SqliteStore.open({ dataDir: dir.path });
    const clock = new ManualClock();
    const sockets = standInSockets({ now: () => clock.now() });
    const context: BotContext = { logger: memoryLogger().logger, env: {} };
    const bot = new WhatsAppBot({ id: 'wa-f', minGapMs: 10, jitterMs: 0, reconnectBaseMs: 1000 }, context, { state: whatsAppStateStore(store, 'wa-f'), makeSocket: sockets.makeSocket, clock, random: () => 0.5 });
    try {
      await bot.start();
      sockets.latest().open();
      const prompting = bot.promptApproval(ANA_JID, { approvalId: 'apr-9', code: 'K7WQ2M', branchName: 'Porto', actionType: 'refund', summary: 'Refund 5 EUR', riskLevel: 'low', requester: 'refunds', expiresAt: '2026-03-02T12:00:00.000Z' });
      await clock.advance(100);
      const ref = await prompting;
      sockets.latest().close(408);
      await clock.advance(0);
      // Decided elsewhere while the number is down: the engine's update must not wait for the message to go out.
      let returned = false;
      const updating = bot.updateApproval(ref, { approvalId: 'apr-9', status: 'approved', by: 'Admin', via: 'api' }).then(() => (returned = true));
      await settle();
      expect(returned).toBe(true);
      await updating;
      expect(await waState(store).waOutbound.count({ agentId: 'wa-f', status: 'queued' })).toBe(1);
      await clock.advance(1000);
      expect(sockets.sockets).toHaveLength(2);
      sockets.latest().open();
      await clock.advance(100);
      expect(sockets.latest().texts(ANA_JID)).toEqual(['➡ K7WQ2M APPROVED by Admin via api']);
      // A poll cannot be edited: a pending approval's new progress is a reply under it.
      await bot.updateApproval(ref, { approvalId: 'apr-9', status: 'pending', prompt: { approvalId: 'apr-9', code: 'K7WQ2M', branchName: 'Porto', actionType: 'refund', summary: 'Refund 5 EUR', riskLevel: 'low', requester: 'refunds', expiresAt: '2026-03-02T12:00:00.000Z', progress: ['Escalated to Rui at 2026-03-02 10:15 UTC.'] } });
      await clock.advance(100);
      expect(sockets.latest().texts(ANA_JID).at(-1)).toBe('⏳ K7WQ2M is still pending. Escalated to Rui at 2026-03-02 10:15 UTC.');
      expect(sockets.latest().sent[0].message.message?.extendedTextMessage?.contextInfo?.stanzaId).toBe(ref.messageId);
    } finally {
      await bot.stop();
      await store.close();
      dir.cleanup();
    }
  });
});
