import {
  BufferJSON,
  initAuthCreds,
  makeCacheableSignalKeyStore,
  proto,
  type AuthenticationCreds,
  type AuthenticationState,
  type CacheStore,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
  type WAMessage,
} from '@whiskeysockets/baileys';
import type { ILogger } from '@whiskeysockets/baileys/lib/Utils/logger.js';
import type { AuthEntry, AuthStore } from './whatsapp-state.js';

/** The type and id the creds are stored under, beside the signal keys. */
export const CREDS_KEY = { type: 'creds', id: 'creds' } as const;

/** Signal key types Baileys 7 reads and writes (STACK.md). */
export const SIGNAL_KEY_TYPES = [
  'pre-key',
  'session',
  'sender-key',
  'sender-key-memory',
  'app-state-sync-key',
  'app-state-sync-version',
  'lid-mapping',
  'device-list',
  'tctoken',
  'identity-key',
] as const satisfies ReadonlyArray<keyof SignalDataTypeMap>;

export const serialise = (value: unknown): string => JSON.stringify(value, BufferJSON.replacer);
export const deserialise = <T>(text: string): T => JSON.parse(text, BufferJSON.reviver) as T;

/**
 * A `WAMessage` as text. Baileys returns protobuf instances whose `toJSON`
 * would turn bytes (a poll's `messageSecret`) into base64 strings, so the
 * message is first made a plain object that keeps its Buffers (and the key's
 * `remoteJidAlt`/`participantAlt`, which are not in the protobuf).
 */
export function serialiseMessage(message: WAMessage): string {
  const plain = proto.WebMessageInfo.toObject(message as proto.WebMessageInfo, { longs: Number });
  return serialise({ ...plain, key: { ...plain.key, ...message.key } });
}

/** Baileys' auth state kept in our store, plus `saveCreds` for `creds.update`. */
export interface StoredAuthState {
  state: AuthenticationState;
  /** Writes the current creds (call on every `creds.update`). */
  saveCreds(): Promise<void>;
  /** Resolves once every write so far has reached the store. */
  flush(): Promise<void>;
  /**
   * Makes every later write (keys and creds) a no-op: the session is being
   * discarded, and a Baileys socket still running on it (closing, or finishing
   * a LID migration) must not write stale keys into the session after it.
   */
  seal(): void;
}

/**
 * A small bounded in-memory cache for `makeCacheableSignalKeyStore` (its default
 * NodeCache runs an interval timer; this one owns no timers, so a stopped bot
 * leaves nothing behind).
 */
export function boundedCache(max = 10_000): CacheStore {
  const map = new Map<string, unknown>();
  return {
    get: <T>(key: string) => map.get(key) as T | undefined,
    set: <T>(key: string, value: T) => {
      map.delete(key);
      map.set(key, value);
      if (map.size > max) map.delete(map.keys().next().value as string);
    },
    del: (key: string) => map.delete(key),
    flushAll: () => map.clear(),
  };
}

/**
 * Loads (or starts) a number's session from the store — not
 * `useMultiFileAuthState`, which Baileys itself says is not for production.
 * Creds and every signal key are BufferJSON-serialised; writes are chained so
 * they reach the store in the order Baileys made them; reads are cached.
 */
export async function loadAuthState(store: AuthStore, logger: ILogger): Promise<StoredAuthState> {
  const stored = await store.read(CREDS_KEY.type, [CREDS_KEY.id]);
  const creds: AuthenticationCreds = stored[CREDS_KEY.id] ? deserialise<AuthenticationCreds>(stored[CREDS_KEY.id]) : initAuthCreds();
  let chain: Promise<void> = Promise.resolve();
  let sealed = false;
  const enqueue = (entries: AuthEntry[]) => {
    if (sealed) return Promise.resolve();
    const next = chain.then(() => store.write(entries));
    // One failed write must not block the ones after it; the failure still reaches the caller.
    chain = next.catch((error: unknown) => logger.error({ err: error }, 'could not write WhatsApp auth state'));
    return next;
  };
  const keys: SignalKeyStore = {
    async get(type, ids) {
      const raw = await store.read(type, ids);
      const out: { [id: string]: SignalDataTypeMap[typeof type] } = {};
      for (const [id, text] of Object.entries(raw)) {
        let value: unknown = deserialise(text);
        if (type === 'app-state-sync-key' && value) value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
        out[id] = value as SignalDataTypeMap[typeof type];
      }
      return out;
    },
    async set(data: SignalDataSet) {
      const entries: AuthEntry[] = [];
      for (const type of Object.keys(data) as Array<keyof SignalDataSet>) {
        for (const [id, value] of Object.entries(data[type] ?? {})) entries.push({ type, id, value: value === null || value === undefined ? null : serialise(value) });
      }
      await enqueue(entries);
    },
    async clear() {
      await chain;
      await store.clear();
    },
  };
  return {
    state: { creds, keys: makeCacheableSignalKeyStore(keys, logger, boundedCache()) },
    saveCreds: () => enqueue([{ ...CREDS_KEY, value: serialise(creds) }]),
    flush: () => chain,
    seal: () => void (sealed = true),
  };
}

/**
 * Forgets a pairing that never completed, so the next socket registers again
 * (new QR, new code). Baileys' `requestPairingCode` sets `creds.me` to the bare
 * phone number and saves it; a socket started with `creds.me` logs in instead
 * of registering, and WhatsApp refuses that login (401) for a device it never
 * paired. A paired device has `creds.account` (set by Baileys on pair-success).
 * Returns true when the creds changed (they must be saved).
 */
export function forgetUnfinishedPairing(creds: AuthenticationCreds): boolean {
  if (creds.account || (!creds.me && !creds.registered && !creds.pairingCode)) return false;
  delete creds.me;
  creds.registered = false;
  creds.pairingCode = undefined;
  return true;
}
