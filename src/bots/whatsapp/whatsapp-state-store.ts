import { ConflictError } from '../../core/errors.js';
import type { ChannelState } from '../channel-factory.js';
import type { AuthEntry, LeaseResult, OutboundItem, StoredWaMessage, WhatsAppState } from './whatsapp-state.js';
import type { WaAuthRecord, WaMessageRecord, WaOutboundRecord } from './whatsapp-records.js';

const LEASE = 'lease';

interface LeaseValue {
  owner: string;
  expiresAt: number;
}

/**
 * A WhatsApp number's persistence over the channel's state namespace
 * (`wa_auth`, `wa_messages`, `wa_outbound`), for MongoDB and the file store alike. The lease lives in
 * `waAuth` as type `lease` (never cleared with the session) and is taken with
 * compare-and-set on its version, so two processes cannot both hold it.
 *
 * @example the factory builds it from the bot's context:
 *   whatsAppState(context.state('whatsapp'), config.id)
 */
export function whatsAppState(state: ChannelState, agentId: string): WhatsAppState {
  const store = {
    waAuth: state.collection<WaAuthRecord>('auth'),
    waMessages: state.collection<WaMessageRecord>('messages'),
    waOutbound: state.collection<WaOutboundRecord>('outbound'),
  };
  const authId = (type: string, keyId: string) => `${agentId}:${type}:${keyId}`;
  const messageId = (keyId: string, fromMe: boolean) => `${agentId}:${keyId}:${fromMe ? 'me' : 'them'}`;
  const leaseId = authId(LEASE, LEASE);
  const toItem = (r: WaOutboundRecord): OutboundItem => ({
    id: r.id,
    chatId: r.chatId,
    payload: r.content,
    status: r.status,
    attempts: r.attempts,
    createdAt: r.createdAt,
    notBefore: r.notBefore,
    keyId: r.keyId ?? '',
    ...(r.sentAt ? { sentAt: r.sentAt } : {}),
    ...(r.lastError ? { lastError: r.lastError } : {}),
  });

  const toStoredMessage = (r: WaMessageRecord): StoredWaMessage => {
    const { id: _id, version: _version, agentId: _agent, ...rest } = r;
    return rest;
  };

  const readLease = (r: WaAuthRecord | null): LeaseValue | null => (r ? (JSON.parse(r.value) as LeaseValue) : null);

  return {
    auth: {
      async read(type, ids) {
        const out: Record<string, string> = {};
        await Promise.all(
          ids.map(async (id) => {
            const r = await store.waAuth.get(authId(type, id));
            if (r) out[id] = r.value;
          }),
        );
        return out;
      },
      async write(entries: AuthEntry[]) {
        for (const e of entries) {
          if (e.value === null) await store.waAuth.delete(authId(e.type, e.id));
          else await store.waAuth.put({ id: authId(e.type, e.id), agentId, type: e.type, keyId: e.id, value: e.value });
        }
      },
      async clear() {
        await store.waAuth.deleteWhere({ agentId, type: { ne: LEASE } });
      },
    },
    lease: {
      async acquire(owner, ttlMs, now): Promise<LeaseResult> {
        const value = JSON.stringify({ owner, expiresAt: now + ttlMs } satisfies LeaseValue);
        for (let attempt = 0; attempt < 3; attempt++) {
          const current = await store.waAuth.get(leaseId);
          const held = readLease(current);
          if (current && held && held.owner !== owner && held.expiresAt > now) {
            return { ok: false, holder: held.owner, expiresAt: new Date(held.expiresAt).toISOString() };
          }
          if (!current) {
            try {
              await store.waAuth.insert({ id: leaseId, agentId, type: LEASE, keyId: LEASE, value });
              return { ok: true };
            } catch (error) {
              if (error instanceof ConflictError) continue;
              throw error;
            }
          }
          if (await store.waAuth.update(leaseId, { value }, { version: current.version })) return { ok: true };
        }
        const held = readLease(await store.waAuth.get(leaseId));
        return { ok: false, holder: held?.owner ?? 'unknown', expiresAt: new Date(held?.expiresAt ?? now).toISOString() };
      },
      async release(owner) {
        const current = await store.waAuth.get(leaseId);
        if (current && readLease(current)?.owner === owner) await store.waAuth.update(leaseId, { value: JSON.stringify({ owner, expiresAt: 0 }) }, { version: current.version });
      },
    },
    messages: {
      async save(m: StoredWaMessage) {
        await store.waMessages.put({ id: messageId(m.keyId, m.fromMe), agentId, ...m });
      },
      async get(keyId, fromMe) {
        const r = await store.waMessages.get(messageId(keyId, fromMe));
        if (!r) return null;
        return toStoredMessage(r);
      },
      async promptsFor(approvalCode) {
        const rows = await store.waMessages.find({ where: { agentId, approvalCode, fromMe: true }, orderBy: { field: 'at', direction: 'desc' }, limit: 10 });
        return rows.map(toStoredMessage);
      },
      async prune(beforeIso) {
        return store.waMessages.deleteWhere({ agentId, approvalId: null, at: { lt: beforeIso } });
      },
    },
    outbound: {
      async enqueue(item) {
        const r = await store.waOutbound.insert({ id: item.id, agentId, chatId: item.chatId, content: item.payload, status: 'queued', attempts: 0, createdAt: item.createdAt, notBefore: item.notBefore, keyId: item.keyId });
        return toItem(r);
      },
      async pending() {
        const rows = await store.waOutbound.find({ where: { agentId, status: { in: ['queued', 'sending'] } }, orderBy: { field: 'createdAt' } });
        return rows.map(toItem).sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
      },
      async claim(id) {
        const current = await store.waOutbound.get(id);
        if (!current || current.status !== 'queued') return null;
        const claimed = await store.waOutbound.update(id, { status: 'sending', attempts: current.attempts + 1 }, { status: 'queued', version: current.version });
        return claimed ? toItem(claimed) : null;
      },
      // Both only from the attempt that claimed the row: a late answer to an attempt given up on must not overwrite the next one.
      async markSent(id, sentAt, attempts) {
        return (await store.waOutbound.update(id, { status: 'sent', sentAt, lastError: undefined }, { status: 'sending', attempts })) !== null;
      },
      async requeue(id, notBefore, error, failed, attempts) {
        return (await store.waOutbound.update(id, { status: failed ? 'failed' : 'queued', notBefore, lastError: error.slice(0, 500) }, { status: 'sending', attempts })) !== null;
      },
      async sentSince(sinceIso) {
        return store.waOutbound.count({ agentId, status: 'sent', sentAt: { gte: sinceIso } });
      },
      async lastSentAt() {
        const [last] = await store.waOutbound.find({ where: { agentId, status: 'sent' }, orderBy: { field: 'sentAt', direction: 'desc' }, limit: 1 });
        return last?.sentAt;
      },
      async prune(beforeIso) {
        const sent = await store.waOutbound.deleteWhere({ agentId, status: 'sent', sentAt: { lt: beforeIso } });
        return sent + (await store.waOutbound.deleteWhere({ agentId, status: 'failed', createdAt: { lt: beforeIso } }));
      },
    },
  };
}
