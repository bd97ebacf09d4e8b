import type { StoredDoc } from './collection.js';

/** Domain records as stored. Times are ISO-8601 strings (they sort as text). */

export type AgentStatus = 'pending' | 'up' | 'down' | 'maintenance' | 'blocked';
export type AgentKind = 'bot' | 'action';

export interface CheckSummary {
  at: string;
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

export interface AgentRecord extends StoredDoc {
  branchId: string;
  kind: AgentKind;
  channel?: string;
  name?: string;
  status: AgentStatus;
  statusReason?: string;
  statusSince?: string;
  dependsOn: string[];
  lastCheck?: CheckSummary;
  registeredAt: string;
  /** Where the agent came from: the config file, or `POST /api/agents`. */
  source: 'config' | 'api';
  /** Hosted by a remote runner instead of this process. */
  remote?: boolean;
  healthUrl?: string;
  /** The team an admin assigned this agent to (its autonomy); never chosen by a request. */
  teamId?: string;
  lastHeartbeatAt?: string;
  /** HMAC secret for signing callbacks to this agent (issue: approvals). */
  callbackSecret?: string;
}

export interface HealthCheckRecord extends StoredDoc {
  agentId: string;
  at: string;
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled' | 'executed' | 'failed';

/** Where one copy of an approval prompt went, so it can be updated later. */
export interface Delivery {
  managerId?: string;
  channel: string;
  agentId: string;
  chatId: string;
  messageId?: string;
  status: 'sent' | 'failed';
  error?: string;
  at: string;
  tier?: 'initial' | 'escalation';
  /** For the escalation tier: which step of the chain (1 = the first step after the initial round). */
  step?: number;
}

/**
 * One prompt to put in front of one manager (or a branch's approvals chat),
 * persisted before the request is answered and sent by the prompt outbox:
 * retried with backoff, waiting while none of the manager's channels is up,
 * resumed after a restart. Its id is the approval and the target, so the same
 * manager is never queued twice for the same approval and tier.
 */
export interface PromptJobRecord extends StoredDoc {
  approvalId: string;
  branchId: string;
  tier: 'initial' | 'escalation';
  /** For the escalation tier: which step of the chain. */
  step?: number;
  /** A manager's prompt: sent on their preferred channel that is up. */
  managerId?: string;
  /** A branch chat's prompt (its approvals chat): that agent and chat. */
  agentId?: string;
  chatId?: string;
  /** queued (due at nextAttemptAt), sending (claimed), waiting (no channel up), sent, dropped (the approval was decided first). */
  status: 'queued' | 'sending' | 'waiting' | 'sent' | 'dropped';
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  createdAt: string;
  updatedAt: string;
}

/** A manager an approval has not reached yet, and why (shown on the approval). */
export interface Unreached {
  managerId: string;
  tier: 'initial' | 'escalation';
  step?: number;
  /** queued: about to go; waiting: none of their channels is up; retrying: the last send failed. */
  state: 'queued' | 'waiting' | 'retrying';
  reason?: string;
  since: string;
}

/** One escalation step taken: when, and whom it asked that had not been asked (names as the prompt shows them). */
export interface EscalationStep {
  step: number;
  at: string;
  asked: Array<{ id: string; name: string }>;
  /** Chats asked too (the business's ops chat). */
  chats?: number;
}

export interface Decision {
  outcome: 'approved' | 'rejected' | 'expired' | 'cancelled';
  /** Manager id, `admin`, `policy` or `system`. */
  by: string;
  byName?: string;
  via: string;
  at: string;
  reason?: string;
  /** For policy decisions: the rule that allowed it. */
  rule?: string;
  /** The approval's `payloadHash` the decision was taken on (what the manager was shown). */
  payloadHash?: string;
}

export interface ApprovalRecord extends StoredDoc {
  code: string;
  branchId: string;
  teamId?: string;
  requesterId: string;
  actionType: string;
  summary: string;
  details?: unknown;
  /**
   * SHA-256 (hex) of the canonical JSON of `{actionType, details}`: what is
   * approved. A requester checks it against the payload it is about to run.
   */
  payloadHash?: string;
  /** What the action will do, in words, for built-in actions (message.send: the recipient by name and the exact text). */
  preview?: string;
  riskLevel: RiskLevel;
  status: ApprovalStatus;
  autonomy: string;
  deliveries: Delivery[];
  /** Managers whose prompt is still in the outbox (queued, waiting for a channel, retrying). */
  unreached?: Unreached[];
  decision?: Decision;
  /** For `requiredApprovals > 1`: the approvals gathered so far. */
  approvals?: Array<{ by: string; via: string; at: string }>;
  expiresAt: string;
  /**
   * Where the approval is in its escalation chain (escalation-chain.ts): the
   * chain's steps as resolved when it was made, the next one and when it falls
   * due, and who each step taken asked. Approvals stored before chains existed
   * have only `dueAt`/`done` (one step: the owners).
   */
  escalation?: {
    dueAt: string;
    done?: boolean;
    steps?: Array<{ afterSec: number; to: string[] }>;
    /** Index in `steps` of the next step. */
    next?: number;
    source?: string;
    history?: EscalationStep[];
  };
  /** What a request nobody decides becomes at `expiresAt`, and the config entry that says so (absent: expire). */
  onTimeout?: { action: 'expire' | 'reject'; source: string };
  result?: { success: boolean; error?: string; result?: unknown; at: string };
  callbackUrl?: string;
  idempotencyKey?: string;
  requestHash?: string;
  requiredApprovals?: number;
  createdAt: string;
  updatedAt: string;
}

export interface AuditEventRecord extends StoredDoc {
  seq: number;
  at: string;
  type: string;
  actor: string;
  branchId?: string;
  agentId?: string;
  approvalId?: string;
  data?: unknown;
  prevHash: string;
  /** SHA-256 of the fields above (canonical JSON, `prevHash` included): the public chain. */
  hash: string;
  /** HMAC-SHA256 of `hash` with the audit key (absent on events written before the HMAC chain existed). */
  mac?: string;
  /** Fingerprint of the key `mac` was made with. */
  keyId?: string;
}

export interface ContactRecord extends StoredDoc {
  branchId: string;
  channel: string;
  /** The channel's id for the person (a chat user id, a phone JID, …). */
  externalId: string;
  phone?: string;
  name?: string;
  /** The name was set by staff (PATCH): the channel's display name no longer replaces it. */
  nameByStaff?: boolean;
  firstSeenAt: string;
  lastSeenAt: string;
  optedOut: boolean;
  tags: string[];
}

export interface MessageRecord extends StoredDoc {
  contactId: string;
  branchId: string;
  channel: string;
  direction: 'in' | 'out';
  text: string;
  at: string;
  /** Who produced an outbound message: `bot`, `staff:<name>`, `agent:<id> via approval <id>`; inbound: the customer. */
  handledBy?: string;
  conversationId?: string;
  /** The channel's id for the message (to match staff replies and quotes), unique within `agentId`'s chats. */
  externalId?: string;
  /** The bot that carried it. */
  agentId?: string;
  /** Inbound text longer than the branch's limit was cut to it. */
  truncated?: boolean;
  /** Outbound only: whether the channel accepted it. */
  status?: 'sent' | 'failed' | 'suppressed';
  error?: string;
}

/** A hand-off notification in a staff chat: its first message and the ones forwarded under it. */
export interface StaffThread {
  agentId: string;
  chatId: string;
  rootId: string;
  messageIds: string[];
}

/** Who is answering a contact right now. */
export type ConversationState = 'bot' | 'pending_human';

/** The current conversation with one contact (one per contact; `state` moves between bot and humans). */
export interface ConversationRecord extends StoredDoc {
  contactId: string;
  branchId: string;
  channel: string;
  /** The bot agent and chat the customer writes to: replies go back the same way. */
  agentId: string;
  chatId: string;
  state: ConversationState;
  /** Why it went to humans: `no_answer`, `asked_for_person`. */
  reason?: string;
  openedAt: string;
  lastMessageAt: string;
  lastText: string;
  /** Where staff were notified (the staff channel's thread, or managers' chats when it was down): replies there reach the customer. */
  staffThreads?: StaffThread[];
  /** When the after-hours reply was last sent (one per conversation window). */
  afterHoursReplyAt?: string;
  /** Auto-replies sent in the current window (loop protection) and when the window began. */
  autoReplies: { count: number; windowStart: string };
}

export interface SettingRecord extends StoredDoc {
  value: unknown;
  updatedAt: string;
}

export type PrincipalRole = 'admin' | 'operator' | 'manager' | 'agent' | 'runner';

/** A bearer token, stored by its SHA-256 (the record id); the token itself is shown once. */
export interface ApiTokenRecord extends StoredDoc {
  role: PrincipalRole;
  /** The agent, manager or runner the token belongs to. */
  subject: string;
  label?: string;
  createdAt: string;
  /** For runners: the branches or agents it may host. */
  scope?: string[];
}

/** A webhook waiting to be delivered (signed, retried with backoff, durable across restarts). */
export interface OutboxRecord extends StoredDoc {
  url: string;
  body: string;
  agentId: string;
  approvalId?: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  createdAt: string;
}
