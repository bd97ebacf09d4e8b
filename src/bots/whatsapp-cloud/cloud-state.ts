import { ConflictError } from '../../core/errors.js';
import type { CollectionSpec, StoredDoc } from '../../storage/collection.js';
import type { ChannelState } from '../channel-factory.js';

/** Delivery statuses in the order they happen; a late `delivered` never overwrites `read`, and `failed` always wins. */
const RANK: Record<string, number> = { accepted: 0, sent: 1, delivered: 2, read: 3, played: 3, failed: 4 };

/** One message we sent, with what Meta later reported about it. */
export interface CloudMessageRecord extends StoredDoc {
  agentId: string;
  wamid: string;
  /** The recipient's number (digits). */
  to: string;
  kind: 'text' | 'prompt' | 'template' | 'outcome';
  sentAt: string;
  /** `accepted` until a status webhook says more. */
  status: string;
  statusAt?: string;
  /** Meta's reason when delivery failed (`131026 Message undeliverable …`). */
  error?: string;
  replyTo?: string;
  /** Prompts and outcomes: the approval they belong to, and (outcomes) which status they told. */
  approvalId?: string;
  outcomeStatus?: string;
}

/** When a number last wrote to us: a free-form message may go to it for 24 hours after. */
export interface CloudContactRecord extends StoredDoc {
  agentId: string;
  waId: string;
  lastInboundAt: string;
}

/**
 * A number as written (`input`, digits) and the WhatsApp id Meta said it is
 * (`wa_id`): Brazil's and Mexico's numbers are written one way and arrive another.
 */
export interface CloudAliasRecord extends StoredDoc {
  agentId: string;
  input: string;
  waId: string;
}

/** A message id already processed (Meta delivers a webhook again when it got no 200 in time). */
export interface CloudSeenRecord extends StoredDoc {
  agentId: string;
  at: string;
}

/** The channel's state namespace (`BotContext.state('whatsapp-cloud')`). */
export const CLOUD_STATE_SPECS = {
  messages: { name: 'wacloud_messages', indexes: [['agentId', 'approvalId'], ['agentId', 'sentAt']] },
  contacts: { name: 'wacloud_contacts', indexes: [['agentId', 'lastInboundAt']] },
  seen: { name: 'wacloud_seen', indexes: [['agentId', 'at']] },
  aliases: { name: 'wacloud_aliases', indexes: [['agentId', 'waId']] },
} satisfies Record<string, CollectionSpec>;

/** Meta retries a webhook for up to 7 days; ids seen earlier than that are forgotten. */
const SEEN_KEEP_MS = 8 * 24 * 3600_000;

/** One agent's view of the namespace: what its bot reads and writes. */
export function cloudState(state: ChannelState, agentId: string) {
  const messages = state.collection<CloudMessageRecord>('messages');
  const contacts = state.collection<CloudContactRecord>('contacts');
  const seen = state.collection<CloudSeenRecord>('seen');
  const aliases = state.collection<CloudAliasRecord>('aliases');
  const key = (id: string) => `${agentId}:${id}`;
  return {
    async recordSent(doc: Omit<CloudMessageRecord, 'id' | 'version' | 'agentId' | 'status'>): Promise<void> {
      await messages.put({ id: key(doc.wamid), agentId, status: 'accepted', ...doc });
    },
    message: (wamid: string) => messages.get(key(wamid)),
    /** Applies a status webhook; false when the message is not one we recorded. */
    async applyStatus(wamid: string, status: string, at: string, error?: string): Promise<boolean> {
      for (let i = 0; i < 3; i++) {
        const doc = await messages.get(key(wamid));
        if (!doc) return false;
        if ((RANK[status] ?? 0) < (RANK[doc.status] ?? 0)) return true;
        if (await messages.update(doc.id, { status, statusAt: at, ...(error ? { error } : {}) }, { version: doc.version })) return true;
      }
      return true;
    },
    /** Whether this outcome was already told under that prompt (an update repeated by a restart or a second status). */
    async outcomeTold(replyTo: string, status: string): Promise<boolean> {
      return (await messages.findOne({ agentId, kind: 'outcome', replyTo, outcomeStatus: status })) !== null;
    },
    async noteInbound(waId: string, at: string): Promise<void> {
      const doc = await contacts.get(key(waId));
      if (doc && doc.lastInboundAt >= at) return;
      await contacts.put({ id: key(waId), agentId, waId, lastInboundAt: at });
    },
    /** Remembers the WhatsApp id Meta answered a send to `input` with, when it differs. */
    async noteWaId(input: string, waId: string): Promise<void> {
      if (input === waId || (await aliases.get(key(input)))?.waId === waId) return;
      await aliases.put({ id: key(input), agentId, input, waId });
    },
    /** The WhatsApp id of a number as written, when Meta said it differs. */
    async waIdOf(input: string): Promise<string | undefined> {
      return (await aliases.get(key(input)))?.waId;
    },
    /** The numbers as written that Meta said are this WhatsApp id. */
    async inputsOf(waId: string): Promise<string[]> {
      return (await aliases.find({ where: { agentId, waId }, limit: 10 })).map((a) => a.input);
    },
    async lastInbound(waId: string): Promise<string | undefined> {
      return (await contacts.get(key(waId)))?.lastInboundAt;
    },
    /** True the first time a message id is seen; false for a repeated delivery (also across processes). */
    async firstSight(wamid: string, at: string): Promise<boolean> {
      try {
        await seen.insert({ id: key(wamid), agentId, at });
        return true;
      } catch (error) {
        if (error instanceof ConflictError) return false;
        throw error;
      }
    },
    async forgetSeenBefore(now: number): Promise<number> {
      return seen.deleteWhere({ agentId, at: { lt: new Date(now - SEEN_KEEP_MS).toISOString() } });
    },
  };
}
export type CloudState = ReturnType<typeof cloudState>;
