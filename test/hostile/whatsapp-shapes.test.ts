import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { UserFacingSocketConfig, WAMessage } from '@whiskeysockets/baileys';
import type { BotEvent, ProbeResult } from '../../src/bots/bot-agent.js';
import type { DecisionRequest } from '../../src/bots/channel-registry.js';
import { WhatsAppBot, type WhatsAppAgentConfig } from '../../src/bots/whatsapp/whatsapp-bot.js';
import { MAX_INBOUND_TEXT } from '../../src/bots/whatsapp/whatsapp-inbound.js';
import { whatsAppStateStore } from '../helpers/whatsapp-state.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/store.js';
import { OUR_JID, OUR_LID, phoneText, standInSockets, type BaileysStandIn } from '../helpers/baileys-stand-in.js';
import { settle } from '../helpers/manual-clock.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';
import { watchProcessFaults } from './process-faults.js';
import { connectionUpdateArb, contentArb, credsUpdateArb, expandBig, jidArb, keyArb, timestampArb, upsertArb, type KnownIds } from './whatsapp-arbitraries.js';

/**
 * The WhatsApp adapter under hostile Baileys events, through the socket
 * stand-in: `messages.upsert` payloads shaped like WAMessage (near-valid and
 * not), `connection.update` and `creds.update`. Whatever arrives, nothing
 * escapes the event handlers (no unhandled rejection or uncaught exception on
 * the real process), every BotEvent emitted is well-formed, only the prompted
 * manager's number can decide, and the bot keeps receiving and answering its
 * probe. A valid "sentinel" message sent after each hostile batch is the
 * barrier: once it is emitted, everything before it was handled.
 */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 20);
const ANA = '351910000001';
const ANA_JID = `${ANA}@s.whatsapp.net`;
const ANA_LID = '70000000000011@lid';

type Handler = (arg: unknown) => void;

/** The stand-in's sockets, with the bot's event handlers kept so any payload (not only well-typed ones) can be delivered to them. */
function tappedSockets() {
  const base = standInSockets({ autoOpen: true });
  const handlers = new WeakMap<BaileysStandIn, Map<string, Handler[]>>();
  return {
    ...base,
    makeSocket: (config: UserFacingSocketConfig) => {
      const sock = base.makeSocket(config);
      const mine = new Map<string, Handler[]>();
      handlers.set(sock, mine);
      const on = sock.ev.on;
      sock.ev.on = ((event: string, listener: Handler) => {
        mine.set(event, [...(mine.get(event) ?? []), listener]);
        return on(event as 'messages.upsert', listener as never);
      }) as typeof sock.ev.on;
      return sock;
    },
    /** Delivers `payload` as Baileys' event emitter would: to each handler, synchronously. */
    emit: (sock: BaileysStandIn, event: string, payload: unknown) => {
      for (const listener of handlers.get(sock)?.get(event) ?? []) listener(payload);
    },
  };
}

/**
 * A BotEvent as consumers rely on it. `passThrough`: the event relays fields of
 * a `connection.update` that Baileys builds itself (a QR is always a string
 * there), so only who it is from and its kind are checked.
 */
