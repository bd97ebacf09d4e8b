import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { BotContext } from '../../src/bots/channel-registry.js';
import { WhatsAppBot, type WhatsAppAgentConfig } from '../../src/bots/whatsapp/whatsapp-bot.js';
import { waState, whatsAppStateStore } from '../helpers/whatsapp-state.js';
import { CodedError, ErrorCode } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/store.js';
import { rateOverlimit, standInSockets } from '../helpers/baileys-stand-in.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';

const CUSTOMER = '351960000002@s.whatsapp.net';

describe('WhatsApp outbound governor', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let clock: ManualClock;
  const bots: WhatsAppBot[] = [];
  let logs: Array<Record<string, unknown>>;

  beforeEach(() => {
    dir = tempDir('wa-gov-');
    store = SqliteStore.open({ dataDir: dir.path });
    clock = new ManualClock();
  });
  afterEach(async () => {
    await Promise.all(bots.splice(0).map((b) => b.stop()));
    await store.close();
    dir.cleanup();
  });

  /** A started, connected bot on the shared store; gap 1000 ms + jitter 400 ms × 0.5 = 1200 ms. */
  const connectedBot = async (config: Partial<WhatsAppAgentConfig> = {}) => {
    const sockets = standInSockets({ now: () => clock.now() });
    const memory = memoryLogger();
    logs = memory.entries;
    const context: BotContext = { logger: memory.logger, env: {} };
    const bot = new WhatsAppBot({ id: 'wa-gov', minGapMs: 1000, jitterMs: 400, ...config }, context, {
      state: whatsAppStateStore(store, 'wa-gov'),
      makeSocket: sockets.makeSocket,
      clock,
      random: () => 0.5,
    });
    bots.push(bot);
    await bot.start();
    sockets.latest().open();
    return { bot, sock: sockets.latest(), sockets };
  };

  it('spaces sends by the minimum gap plus jitter, in order', async () => {
    const { bot, sock } = await connectedBot();
    const sends = ['one', 'two', 'three'].map((text) => bot.send(CUSTOMER, text));
    await clock.advance(5000);
    const refs = await Promise.all(sends);
    expect(sock.texts()).toEqual(['one', 'two', 'three']);
    const at = sock.sent.map((s) => s.at);
    expect([at[1] - at[0], at[2] - at[1]]).toEqual([1200, 1200]);
    expect(refs.map((r) => r.messageId)).toEqual(sock.sent.map((s) => s.message.key.id));
    expect(refs[0].chatId).toBe(CUSTOMER);
    // Persisted and stored: the queue shows them sent, and getMessage(key) finds each one.
    expect(await waState(store).waOutbound.count({ agentId: 'wa-gov', status: 'sent' })).toBe(3);
    const found = await sock.config.getMessage!({ remoteJid: CUSTOMER, id: refs[1].messageId, fromMe: true });
    expect(found?.extendedTextMessage?.text ?? found?.conversation).toBe('two');
  });

  it('survives a restart without losing or double-sending: queued items go once, a crash mid-send resends under the same id only if it was not stored', async () => {
    const first = await connectedBot();
    const pending = ['a', 'b', 'c', 'd'].map((text) => first.bot.send(CUSTOMER, text).catch((e: unknown) => e));
    await clock.advance(10);
    expect(first.sock.texts()).toEqual(['a']);
    // The process stops: the queue stays in the store. The waiting senders get their refs, not an error —
    // an error would make a caller fall back to another channel while the message still goes out later.
    await first.bot.stop();
    const refs = (await Promise.all(pending)) as Array<{ chatId: string; messageId: string }>;
    const rows = await waState(store).waOutbound.find({ where: { agentId: 'wa-gov' }, orderBy: { field: 'createdAt' } });
    rows.sort((x, y) => (x.id < y.id ? -1 : 1));
    expect(rows.map((r) => r.status)).toEqual(['sent', 'queued', 'queued', 'queued']);
    expect(refs.map((r) => r.messageId)).toEqual(rows.map((r) => r.keyId));
    // Crash after 'a' was sent and stored but before it was marked sent; crash while 'b' was being sent (not stored).
    await waState(store).waOutbound.update(rows[0].id, { status: 'sending' });
    await waState(store).waOutbound.update(rows[1].id, { status: 'sending' });

    const second = await connectedBot();
    await clock.advance(10_000);
    expect(second.sock.texts()).toEqual(['b', 'c', 'd']);
    expect(second.sock.sent.map((s) => s.message.key.id)).toEqual(rows.slice(1).map((r) => r.keyId));
    const ids = [...first.sock.sent, ...second.sock.sent].map((s) => s.message.key.id);
    expect(new Set(ids).size).toBe(4);
    expect(await waState(store).waOutbound.count({ agentId: 'wa-gov', status: 'sent' })).toBe(4);
  });

  it('a message WhatsApp took is not sent again when recording it fails; the next start reconciles it', async () => {
    const { bot, sock } = await connectedBot();
    const save = waState(store).waMessages.put.bind(waState(store).waMessages);
    waState(store).waMessages.put = () => Promise.reject(new Error('disk full'));
    const ref = await (async () => {
      const sending = bot.send(CUSTOMER, 'once');
      await clock.advance(10);
      return sending;
    })();
    waState(store).waMessages.put = save;
    await clock.advance(60_000);
    expect(sock.texts()).toEqual(['once']);
    expect(ref.messageId).toBe(sock.sent[0].message.key.id);
    expect(logs.some((e) => String(e.message).startsWith('a WhatsApp message was sent but could not be recorded'))).toBe(true);
    // Left 'sending' (not retried here); a restart resends it under the same id, which WhatsApp takes as the same message.
    expect((await waState(store).waOutbound.find({ where: { agentId: 'wa-gov' } })).map((r) => r.status)).toEqual(['sending']);
  });

  it('a restart while a send is on the wire waits for it: sent once, recorded, not resent', async () => {
    const { bot, sock, sockets } = await connectedBot();
    const release = sock.hold();
    const sending = bot.send(CUSTOMER, 'once');
    await clock.advance(10);
    expect((await waState(store).waOutbound.find({ where: { agentId: 'wa-gov' } })).map((r) => r.status)).toEqual(['sending']);
    let stopped = false;
    const stopping = bot.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    release();
    await stopping;
    await sending;
    expect((await waState(store).waOutbound.find({ where: { agentId: 'wa-gov' } })).map((r) => r.status)).toEqual(['sent']);
    await bot.start();
    sockets.latest().open();
    await clock.advance(10_000);
    expect(sockets.sockets.flatMap((s) => s.texts())).toEqual(['once']);
  });

  it('stop waits for a send that never answers only so long; its late answer is still recorded, and nothing is sent twice', async () => {
    const { bot, sock, sockets } = await connectedBot();
    const release = sock.hold();
    void bot.send(CUSTOMER, 'slow');
    await clock.advance(10);
    const stopping = bot.stop();
    await clock.advance(10_000);
    await stopping;
    expect(logs.some((e) => String(e.message).startsWith('stopping while a WhatsApp send has not answered'))).toBe(true);
    // Started again while the old send is still out: recovery leaves its row to it.
    await bot.start();
    sockets.latest().open();
    await clock.advance(5000);
    expect(sockets.latest().texts()).toEqual([]);
    release();
    await clock.advance(5000);
    expect(sockets.sockets.flatMap((s) => s.texts())).toEqual(['slow']);
    expect((await waState(store).waOutbound.find({ where: { agentId: 'wa-gov' } })).map((r) => r.status)).toEqual(['sent']);
  });

  it('queue rows change status only from the attempt that claimed them', async () => {
    const state = whatsAppStateStore(store, 'wa-gov');
    const at = new Date(clock.now()).toISOString();
    await state.outbound.enqueue({ id: 'o-1', chatId: CUSTOMER, payload: '{}', createdAt: at, notBefore: at, keyId: 'K1' });
    const first = await state.outbound.claim('o-1');
    expect(first).toMatchObject({ status: 'sending', attempts: 1 });
    expect(await state.outbound.claim('o-1')).toBeNull();
    // Given up on (e.g. recovered after a restart) and claimed again by a second attempt:
    expect(await state.outbound.requeue('o-1', at, 'interrupted', false, 1)).toBe(true);
    expect(await state.outbound.claim('o-1')).toMatchObject({ attempts: 2 });
    // The first attempt's late answers must not touch the second one's row.
    expect(await state.outbound.markSent('o-1', at, 1)).toBe(false);
    expect(await state.outbound.requeue('o-1', at, 'late failure', true, 1)).toBe(false);
    expect((await waState(store).waOutbound.get('o-1'))).toMatchObject({ status: 'sending', attempts: 2 });
    expect(await state.outbound.markSent('o-1', at, 2)).toBe(true);
    expect(await state.outbound.markSent('o-1', at, 2)).toBe(false);
    expect((await waState(store).waOutbound.get('o-1'))).toMatchObject({ status: 'sent', sentAt: at });
  });

  it('refuses chat ids WhatsApp cannot deliver to at send time, without queueing; accepts phones, phone JIDs and LIDs', async () => {
    const { bot, sock } = await connectedBot();
    for (const bad of ['status@broadcast', 'abc', 'abc@g.us', '123@newsletter', 'abc@s.whatsapp.net', '']) {
      await expect(bot.send(bad, 'x')).rejects.toMatchObject({ code: ErrorCode.Validation, message: expect.stringContaining('not a WhatsApp chat to send to') });
    }
    await expect(bot.promptApproval('abc', { approvalId: 'a', code: 'K7WQ2M', branchName: 'B', actionType: 'refund', summary: 's', riskLevel: 'low', requester: 'r', expiresAt: '2026-03-02T12:00:00.000Z' })).rejects.toMatchObject({ code: ErrorCode.Validation });
    expect(await waState(store).waOutbound.count({ agentId: 'wa-gov' })).toBe(0);
    const sends = ['+351 960 000 002', '351960000002:7@s.whatsapp.net', '80000000000077@lid'].map((chat) => bot.send(chat, chat));
    await clock.advance(5000);
    expect((await Promise.all(sends)).map((r) => r.chatId)).toEqual([CUSTOMER, CUSTOMER, '80000000000077@lid']);
    expect(sock.sent.map((s) => s.message.key.remoteJid)).toEqual([CUSTOMER, CUSTOMER, '80000000000077@lid']);
  });

  it('sends to a group (a staff or ops group) even when the agent does not answer customers in groups', async () => {
    const { bot, sock } = await connectedBot();
    const sent = bot.send('120363000000000001@g.us', 'hello group');
    await clock.advance(10);
    expect((await sent).chatId).toBe('120363000000000001@g.us');
    expect(sock.texts('120363000000000001@g.us')).toEqual(['hello group']);
  });

  it('pauses with backoff on rate-overlimit (as Baileys throws it: data 429, status 500), then sends', async () => {
    const { bot, sock } = await connectedBot();
    const error = rateOverlimit();
    expect(error).toMatchObject({ message: 'rate-overlimit', data: 429, output: { statusCode: 500 } });
    sock.failNext.push(error);
    const sent = bot.send(CUSTOMER, 'hello');
    await clock.advance(29_000);
    expect(sock.texts()).toEqual([]);
    expect(logs.some((e) => String(e.message).startsWith('WhatsApp answered rate-overlimit; pausing sends for 30 s'))).toBe(true);
    await clock.advance(2000);
    expect(sock.texts()).toEqual(['hello']);
    await sent;
  });

  it('forgets sent rows and stored messages after 7 days, keeping approval prompts and anything not yet sent', async () => {
    const day = 24 * 60 * 60_000;
    const ago = (days: number) => new Date(clock.now() - days * day).toISOString();
    const row = (id: string, status: 'sent' | 'failed' | 'queued', days: number) =>
      waState(store).waOutbound.insert({ id, agentId: 'wa-gov', chatId: CUSTOMER, content: '{}', status, attempts: 1, createdAt: ago(days), notBefore: ago(days), keyId: id, ...(status === 'sent' ? { sentAt: ago(days) } : {}) });
    await Promise.all([row('old-sent', 'sent', 8), row('recent-sent', 'sent', 6), row('old-failed', 'failed', 8), row('old-queued', 'queued', 8)]);
    await waState(store).waOutbound.update('old-queued', { notBefore: ago(-1) }); // not due during this test
    const message = (keyId: string, days: number, approvalId?: string) =>
      waState(store).waMessages.put({ id: `wa-gov:${keyId}:me`, agentId: 'wa-gov', remoteJid: CUSTOMER, keyId, fromMe: true, message: '{}', at: ago(days), ...(approvalId ? { approvalId, approvalCode: 'K7WQ2M' } : {}) });
    await Promise.all([message('m-old', 8), message('m-recent', 6), message('m-old-prompt', 30, 'apr-1')]);
    await connectedBot();
    await clock.advance(10);
    const rows = await waState(store).waOutbound.find({ where: { agentId: 'wa-gov' } });
    expect(rows.map((r) => r.id).sort()).toEqual(['old-queued', 'recent-sent']);
    const messages = await waState(store).waMessages.find({ where: { agentId: 'wa-gov' } });
    expect(messages.map((m) => m.keyId).sort()).toEqual(['m-old-prompt', 'm-recent']);
  });

  it('refuses beyond the daily cap with a rate_limited error, and refuses while disconnected', async () => {
    const { bot, sock } = await connectedBot({ dailyCap: 2 });
    const two = [bot.send(CUSTOMER, '1'), bot.send(CUSTOMER, '2')];
    await clock.advance(3000);
    await Promise.all(two);
    const third = await bot.send(CUSTOMER, '3').catch((e: unknown) => e);
    expect(third).toBeInstanceOf(CodedError);
    expect(third).toMatchObject({ code: ErrorCode.RateLimited });
    // A day later the window has room again.
    await clock.advance(24 * 60 * 60_000);
    const later = bot.send(CUSTOMER, '3');
    await clock.advance(10);
    await later;
    expect(sock.texts()).toEqual(['1', '2', '3']);
    sock.close(408);
    expect(await bot.send(CUSTOMER, 'x').catch((e: unknown) => e)).toMatchObject({ code: ErrorCode.DeliveryFailed });
  });

  it('a message given up after its retries fails the waiting caller with delivery_failed', async () => {
    const { bot, sock } = await connectedBot({ sendWaitMs: 60 * 60_000 });
    for (let i = 0; i < 5; i++) sock.failNext.push(new Error('connection reset'));
    const waiting = bot.send(CUSTOMER, 'lost').catch((e: unknown) => e);
    await clock.advance(10 * 60_000);
    expect(await waiting).toMatchObject({ code: ErrorCode.DeliveryFailed, message: 'WhatsApp did not take the message: connection reset' });
  });

  it('a message given up after its caller stopped waiting is logged, and leaves no unhandled rejection', async () => {
    // The caller stops waiting after 1 s; the give-up comes minutes later, with no one to tell but the log.
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const second = await connectedBot({ sendWaitMs: 1000 });
      for (let i = 0; i < 5; i++) second.sock.failNext.push(new Error('connection reset'));
      const ref = second.bot.send(CUSTOMER, 'later');
      await clock.advance(1000);
      expect((await ref).messageId).toEqual(expect.any(String));
      await clock.advance(10 * 60_000);
      await settle();
      expect(logs.filter((e) => e.message === 'WhatsApp send failed 5 times; giving up')).toHaveLength(1);
      await new Promise((r) => setImmediate(r));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
