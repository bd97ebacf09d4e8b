/**
 * What a WhatsApp bot persists, as small interfaces: `src/bots/` never touches
 * the store, so the composition root hands each bot a `WhatsAppState` built over
 * the channel's state namespace (`whatsapp-state-store.ts`). Values are opaque strings
 * (Baileys' `BufferJSON`), so the store side needs no Baileys types.
 */

/** One signal key (or the creds, as type `creds`) to write; `value: null` deletes it. */
export interface AuthEntry {
  type: string;
  id: string;
  value: string | null;
}

/** Baileys' creds and signal keys of one number. */
export interface AuthStore {
  /** The stored values of these ids (absent ids are left out). */
  read(type: string, ids: string[]): Promise<Record<string, string>>;
  /** Writes (or deletes) every entry; each entry is one atomic document write. */
  write(entries: AuthEntry[]): Promise<void>;
  /** Forgets the whole session (creds and keys), e.g. after a logout: the number must be paired again. */
  clear(): Promise<void>;
}

/** Who holds the right to drive a number. */
export type LeaseResult = { ok: true } | { ok: false; holder: string; expiresAt: string };

/** A lock in the store so two processes never drive the same number at once. */
export interface LeaseStore {
  /** Takes (or renews) the lease for `owner` until now + ttl, unless another owner holds an unexpired one. */
  acquire(owner: string, ttlMs: number, now: number): Promise<LeaseResult>;
  /** Gives the lease up if `owner` still holds it. */
  release(owner: string): Promise<void>;
}

/** A message we sent (or a prompt), kept for Baileys' `getMessage(key)` and poll-vote decryption. */
export interface StoredWaMessage {
  remoteJid: string;
  keyId: string;
  fromMe: boolean;
  /** BufferJSON-serialised `WAMessage`. */
  message: string;
  at: string;
  /** Set on approval prompts (text and poll): which approval they ask about. */
  approvalId?: string;
  approvalCode?: string;
}

export interface MessageStore {
  save(message: StoredWaMessage): Promise<void>;
  get(keyId: string, fromMe: boolean): Promise<StoredWaMessage | null>;
  /** The prompts (text and poll) sent for this approval code, newest first (at most a few). */
  promptsFor(approvalCode: string): Promise<StoredWaMessage[]>;
  /** Forgets messages stored before `beforeIso`, except approval prompts (their polls decrypt late votes); how many went. */
  prune(beforeIso: string): Promise<number>;
}

/** One queued send, persisted before it goes out. */
export interface OutboundItem {
  id: string;
  chatId: string;
  /** BufferJSON-serialised payload (content, message id, approval tag). */
  payload: string;
  status: 'queued' | 'sending' | 'sent' | 'failed';
  attempts: number;
  createdAt: string;
  notBefore: string;
  /** The WhatsApp message id, fixed when queued so a resend after a crash is the same message. */
  keyId: string;
  sentAt?: string;
  lastError?: string;
}

/** The governor's durable queue. */
export interface OutboundStore {
  enqueue(item: Omit<OutboundItem, 'status' | 'attempts'>): Promise<OutboundItem>;
  /** Queued or in-flight items, oldest first. */
  pending(): Promise<OutboundItem[]>;
  /**
   * Compare-and-set `queued` → `sending`, counting the attempt; the claimed
   * item (its `attempts` identifies this attempt), or null if someone else took it.
   */
  claim(id: string): Promise<OutboundItem | null>;
  /**
   * `sending` → `sent`, only while the item is still in the attempt
   * `attempts` (a later attempt owns it otherwise); false when it was not.
   */
  markSent(id: string, sentAt: string, attempts: number): Promise<boolean>;
  /** `sending` → `queued` (retry later) or `failed` (given up), only while still in the attempt `attempts`; false when it was not. */
  requeue(id: string, notBefore: string, error: string, failed: boolean, attempts: number): Promise<boolean>;
  /** How many were sent since `sinceIso` (the daily cap's window). */
  sentSince(sinceIso: string): Promise<number>;
  /** The latest send time, if any (the minimum gap survives a restart). */
  lastSentAt(): Promise<string | undefined>;
  /** Forgets items sent (or given up) before `beforeIso`; how many went. */
  prune(beforeIso: string): Promise<number>;
}

/** Everything one WhatsApp number persists. */
export interface WhatsAppState {
  auth: AuthStore;
  lease: LeaseStore;
  messages: MessageStore;
  outbound: OutboundStore;
}
