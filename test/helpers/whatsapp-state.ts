import type { WaAuthRecord, WaMessageRecord, WaOutboundRecord } from '../../src/bots/whatsapp/whatsapp-records.js';
import { WHATSAPP_STATE_SPECS } from '../../src/bots/whatsapp/whatsapp-records.js';
import { whatsAppState } from '../../src/bots/whatsapp/whatsapp-state-store.js';
import type { WhatsAppState } from '../../src/bots/whatsapp/whatsapp-state.js';
import type { Store } from '../../src/storage/store.js';

/** The WhatsApp channel's collections in a store (its state namespace), for tests that look at the rows. */
export function waState(store: Store) {
  const ns = store.namespace('whatsapp', WHATSAPP_STATE_SPECS);
  return { waAuth: ns.collection<WaAuthRecord>('auth'), waMessages: ns.collection<WaMessageRecord>('messages'), waOutbound: ns.collection<WaOutboundRecord>('outbound') };
}

/** One number's state over a store, as the channel's factory builds it. */
export function whatsAppStateStore(store: Store, agentId: string): WhatsAppState {
  return whatsAppState(store.namespace('whatsapp', WHATSAPP_STATE_SPECS), agentId);
}
