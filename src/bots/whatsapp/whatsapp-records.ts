import type { CollectionSpec, StoredDoc } from '../../storage/collection.js';
import type { StoredWaMessage } from './whatsapp-state.js';

/** One entry of a WhatsApp number's auth state: creds, or one signal key. */
export interface WaAuthRecord extends StoredDoc {
  agentId: string;
  type: string;
  keyId: string;
  /** BufferJSON-serialised value. */
  value: string;
}

/** A WhatsApp message we sent or received, kept so Baileys' `getMessage(key)` (retries, poll votes) can find it. */
export interface WaMessageRecord extends StoredDoc, StoredWaMessage {
  agentId: string;
}

/** One outbound WhatsApp send, persisted before it is sent (the governor's queue). */
export interface WaOutboundRecord extends StoredDoc {
  agentId: string;
  chatId: string;
  /** BufferJSON-serialised `AnyMessageContent`. */
  content: string;
  status: 'queued' | 'sending' | 'sent' | 'failed';
  attempts: number;
  createdAt: string;
  notBefore: string;
  sentAt?: string;
  /** The key id WhatsApp gave the sent message. */
  keyId?: string;
  lastError?: string;
}

/**
 * The WhatsApp channel's state namespace. The physical names are the ones
 * earlier versions kept in the store's own collections, so a data dir or a
 * MongoDB database keeps its paired sessions across the upgrade.
 */
export const WHATSAPP_STATE_SPECS = {
  auth: { name: 'wa_auth', indexes: [['agentId', 'type']] },
  messages: { name: 'wa_messages', indexes: [['agentId', 'at']], unique: [['agentId', 'remoteJid', 'keyId', 'fromMe']] },
  outbound: { name: 'wa_outbound', indexes: [['agentId', 'status', 'createdAt'], ['agentId', 'sentAt']] },
} satisfies Record<string, CollectionSpec>;
