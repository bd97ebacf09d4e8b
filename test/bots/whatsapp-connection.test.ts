import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { BotEvent } from '../../src/bots/bot-agent.js';
import { WhatsAppBot, type WhatsAppAgentConfig } from '../../src/bots/whatsapp/whatsapp-bot.js';
import type { WhatsAppState } from '../../src/bots/whatsapp/whatsapp-state.js';
import { waState, whatsAppStateStore } from '../helpers/whatsapp-state.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/store.js';
import { OUR_PHONE, phoneText, standInSockets } from '../helpers/baileys-stand-in.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('WhatsApp connection: pairing, reconnect by reason, health', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let clock: ManualClock;
  let bot: WhatsAppBot;
  let sockets: ReturnType<typeof standInSockets>;
  let events: BotEvent[];
  let logs: Array<Record<string, unknown>>;

  const make = async (config: Partial<WhatsAppAgentConfig> = {}, state: WhatsAppState = whatsAppStateStore(store, 'wa-1')) => {
    const memory = memoryLogger();
    logs = memory.entries;
    bot = new WhatsAppBot({ id: 'wa-1', reconnectBaseMs: 1000, reconnectMaxMs: 8000, activityWindowMs: 90_000, ...config }, { logger: memory.logger, env: {} }, {
      state,
      makeSocket: sockets.makeSocket,
      clock,
      random: () => 0.5,
    });
    bot.onEvent((e) => events.push(e));
    await bot.start();
    return sockets.latest();
  };

  beforeEach(() => {
    dir = tempDir('wa-conn-');
    store = SqliteStore.open({ dataDir: dir.path });
    clock = new ManualClock();
    sockets = standInSockets({ now: () => clock.now() });
    events = [];
  });
  afterEach(async () => {
    await bot.stop();
    await store.close();
    dir.cleanup();
  });

  it('pairs: QR and pairing code as events and log lines; the 515 restart after pairing is silent; paired marks it up', async () => {
    const sock = await make({ phone: '+351210000001' });
    sock.update({ connection: 'connecting', qr: '2@first-qr' });
    await clock.advance(0);
    expect(sock.pairingRequests).toEqual(['351210000001']);
    // Like Baileys: requesting a code makes the bare phone JID our `me` (saved), though nothing is paired yet.
    expect(sock.config.auth.creds.me).toEqual({ id: '351210000001@s.whatsapp.net', name: '~' });
    expect(events).toEqual([
      { type: 'pairing', agentId: 'wa-1', qr: '2@first-qr' },
      { type: 'pairing', agentId: 'wa-1', pairingCode: 'K7WQ2M9P' },
    ]);
    expect(logs.some((e) => String(e.message).includes('pairing code: K7WQ2M9P'))).toBe(true);
    expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: true, detail: expect.stringMatching(/^needs pairing: enter the pairing code K7WQ2M9P/) });
    sock.update({ qr: '2@second-qr' });
    await clock.advance(0);
    expect(events.at(-1)).toEqual({ type: 'pairing', agentId: 'wa-1', qr: '2@second-qr' });
    expect(sock.pairingRequests).toHaveLength(1);

    // The phone scanned: Baileys saves the new creds, reports a new login, then closes with 515 (restart required).
    sock.pairSuccess();
    await clock.advance(0);
    expect(sockets.sockets).toHaveLength(2);
    expect(logs.filter((e) => e.level === 'warn' && /disconnected/.test(String(e.message)))).toEqual([]);
    // The new socket logs in as the paired device, and WhatsApp accepts it.
    expect(sockets.latest().loggingIn).toBe(true);
    sockets.latest().answer();
    await clock.advance(0);
    expect(events.slice(-2)).toEqual([
      { type: 'connection', agentId: 'wa-1', state: 'open', detail: '+351210000001' },
      { type: 'pairing', agentId: 'wa-1', paired: true },
    ]);
    expect(await bot.probe()).toMatchObject({ ok: true, detail: 'connected as +351210000001' });
  });

  it('a pairing code never entered does not poison the next socket: it registers again (new QR and code) instead of a login WhatsApp refuses', async () => {
    const sock = await make({ phone: '+351210000001' });
    sock.answer('2@first');
    await clock.advance(0);
    expect(sock.pairingRequests).toEqual(['351210000001']);
    expect(await waState(store).waAuth.count({ agentId: 'wa-1', type: 'creds' })).toBe(1);
    // Nobody typed the code; the QRs run out (Baileys closes with 408) and the bot reconnects.
    sock.close(408);
    await clock.advance(1000);
    expect(sockets.sockets).toHaveLength(2);
    const next = sockets.latest();
    expect(next.loggingIn).toBe(false);
    next.answer('2@second');
    await clock.advance(0);
    expect(next.pairingRequests).toEqual(['351210000001']);
    expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: true, detail: expect.stringMatching(/^needs pairing: enter the pairing code/) });
    // A new process reads the saved creds: it registers too.
    next.close(408);
    await bot.stop();
    await bot.start();
    expect(sockets.latest().loggingIn).toBe(false);
    sockets.latest().answer('2@third');
    await clock.advance(0);
    // Now the manager types the code: registered, paired, restarted (515), logged in.
    sockets.latest().enterPairingCode();
    await clock.advance(0);
    expect(sockets.latest().loggingIn).toBe(true);
    expect(sockets.latest().config.auth.creds.registered).toBe(true);
    sockets.latest().answer();
    await clock.advance(0);
    expect(events.at(-1)).toEqual({ type: 'pairing', agentId: 'wa-1', paired: true });
    expect(await bot.probe()).toMatchObject({ ok: true });
  });

  it('stops asking for pairing codes after 3 unused ones (each notifies the phone); QRs go on, the stale code is withdrawn, a restart allows more', async () => {
    await make({ phone: '+351210000001' });
    for (let i = 0; i < 5; i++) {
      sockets.latest().answer(`2@qr-${i}`);
      await clock.advance(0);
      sockets.latest().close(408);
      await clock.advance(10_000);
    }
    const requests = () => sockets.sockets.flatMap((s) => s.pairingRequests);
    expect(requests()).toHaveLength(3);
    expect(events.filter((e) => e.type === 'pairing' && e.pairingCode === null)).toHaveLength(1);
    expect(events.filter((e) => e.type === 'pairing' && e.qr)).toHaveLength(5);
    expect(logs.filter((e) => /3 pairing codes went unused/.test(String(e.message)))).toHaveLength(1);
    sockets.latest().answer('2@qr-5');
    await clock.advance(0);
    expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: true, detail: 'needs pairing: scan the QR on the dashboard with WhatsApp > Linked devices' });
    await bot.stop();
    await bot.start();
    sockets.latest().answer('2@qr-after-restart');
    await clock.advance(0);
    expect(requests()).toHaveLength(4);
  });

  it('the 515 after pairing reconnects with the creds just registered, even before their write reached the store', async () => {
    const state = whatsAppStateStore(store, 'wa-1');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const slow: WhatsAppState = { ...state, auth: { ...state.auth, write: async (entries) => (await gate, state.auth.write(entries)) } };
    const sock = await make({}, slow);
    sock.update({ qr: '2@qr' });
    sock.pairSuccess();
    await clock.advance(0);
    expect(sockets.sockets).toHaveLength(2);
    // The new socket logs in as the paired device, not as a fresh, unpaired one.
    expect(sockets.latest().config.auth.creds.me?.id).toBe(`${OUR_PHONE}:12@s.whatsapp.net`);
    expect(sockets.latest().config.auth.creds.noiseKey).toBe(sock.config.auth.creds.noiseKey);
    release();
    await clock.advance(0);
    expect(await state.auth.read('creds', ['creds'])).toEqual({ creds: expect.stringContaining(`${OUR_PHONE}:12@s.whatsapp.net`) });
  });

  it('transient closes (408, 428, 503) reconnect with exponential backoff; each close is a connection event with its reason', async () => {
    let sock = await make();
    sock.open();
    for (const [i, code] of [408, 428, 503].entries()) {
      sock.close(code);
      await clock.advance(0);
      expect(events.at(-1)).toMatchObject({ type: 'connection', state: 'closed', detail: expect.stringContaining(`(${code})`) });
      expect(await bot.probe()).toMatchObject({ ok: false, reconnecting: true, detail: expect.stringMatching(new RegExp(`^disconnected: .*\\(${code}\\) at .*; reconnecting`)) });
      const delay = 1000 * 2 ** i;
      await clock.advance(delay - 1);
      expect(sockets.sockets).toHaveLength(i + 1);
      await clock.advance(1);
      expect(sockets.sockets).toHaveLength(i + 2);
      sock = sockets.latest();
    }
    sock.open();
    await clock.advance(60_000);
    expect(await bot.probe()).toMatchObject({ ok: true });
    // A connection that stayed open for a minute resets the backoff.
    sock.close(428);
    await clock.advance(1000);
    expect(sockets.sockets).toHaveLength(5);
  });

  it('a connection that opens and is closed at once keeps backing off (no reconnect every second while it flaps)', async () => {
    const sock = await make();
    sock.open();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const count = sockets.sockets.length;
      sockets.latest().close(428);
      let waited = 0;
      while (sockets.sockets.length === count) {
        await clock.advance(250);
        waited += 250;
      }
      delays.push(waited);
      sockets.latest().open();
      await clock.advance(0);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(sock.ended).toBe(true);
  });

  it('replaced (440): stops and asks a person, no reconnect', async () => {
    const sock = await make();
    sock.open();
    sock.close(440);
    await clock.advance(600_000);
    expect(sockets.sockets).toHaveLength(1);
    expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: true, detail: expect.stringMatching(/replaced by another session \(440\).*another WhatsApp session took over/) });
  });

  it('logged out (401) or forbidden (403): clears the stored session, needs pairing, no loop; a restart shows a fresh QR', async () => {
    for (const code of [401, 403]) {
      const sock = await make();
      sock.open();
      await clock.advance(0);
      expect(await waState(store).waAuth.count({ agentId: 'wa-1', type: 'creds' })).toBe(1);
      sock.close(code);
      await clock.advance(600_000);
      expect(sockets.sockets.filter((s) => !s.ended)).toHaveLength(0);
      expect(await waState(store).waAuth.count({ agentId: 'wa-1', type: 'creds' })).toBe(0);
      expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: true, detail: expect.stringMatching(new RegExp(`^needs pairing: .*\\(${code}\\).*POST /api/agents/wa-1/restart`)) });
      await bot.stop();
      await bot.start();
      expect(sockets.latest().loggingIn).toBe(false);
      const creds = sockets.latest().config.auth.creds;
      expect([creds.registered, creds.me, creds.account]).toEqual([false, undefined, undefined]);
      await bot.stop();
    }
  });

  it('after the session is cleared, the old socket cannot write its keys into it', async () => {
    const sock = await make();
    sock.open();
    await clock.advance(0);
    const oldKeys = sock.config.auth.keys;
    sock.close(401);
    await clock.advance(0);
    expect(await waState(store).waAuth.count({ agentId: 'wa-1', type: { ne: 'lease' } })).toBe(0);
    // Baileys finishing work on the closed socket (a LID migration, pre-keys) after the clear:
    await oldKeys.set({ session: { '351910000001.0': Buffer.from('stale') }, 'pre-key': { '7': { public: Buffer.alloc(32), private: Buffer.alloc(32) } } });
    await clock.advance(0);
    expect(await waState(store).waAuth.count({ agentId: 'wa-1', type: { ne: 'lease' } })).toBe(0);
  });

  it('a bad session (500) resets keys: the old socket cannot write into the new session either', async () => {
    const sock = await make();
    sock.open();
    await clock.advance(0);
    const oldKeys = sock.config.auth.keys;
    sock.close(500);
    await clock.advance(0);
    expect(sockets.sockets).toHaveLength(2);
    await oldKeys.set({ session: { '351910000001.0': Buffer.from('stale') } });
    await clock.advance(0);
    expect(await waState(store).waAuth.count({ agentId: 'wa-1', type: 'session' })).toBe(0);
  });

  it('bad session (500) and mismatch (411): keys reset and a new pairing starts at once', async () => {
    for (const code of [500, 411]) {
      const sock = await make();
      sock.open();
      await clock.advance(0);
      const before = sockets.sockets.length;
      const oldNoise = Buffer.from(sock.config.auth.creds.noiseKey.private).toString('hex');
      sock.close(code);
      await clock.advance(0);
      expect(sockets.sockets).toHaveLength(before + 1);
      expect(Buffer.from(sockets.latest().config.auth.creds.noiseKey.private).toString('hex')).not.toBe(oldNoise);
      sockets.latest().update({ qr: '2@new' });
      await clock.advance(0);
      expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: true, detail: expect.stringMatching(/^needs pairing/) });
      await bot.stop();
    }
  });

  it('a bad session that keeps coming back is retried with backoff, not in a tight loop', async () => {
    const sock = await make();
    sock.open();
    sock.close(500);
    await clock.advance(0);
    expect(sockets.sockets).toHaveLength(2);
    sockets.latest().close(500);
    await clock.advance(0);
    expect(sockets.sockets).toHaveLength(2);
    await clock.advance(1000);
    expect(sockets.sockets).toHaveLength(3);
    sockets.latest().close(411);
    await clock.advance(1999);
    expect(sockets.sockets).toHaveLength(3);
    await clock.advance(1);
    expect(sockets.sockets).toHaveLength(4);
  });

  it('a connection attempt the store makes fail is retried with backoff; a start that fails leaves nothing running', async () => {
    const state = whatsAppStateStore(store, 'wa-1');
    let failures = 0;
    const flaky: WhatsAppState = {
      ...state,
      auth: { ...state.auth, clear: async () => (failures-- > 0 ? Promise.reject(new Error('store unreachable')) : state.auth.clear()) },
    };
    const sock = await make({}, flaky);
    sock.open();
    failures = 1;
    sock.close(500); // reset the keys: the clear fails once
    await clock.advance(0);
    expect(sockets.sockets).toHaveLength(1);
    expect(logs.some((e) => /^WhatsApp could not connect; retrying in 2000 ms$/.test(String(e.message)))).toBe(true);
    await clock.advance(1999);
    expect(sockets.sockets).toHaveLength(1);
    await clock.advance(1);
    expect(sockets.sockets).toHaveLength(2);
    await bot.stop();

    // A start whose first connection fails throws, and gives the lease back (a restart can then succeed).
    const failing: WhatsAppState = { ...state, auth: { ...state.auth, read: () => Promise.reject(new Error('store unreachable')) } };
    await expect(make({}, failing)).rejects.toThrow('store unreachable');
    expect(await state.lease.acquire('someone-else', 60_000, clock.now())).toEqual({ ok: true });
    await state.lease.release('someone-else');
    await clock.advance(120_000);
    expect(sockets.sockets).toHaveLength(2);
  });

  it('health: an open socket with no activity within the window is not ok; activity makes it ok again', async () => {
    const sock = await make({ activityWindowMs: 60_000 });
    sock.open();
    await clock.advance(61_000);
    expect(await bot.probe()).toMatchObject({ ok: false, detail: 'socket open but nothing received for 61 s' });
    sock.receive(phoneText({ jid: '351960000002@s.whatsapp.net' }, 'hi'));
    await clock.advance(0);
    expect(await bot.probe()).toMatchObject({ ok: true });
  });
});