function expectWellFormed(e: BotEvent, agentId: string, passThrough = false): void {
  const where = JSON.stringify(e, (_k, v: unknown) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…(${v.length})` : v));
  const shape = (() => {
    const problems: string[] = [];
    const optionalString = (v: unknown, name: string) => v === undefined || typeof v === 'string' || problems.push(`${name} is ${typeof v}`);
    if (e.type === 'message') {
      const m = e.message;
      if (m.agentId !== agentId) problems.push('agentId is not this bot');
      if (m.channel !== 'whatsapp') problems.push('channel');
      if (typeof m.chatId !== 'string' || m.chatId.length === 0) problems.push('chatId empty or not a string');
      if (typeof m.senderId !== 'string' || m.senderId.length === 0) problems.push('senderId empty or not a string');
      if (typeof m.text !== 'string' || m.text.length === 0 || m.text.length > MAX_INBOUND_TEXT + 1) problems.push('text empty, not a string or over the cap');
      if (typeof m.at !== 'string' || Number.isNaN(Date.parse(m.at)) || new Date(m.at).toISOString() !== m.at) problems.push('at is not an ISO time');
      for (const f of ['senderName', 'messageId', 'replyToMessageId', 'senderPhone'] as const) optionalString(m[f], f);
      if (m.senderPhone !== undefined && !/^\d+$/.test(m.senderPhone)) problems.push('senderPhone is not digits');
      if (m.group !== undefined && typeof m.group !== 'boolean') problems.push('group not boolean');
    } else if (e.type === 'pairing' || e.type === 'connection') {
      if (e.agentId !== agentId) problems.push('agentId is not this bot');
      if (e.type === 'pairing' && !passThrough) {
        optionalString(e.qr, 'qr');
        if (e.pairingCode !== null) optionalString(e.pairingCode, 'pairingCode');
      }
      if (e.type === 'connection') {
        if (e.state !== 'open' && e.state !== 'closed') problems.push('state');
        if (!passThrough) optionalString(e.detail, 'detail');
      }
    } else problems.push('unknown event type');
    return problems;
  })();
  expect({ where, problems: shape }).toEqual({ where, problems: [] });
}

function errorText(error: unknown): string {
  if (error === undefined) return '';
  const e = error as { stack?: unknown; message?: unknown };
  return String(e.stack ?? e.message ?? JSON.stringify(error));
}

async function probeAnswers(bot: WhatsAppBot): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([bot.probe(), new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 5000)))]).finally(() => clearTimeout(timer));
  expect(result).not.toBe('hung');
  const probe = result as ProbeResult;
  expect(typeof probe.ok).toBe('boolean');
  expect(probe.detail === undefined || typeof probe.detail === 'string').toBe(true);
  return probe;
}

describe('hostile input: WhatsApp messages.upsert shapes', () => {
  const sockets = tappedSockets();
  const events: BotEvent[] = [];
  const decisions: DecisionRequest[] = [];
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let bot: WhatsAppBot;
  let logs: Array<Record<string, unknown>>;
  let known: KnownIds;
  let sentinels = 0;

  beforeAll(async () => {
    dir = tempDir('hostile-wa-');
    store = SqliteStore.open({ dataDir: dir.path });
    const memory = memoryLogger();
    logs = memory.entries;
    const config: WhatsAppAgentConfig = { id: 'wa-hostile', groups: true, minGapMs: 200, jitterMs: 0, reconnectBaseMs: 10, reconnectMaxMs: 50 };
    bot = new WhatsAppBot(config, { logger: memory.logger, env: {}, decide: async (r) => (decisions.push(r), { ok: true, text: `Decided ${r.approvalId}.` }) }, { state: whatsAppStateStore(store, 'wa-hostile'), makeSocket: sockets.makeSocket });
    bot.onEvent((e) => events.push(e));
    await bot.start();
    await until('the number connected', async () => (await bot.probe()).ok);
    sockets.latest().lids.set(ANA_LID, `${ANA}:3@s.whatsapp.net`);
    // A real prompt (text + poll, stored), so hostile votes and quotes can name a poll and a code that exist.
    const poll = await bot.promptApproval(ANA_JID, { approvalId: 'appr-1', code: 'K3Q7WX', branchName: 'Lisboa', actionType: 'refund', summary: 'Refund 10 EUR', riskLevel: 'critical', requester: 'refunds', expiresAt: '2030-01-01T00:00:00.000Z' });
    const text = sockets.latest().sent.map((s) => s.message).find((m) => (m.message?.extendedTextMessage?.text ?? m.message?.conversation)?.includes('K3Q7WX'));
    known = { pollIds: [poll.messageId, text?.key.id ?? 'none'], codes: ['K3Q7WX'], jids: [ANA_JID, ANA_LID, OUR_JID, OUR_LID, `${ANA}:3@s.whatsapp.net`] };
  });
  afterAll(async () => {
    await bot.stop();
    await store.close();
    dir.cleanup();
  });

  /** Delivers a hostile payload, then a valid message from a fresh sender; resolves with the events emitted up to and including that sentinel. */
  async function deliver(payload: { messages: unknown; type: unknown }): Promise<BotEvent[]> {
    const n = ++sentinels;
    const sentinel = phoneText({ jid: `35193${String(n).padStart(7, '0')}@s.whatsapp.net`, pushName: 'Sentinel' }, `sentinel ${n}`);
    const from = events.length;
    const sock = sockets.latest();
    // One batch is handled in order, so a sentinel at its end is a barrier; a batch the bot ignores is followed by a batch of its own.
    if (payload.type === 'notify' && Array.isArray(payload.messages)) sockets.emit(sock, 'messages.upsert', { messages: [...payload.messages, sentinel], type: 'notify' });
    else {
      sockets.emit(sock, 'messages.upsert', payload);
      sockets.emit(sock, 'messages.upsert', { messages: [sentinel], type: 'notify' });
    }
    const isSentinel = (e: BotEvent) => e.type === 'message' && e.message.text === `sentinel ${n}`;
    await until(`sentinel ${n} emitted (the bot still receives)`, () => events.slice(from).some(isSentinel), 10_000);
    return events.slice(from);
  }

  async function check(payload: { messages: unknown; type: unknown }): Promise<void> {
    const watch = watchProcessFaults();
    const errorsBefore = logs.filter((e) => e.level === 'error').length;
    try {
      const emitted = await deliver(expandBig(payload) as { messages: unknown; type: unknown });
      for (const e of emitted) expectWellFormed(e, 'wa-hostile');
      await probeAnswers(bot);
      // Only the number the prompt was sent to can decide, whatever the message claims.
      for (const d of decisions) expect({ decider: d.deciderId, approvalId: d.approvalId }).toEqual({ decider: ANA, approvalId: expect.any(String) });
      await settle();
      expect(watch.faults.map((f) => `${f.kind}: ${String((f.error as Error)?.stack ?? f.error)}`)).toEqual([]);
      // Malformed input is skipped quietly: nothing reaches the error level (which alerts and counts in /metrics).
      const errors = logs.filter((e) => e.level === 'error').slice(errorsBefore);
      expect(errors.map((e) => `${String(e.message)} ${errorText(e.error)}`.slice(0, 600))).toEqual([]);
    } finally {
      watch.stop();
    }
  }

  it('any messages.upsert payload: handled without escaping, well-formed events only, the bot keeps receiving and answering its probe', async () => {
    await fc.assert(fc.asyncProperty(upsertArb(known), (payload) => check(payload)), { numRuns: RUNS * 3 });
  }, 30_000 + RUNS * 500);

  it('poll votes (pollUpdateMessage) for unknown, hostile or our own poll with a forged payload are ignored: no decision, no message event', async () => {
    const vote = fc.record({
      key: keyArb(known),
      message: contentArb(known).filter((c) => fc.stringify(c).includes('pollUpdateMessage')),
      messageTimestamp: timestampArb,
    });
    const ourPollVote = fc.record({ remoteJid: jidArb(known), participant: jidArb(known) }, { requiredKeys: [] }).chain((key) =>
      fc.record({
        key: fc.constant({ ...key, fromMe: false, id: 'VOTE1' }),
        message: fc.record({ pollUpdateMessage: fc.record({ pollCreationMessageKey: fc.constant({ remoteJid: ANA_JID, fromMe: true, id: known.pollIds[0] }), vote: fc.record({ encPayload: fc.uint8Array({ maxLength: 80 }), encIv: fc.uint8Array({ minLength: 12, maxLength: 12 }) }), senderTimestampMs: timestampArb }) }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(vote, ourPollVote), { minLength: 1, maxLength: 4 }), async (votes) => {
        const before = decisions.length;
        const emitted = await deliver({ messages: expandBig(votes), type: 'notify' });
        expect(decisions.length).toBe(before);
        expect(emitted.filter((e) => e.type !== 'message' || !e.message.text.startsWith('sentinel '))).toEqual([]);
        await check({ messages: [], type: 'notify' });
      }),
      { numRuns: RUNS * 2 },
    );
  }, 30_000 + RUNS * 500);

  it('after all of it, a customer message still arrives and the probe is ok', async () => {
    const from = events.length;
    sockets.latest().receive(phoneText({ jid: '351930000042@s.whatsapp.net', pushName: 'Rita' }, 'Olá, a que horas abrem?') as WAMessage);
    await until('the customer message', () => events.slice(from).find((e) => e.type === 'message' && e.message.text === 'Olá, a que horas abrem?'));
    expect(await bot.probe()).toMatchObject({ ok: true });
  });
});

describe('hostile input: WhatsApp connection.update and creds.update shapes', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let n = 0;
  beforeAll(() => {
    dir = tempDir('hostile-wa-conn-');
    store = SqliteStore.open({ dataDir: dir.path });
  });
  afterAll(async () => {
    await store.close();
    dir.cleanup();
  });

  it('any sequence of connection.update / creds.update payloads: nothing escapes, events well-formed, the probe answers, an open bot still receives', async () => {
    const update = fc.oneof(connectionUpdateArb.map((u) => ['connection.update', u] as const), credsUpdateArb.map((c) => ['creds.update', c] as const));
    await fc.assert(
      fc.asyncProperty(fc.array(update, { minLength: 1, maxLength: 6 }), fc.boolean(), async (updates, withPhone) => {
        const id = `wa-conn-${++n}`;
        const sockets = tappedSockets();
        const memory = memoryLogger();
        const events: BotEvent[] = [];
        const config: WhatsAppAgentConfig = { id, reconnectBaseMs: 10, reconnectMaxMs: 50, ...(withPhone ? { phone: '+351210000001' } : {}) };
        const bot = new WhatsAppBot(config, { logger: memory.logger, env: {} }, { state: whatsAppStateStore(store, id), makeSocket: sockets.makeSocket });
        bot.onEvent((e) => events.push(e));
        const watch = watchProcessFaults();
        try {
          await bot.start();
          await until('the number connected', async () => (await bot.probe()).ok);
          for (const [event, payload] of updates) {
            sockets.emit(sockets.latest(), event, expandBig(payload));
            await settle();
          }
          const probe = await probeAnswers(bot);
          if (probe.ok) {
            const from = events.length;
            sockets.latest().receive(phoneText({ jid: '351930000043@s.whatsapp.net' }, `still here ${id}`) as WAMessage);
            await until('a message after the updates', () => events.slice(from).some((e) => e.type === 'message' && e.message.text === `still here ${id}`), 10_000);
          }
          for (const e of events) expectWellFormed(e, id, true);
          await settle();
          expect(watch.faults.map((f) => `${f.kind}: ${String((f.error as Error)?.stack ?? f.error)}`)).toEqual([]);
          // Baileys builds these payloads itself (always an object, a string QR): one it could not produce may be refused loudly,
          // but only as the contained "event handling failed" (the containment policy), never by stopping the bot.
          const errors = memory.entries.filter((e) => e.level === 'error' && !/^WhatsApp agent .* (needs pairing|stopped)/.test(String(e.message)) && e.message !== 'WhatsApp event handling failed');
          expect(errors.map((e) => `${String(e.message)} ${errorText(e.error)}`.slice(0, 600))).toEqual([]);
        } finally {
          watch.stop();
          await bot.stop();
        }
      }),
      { numRuns: RUNS },
    );
  }, 30_000 + RUNS * 1000);
});
