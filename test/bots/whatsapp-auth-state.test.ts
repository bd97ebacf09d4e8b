import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { proto, type AuthenticationCreds, type SignalDataSet } from '@whiskeysockets/baileys';
import { randomBytes } from 'node:crypto';
import { baileysLogger } from '../../src/bots/whatsapp/baileys-logger.js';
import { NumberLease } from '../../src/bots/whatsapp/number-lease.js';
import type { LeaseStore } from '../../src/bots/whatsapp/whatsapp-state.js';
import { loadAuthState, SIGNAL_KEY_TYPES } from '../../src/bots/whatsapp/store-auth-state.js';
import { whatsappChannel } from '../../src/bots/whatsapp/whatsapp-channel.js';
import { WhatsAppBot } from '../../src/bots/whatsapp/whatsapp-bot.js';
import { waState, whatsAppStateStore } from '../helpers/whatsapp-state.js';
import { CodedError, ErrorCode } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/store.js';
import { standInSockets } from '../helpers/baileys-stand-in.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('WhatsApp auth state in the file store', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  const { logger } = memoryLogger();
  const blog = baileysLogger(logger);

  beforeEach(() => {
    dir = tempDir('wa-auth-');
    store = SqliteStore.open({ dataDir: dir.path });
  });
  afterEach(async () => {
    await store.close();
    dir.cleanup();
  });

  const reopen = async () => {
    await store.close();
    store = SqliteStore.open({ dataDir: dir.path });
    return whatsAppStateStore(store, 'wa-1');
  };

  it('writes creds and every signal key type, and reads identical buffers after reopening', async () => {
    const first = await loadAuthState(whatsAppStateStore(store, 'wa-1').auth, blog);
    const creds = first.state.creds;
    creds.me = { id: '351210000001:12@s.whatsapp.net', lid: '90000000000001:12@lid', name: 'Branch' };
    creds.registered = true;
    const keyPair = { public: randomBytes(32), private: randomBytes(32) };
    const data: SignalDataSet = {
      'pre-key': { '1': keyPair },
      session: { '351910000001.0': randomBytes(120) },
      'sender-key': { 'group@g.us::351910000001::0': randomBytes(80) },
      'sender-key-memory': { 'group@g.us': { '351910000001:0@s.whatsapp.net': true } },
      'app-state-sync-key': { AAAAAQ: proto.Message.AppStateSyncKeyData.fromObject({ keyData: randomBytes(32), fingerprint: { rawId: 7, currentIndex: 1, deviceIndexes: [0, 1] }, timestamp: 1700000000 }) },
      'app-state-sync-version': { regular: { version: 4, hash: randomBytes(128), indexValueMap: { abc: { valueMac: randomBytes(32) } } } },
      'lid-mapping': { '351910000001': '70000000000011', '70000000000011_reverse': '351910000001' },
      'device-list': { '351910000001': ['0', '3'] },
      tctoken: { '351910000001@s.whatsapp.net': { token: randomBytes(24), timestamp: '1700000000' } },
      'identity-key': { '351910000001.0': new Uint8Array(randomBytes(33)) },
    };
    expect(Object.keys(data).sort()).toEqual([...SIGNAL_KEY_TYPES].sort());
    await first.state.keys.set(data);
    await first.saveCreds();
    await first.flush();

    const second = await loadAuthState((await reopen()).auth, blog);
    const plain = (c: AuthenticationCreds) => JSON.parse(JSON.stringify(c, (_k, v) => (Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
    expect(plain(second.state.creds)).toEqual(plain(creds));
    expect(Buffer.isBuffer(second.state.creds.noiseKey.private)).toBe(true);
    expect(Buffer.compare(Buffer.from(second.state.creds.signedIdentityKey.private), Buffer.from(creds.signedIdentityKey.private))).toBe(0);
    for (const type of SIGNAL_KEY_TYPES) {
      const ids = Object.keys(data[type]!);
      const read = await second.state.keys.get(type, ids);
      for (const id of ids) {
        const expected = data[type]![id];
        const actual = read[id];
        if (type === 'app-state-sync-key') {
          expect(actual).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
          expect(Buffer.compare(Buffer.from((actual as proto.Message.IAppStateSyncKeyData).keyData!), Buffer.from((expected as proto.Message.IAppStateSyncKeyData).keyData!))).toBe(0);
        } else if (expected instanceof Uint8Array) {
          expect(Buffer.compare(Buffer.from(actual as Uint8Array), Buffer.from(expected))).toBe(0);
        } else {
          expect(actual).toEqual(expected);
        }
      }
    }

    // null deletes; clear() forgets the session but keeps the lease.
    await second.state.keys.set({ session: { '351910000001.0': null } });
    await second.flush();
    const state = await reopen();
    expect(await state.auth.read('session', ['351910000001.0'])).toEqual({});
    expect(await state.lease.acquire('me', 60_000, Date.now())).toEqual({ ok: true });
    await state.auth.clear();
    expect(await state.auth.read('creds', ['creds'])).toEqual({});
    expect(await state.auth.read('pre-key', ['1'])).toEqual({});
    expect(await state.lease.acquire('someone-else', 60_000, Date.now())).toMatchObject({ ok: false, holder: 'me' });
  });

  it('the lease refuses a second owner until it expires or is released', async () => {
    const state = whatsAppStateStore(store, 'wa-1');
    const now = Date.parse('2026-03-02T10:00:00Z');
    expect(await state.lease.acquire('host-a:1', 30_000, now)).toEqual({ ok: true });
    expect(await state.lease.acquire('host-b:2', 30_000, now + 1000)).toEqual({ ok: false, holder: 'host-a:1', expiresAt: '2026-03-02T10:00:30.000Z' });
    expect(await state.lease.acquire('host-a:1', 30_000, now + 10_000)).toEqual({ ok: true });
    expect(await state.lease.acquire('host-b:2', 30_000, now + 39_000)).toMatchObject({ ok: false });
    expect(await state.lease.acquire('host-b:2', 30_000, now + 41_000)).toEqual({ ok: true });
    await state.lease.release('host-a:1'); // not the holder any more: no effect
    expect(await state.lease.acquire('host-a:1', 30_000, now + 42_000)).toMatchObject({ ok: false, holder: 'host-b:2' });
    await state.lease.release('host-b:2');
    expect(await state.lease.acquire('host-a:1', 30_000, now + 43_000)).toEqual({ ok: true });
  });

  it('a second bot on the same number is refused with a clear message; without a store the channel refuses to build', async () => {
    const clock = new ManualClock();
    const sockets = standInSockets();
    const make = (owner: string) => new WhatsAppBot({ id: 'wa-1' }, { logger, env: {} }, { state: whatsAppStateStore(store, 'wa-1'), makeSocket: sockets.makeSocket, clock, owner });
    const a = make('coordinator-1');
    const b = make('runner-2');
    await a.start();
    try {
      const error = await b.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CodedError);
      expect(error).toMatchObject({ code: ErrorCode.Conflict, message: expect.stringMatching(/already driven by another process \(coordinator-1, lease until .*\); stop that one first/) });
      expect(await b.probe()).toMatchObject({ ok: false, needsHuman: false, detail: expect.stringMatching(/already driven by another process/) });
      expect(sockets.sockets).toHaveLength(1);
    } finally {
      await a.stop();
    }
    // Released on stop: now b may drive it.
    await b.start();
    await b.stop();
    await expect(Promise.resolve().then(() => whatsappChannel.create({ id: 'wa-x' } as never, { logger, env: {} }))).rejects.toThrow(/needs a store/);
  });

  it('a bot whose lease is taken over stops driving the number at once', async () => {
    const clock = new ManualClock();
    const sockets = standInSockets();
    const bot = new WhatsAppBot({ id: 'wa-1' }, { logger, env: {} }, { state: whatsAppStateStore(store, 'wa-1'), makeSocket: sockets.makeSocket, clock, owner: 'coordinator-1', leaseTtlMs: 3000 });
    await bot.start();
    sockets.latest().open();
    await clock.advance(2500); // renewed at 1 s and 2 s
    expect(await bot.probe()).toMatchObject({ ok: true });
    // Another process takes the lease (e.g. after this one looked dead to it).
    const lease = (await waState(store).waAuth.get('wa-1:lease:lease'))!;
    await waState(store).waAuth.update(lease.id, { value: JSON.stringify({ owner: 'runner-9', expiresAt: clock.now() + 60_000 }) });
    await clock.advance(1000);
    expect(sockets.latest().ended).toBe(true);
    expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: true, detail: expect.stringMatching(/lease on this number was taken by runner-9/) });
    await bot.stop();
  });

  it('a lease taken over while the number is reconnecting stops the pending reconnect', async () => {
    const clock = new ManualClock();
    const sockets = standInSockets();
    const bot = new WhatsAppBot({ id: 'wa-1', reconnectBaseMs: 5000 }, { logger, env: {} }, { state: whatsAppStateStore(store, 'wa-1'), makeSocket: sockets.makeSocket, clock, owner: 'coordinator-1', leaseTtlMs: 3000, random: () => 0.5 });
    await bot.start();
    sockets.latest().open();
    sockets.latest().close(408); // reconnect due in 5 s
    const lease = (await waState(store).waAuth.get('wa-1:lease:lease'))!;
    await waState(store).waAuth.update(lease.id, { value: JSON.stringify({ owner: 'runner-9', expiresAt: clock.now() + 60_000 }) });
    await clock.advance(60_000);
    expect(sockets.sockets).toHaveLength(1);
    expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: true, detail: expect.stringMatching(/taken by runner-9/) });
    await bot.stop();
  });

  it('a lease that cannot be renewed before it expires stops the bot driving the number (another process may take it)', async () => {
    const clock = new ManualClock();
    const sockets = standInSockets();
    const state = whatsAppStateStore(store, 'wa-1');
    let down = false;
    const flaky = { ...state, lease: { ...state.lease, acquire: (owner: string, ttl: number, now: number) => (down ? Promise.reject(new Error('store unreachable')) : state.lease.acquire(owner, ttl, now)) } };
    const bot = new WhatsAppBot({ id: 'wa-1' }, { logger, env: {} }, { state: flaky, makeSocket: sockets.makeSocket, clock, owner: 'coordinator-1', leaseTtlMs: 3000 });
    await bot.start();
    sockets.latest().open();
    down = true;
    await clock.advance(1000); // one failed renewal: the lease still holds until 3 s
    expect(sockets.latest().ended).toBe(false);
    await clock.advance(1000); // the next failure leaves no time for another try before it expires
    expect(sockets.latest().ended).toBe(true);
    // Not a person's job: the health monitor's restart takes the lease again once the store answers.
    expect(await bot.probe()).toMatchObject({ ok: false, needsHuman: false, detail: expect.stringMatching(/could not be renewed/) });
    down = false;
    await bot.stop();
    await bot.start();
    expect(sockets.sockets).toHaveLength(2);
    await bot.stop();
  });

  /** The store's lease, counting renewals; `gate` holds the next calls until opened. */
  const countingLease = (state: ReturnType<typeof whatsAppStateStore>) => {
    const calls: number[] = [];
    let gate: Promise<void> | undefined;
    const store: LeaseStore = {
      acquire: async (owner, ttl, now) => {
        calls.push(now);
        if (gate) await gate;
        return state.lease.acquire(owner, ttl, now);
      },
      release: (owner) => state.lease.release(owner),
    };
    return { store, calls, hold: (until: Promise<void>) => (gate = until) };
  };

  it('a lease taken twice is renewed by one timer, and nothing renews it after release', async () => {
    const clock = new ManualClock();
    const state = whatsAppStateStore(store, 'wa-1');
    const counting = countingLease(state);
    const lease = new NumberLease({ store: counting.store, owner: 'coordinator-1', ttlMs: 3000, clock, log: logger, onLost: () => undefined });
    await Promise.all([lease.acquire(), lease.acquire()]);
    expect(counting.calls).toHaveLength(2);
    await clock.advance(1000);
    expect(counting.calls).toHaveLength(3);
    await lease.release();
    await clock.advance(10_000);
    expect(counting.calls).toHaveLength(3);
    expect(await state.lease.acquire('runner-2', 3000, clock.now())).toEqual({ ok: true });
  });

  it('a renewal still running when the lease is released does not keep the lease', async () => {
    const clock = new ManualClock();
    const state = whatsAppStateStore(store, 'wa-1');
    const counting = countingLease(state);
    const lease = new NumberLease({ store: counting.store, owner: 'coordinator-1', ttlMs: 3000, clock, log: logger, onLost: () => undefined });
    await lease.acquire();
    let open: () => void = () => undefined;
    counting.hold(new Promise<void>((r) => (open = r)));
    await clock.advance(1000); // the renewal is on its way to the store
    expect(counting.calls).toHaveLength(2);
    await lease.release();
    open();
    await settle();
    expect(await state.lease.acquire('runner-2', 3000, clock.now())).toEqual({ ok: true });
  });

  it('two overlapping starts of one bot open one socket and hold one lease timer', async () => {
    const clock = new ManualClock();
    const sockets = standInSockets();
    const state = whatsAppStateStore(store, 'wa-1');
    const counting = countingLease(state);
    const bot = new WhatsAppBot({ id: 'wa-1' }, { logger, env: {} }, { state: { ...state, lease: counting.store }, makeSocket: sockets.makeSocket, clock, owner: 'coordinator-1', leaseTtlMs: 3000 });
    await Promise.all([bot.start(), bot.start()]);
    expect(sockets.sockets).toHaveLength(1);
    const taken = counting.calls.length;
    await clock.advance(1000);
    expect(counting.calls).toHaveLength(taken + 1);
    await bot.stop();
    await clock.advance(10_000);
    expect(counting.calls).toHaveLength(taken + 1);
  });
});
