import { EventEmitter } from 'node:events';
import type { Logger } from '../config/logger.js';
import type { Overrides } from '../config/overrides.js';
import type { AgentStatus, ApprovalRecord, ConversationRecord, Decision, MessageRecord, PrincipalRole, RiskLevel } from '../storage/records.js';
import type { StoreState } from '../storage/store.js';
import { afterWriteUnit } from '../storage/write-unit.js';

/** Every domain event, by name. Modules talk through these, never through each other's internals. */
export interface DomainEvents {
  'store.state': StoreState;
  'config.changed': { overrides: Overrides; by: string };
  'agent.status': { agentId: string; branchId: string; from: AgentStatus | null; to: AgentStatus; reason?: string; at: string };
  'agent.restart-scheduled': { agentId: string; attempt: number; delayMs: number };
  'alert.sent': { agentId: string; kind: string; via: string; chats: string[]; text: string };
  'approval.updated': ApprovalRecord;
  /** Counted for /metrics (labels bounded: branches and channels come from the config, risks and outcomes are fixed sets). */
  'approval.created': { branchId: string; risk: RiskLevel; autoApproved: boolean };
  'approval.decided': { branchId: string; risk: RiskLevel; outcome: Decision['outcome']; seconds: number };
  'approval.prompt': { channel: string; result: 'sent' | 'failed' | 'waiting' };
  'approval.escalated': { branchId: string; risk: RiskLevel };
  /** A conversation was handed to staff (by the responder, or by a customer asking for a person). */
  'conversation.handoff': { branchId: string; channel: string };
  'alert.undeliverable': { agentId: string; kind: string; text: string; why: string };
  /** A WhatsApp number waiting to be paired: a fresh QR (text to render) or pairing code; `paired` once done. */
  'agent.pairing': { agentId: string; qr?: string; pairingCode?: string | null; paired?: boolean; at: string };
  /** A customer or staff message was stored (inbound or outbound). */
  'message.recorded': MessageRecord;
  /** A conversation changed state (handed to humans, resolved) or got a new message. */
  'conversation.updated': ConversationRecord & { contactName?: string };
  /** Stored tokens stopped authenticating (revoked, or their agent removed): live connections made with them are closed. */
  'token.revoked': { tokenIds: string[]; role: PrincipalRole; subject: string; by: string };
}

export type EventName = keyof DomainEvents;

/**
 * A typed, synchronous event bus. A listener that throws is logged loudly with
 * the event name and does not stop other listeners.
 */
export class EventBus {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor(private readonly logger: Logger) {
    this.emitter.setMaxListeners(100);
  }

  on<K extends EventName>(event: K, listener: (payload: DomainEvents[K]) => void | Promise<void>): () => void {
    const wrapped = (payload: DomainEvents[K]) => {
      try {
        const result = listener(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.fail(event, error));
      } catch (error) {
        this.fail(event, error);
      }
    };
    this.emitter.on(event, wrapped);
    return () => this.emitter.off(event, wrapped);
  }

  /**
   * Emitted in a write unit, the event waits until the unit is on disk (and is dropped if it fails),
   * and its listeners run outside the unit: their own writes wait for the disk on their own.
   */
  emit<K extends EventName>(event: K, payload: DomainEvents[K]): void {
    afterWriteUnit(() => this.emitter.emit(event, payload));
  }

  private fail(event: string, error: unknown): void {
    this.logger.error('event listener failed', { module: 'event-bus', event, error });
  }
}
