/**
 * The coordinator's answers as they arrive over HTTP (JSON: times are ISO-8601
 * strings, absent fields are left out). Field names match the server's
 * `approvalView` / `requesterApprovalView` (src/coordination/read-scope.ts).
 */

export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';
export type Autonomy = 'supervised' | 'semi_autonomous' | 'autonomous';
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled' | 'executed' | 'failed';
/** The states an approval ends in (every status but `pending`). */
export type SettledApprovalStatus = Exclude<ApprovalStatus, 'pending'>;
export type AgentStatus = 'pending' | 'up' | 'down' | 'maintenance' | 'blocked';

/** `details` of the built-in `message.send` action: a reply to a known customer, or a message to any chat the branch's bots reach. */
export type MessageSendDetails = { contactId: string; text: string } | { chatId: string; text: string; channel?: string; agentId?: string };

/**
 * The body of `POST /api/approvals` (the server's `createApprovalSchema`; unknown
 * fields are refused with 400).
 *
 * @example
 * { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 20 EUR to order 1234', details: { orderId: '1234', amount: 20, currency: 'EUR' } }
 */
export interface ApprovalRequestInput {
  /** The id of a configured branch; an action agent may ask only at its own branch (403 elsewhere). */
  branchId: string;
  /**
   * What you will do, as a lowercase name (`^[a-z][a-z0-9_.-]{0,63}$`, e.g.
   * `refund`, `crm.update`, `message.send`). It sets the risk: the admin's
   * `approvals.riskByAction`, else a built-in table where the riskiest word
   * anywhere in it wins (read/status: low; crm, tasks, notices: medium; email,
   * calendar, data changes: high; payments, refunds, customer messages,
   * deletions: critical; unknown: high). Name it for what it really does: that
   * is what managers and their policy see.
   */
  actionType: string;
  /** One line for the manager, 1-500 characters after trimming: what, for whom, how much (`Refund 20 EUR to order 1234`). */
  summary: string;
  /**
   * What exactly will be done, as JSON (at most 10,000 characters serialized):
   * the values you will execute with (order id, amount, recipient...), not
   * commentary. Managers see it as `key: value` lines, and the approval's
   * `payloadHash` covers `{actionType, details}`: recompute it with
   * `payloadHash()` before acting and refuse if it differs from
   * `decision.payloadHash`. For `message.send`: {@link MessageSendDetails}
   * (the text at most 1000 characters; checked when you ask, 400 if wrong).
   */
  details?: unknown;
  /**
   * Raise the risk above what the action type is classified as (never lower
   * it: a lower value is ignored). Risk decides who may approve
   * (`approvals.minRole`), whether the team's autonomy auto-approves it (low
   * under semi_autonomous; all but critical under autonomous), the time to
   * live and the escalation chain.
   */
  riskLevel?: RiskLevel;
  /**
   * Leave this out: teams are assigned by an admin. Naming another team than
   * your agent's is refused (403, audited); naming its own changes nothing.
   */
  teamId?: string;
  /**
   * Seconds until the request expires undecided: a whole number from 10 to
   * 2,592,000 (30 days), and at most the policy's time to live for its risk
   * (`approvals.ttlSec`; defaults low 86400, medium 28800, high 14400,
   * critical 3600) — above that the answer is a 400 naming the maximum.
   * Default: the policy's time to live.
   */
  expiresInSec?: number;
  /**
   * An http(s) URL that receives the outcome as a signed webhook (check it
   * with `verifyWebhook`). It must be a public address: loopback, private,
   * link-local and metadata addresses are refused (400) unless the
   * coordinator's WEBHOOK_ALLOWLIST allows them.
   */
  callbackUrl?: string;
  /** How many different managers must approve (1-10, default 1); any rejection rejects. */
  requiredApprovals?: number;
}

/** Who settled an approval, how and when. */
export interface Decision {
  outcome: 'approved' | 'rejected' | 'expired' | 'cancelled';
  /** A manager id, `admin`, `policy` (auto-approved), `system` (timer) or the requester (cancelled). */
  by: string;
  /** The manager's name as the config gives it (`Ana`). */
  byName?: string;
  /** Where it came from: `api`, `dashboard`, `telegram`, `slack`, `whatsapp`, `whatsapp-cloud`, `policy`, `timer`. */
  via: string;
  at: string;
  reason?: string;
  /** For a policy's decision: the rule that made it (`autonomy semi_autonomous (branch lisboa) auto-approves low risk`). */
  rule?: string;
  /** The approval's `payloadHash` the decision was taken on: what the manager was shown. */
  payloadHash?: string;
}

/**
 * Where one copy of the prompt went. A requester (agent token) and a runner
 * see `channel`, `status`, `at` and `tier`; staff tokens (admin, operator,
 * manager) also see whom and through which bot.
 */
export interface ApprovalDelivery {
  channel: string;
  status: 'sent' | 'failed';
  at: string;
  tier?: 'initial' | 'escalation';
  managerId?: string;
  agentId?: string;
  chatId?: string;
  messageId?: string;
  error?: string;
  step?: number;
}

/** A manager not reached yet and why (a requester sees how many and why, not who). */
export interface ApprovalUnreached {
  tier: 'initial' | 'escalation';
  state: 'queued' | 'waiting' | 'retrying';
  since: string;
  managerId?: string;
  step?: number;
  reason?: string;
}

interface ApprovalFields {
  id: string;
  /** Bumped by every change (the stored record's version). */
  version: number;
  /** Six letters/digits managers see in chat (`K7QX2M`); accepted wherever an id is. */
  code: string;
  branchId: string;
  teamId?: string;
  /** The agent (or `admin`) that asked. */
  requesterId: string;
  actionType: string;
  summary: string;
  details?: unknown;
  /**
   * SHA-256 (hex) of the canonical JSON of `{actionType, details}` (keys
   * sorted at every level, no spaces, undefined members left out, `details`
   * left out when absent): what is being approved. `payloadHash()` computes
   * it. Absent only on approvals stored before it existed.
   */
  payloadHash?: string;
  /** What a built-in action will do, in words (message.send: the recipient and the exact text). */
  preview?: string;
  /** The risk in force: the action type's, or higher if the request raised it. */
  riskLevel: RiskLevel;
  /** The autonomy that applied (team, else branch, else the default). */
  autonomy: Autonomy;
  deliveries: ApprovalDelivery[];
  unreached?: ApprovalUnreached[];
  /** With `requiredApprovals > 1`: the approvals gathered so far. */
  approvals?: Array<{ by: string; via: string; at: string }>;
  requiredApprovals?: number;
  expiresAt: string;
  /**
   * Where the escalation chain stands: when the next step falls due, and each step taken with how
   * many people it asked. A requester's token sees counts; staff tokens also see whom (`asked` as a list)
   * and the chain's `steps`.
   */
  escalation?: {
    dueAt: string;
    done?: boolean;
    steps?: Array<{ afterSec: number; to: string[] }>;
    next?: number;
    source?: string;
    history?: Array<{ step: number; at: string; asked: number | Array<{ id: string; name: string }>; chats?: number }>;
  };
  /** What happens if nobody decides by `expiresAt`, and the config entry that says so. */
  onTimeout?: { action: 'expire' | 'reject'; source: string };
  /** What the requester reported after approval (`reportResult`). */
  result?: { success: boolean; error?: string; result?: unknown; at: string };
  /** Shown to the requester and staff, not to runners. */
  callbackUrl?: string;
  /** Shown to the requester and staff, not to runners (and never in webhooks). */
  idempotencyKey?: string;
  createdAt: string;
  updatedAt: string;
}

/** Still waiting for a decision. */
export interface PendingApproval extends ApprovalFields {
  status: 'pending';
  decision?: undefined;
}

/** Settled: approved (then perhaps executed or failed), rejected, expired or cancelled. */
export interface SettledApproval extends ApprovalFields {
  status: SettledApprovalStatus;
  decision: Decision;
}

/**
 * An approval request as the API shows it. Narrow on `status`:
 *
 * @example
 * if (approval.status === 'approved') console.log(approval.decision.byName);
 */
export type Approval = PendingApproval | SettledApproval;

/** `GET /api/approvals`: newest first. */
export interface ApprovalList {
  approvals: Approval[];
  total: number;
  limit: number;
  offset: number;
}

/** Filters of `listApprovals` (all optional; results are kept to the token's scope). */
export interface ApprovalFilter {
  branchId?: string;
  status?: ApprovalStatus;
  riskLevel?: RiskLevel;
  /** 1-500, default 50. */
  limit?: number;
  /** Default 0. */
  offset?: number;
  signal?: AbortSignal;
}

/** The answer to a manager's (or the admin's) decision. */
export type DecisionResult =
  | { outcome: 'decided'; approval: Approval }
  /** Recorded, but `requiredApprovals` wants `remaining` more different approvers. */
  | { outcome: 'recorded'; approval: PendingApproval; remaining: number };

export type WebhookEventName = 'approval.approved' | 'approval.rejected' | 'approval.expired' | 'approval.cancelled';

/**
 * The body of the outcome webhook sent to `callbackUrl` (see `verifyWebhook`).
 * The approval is the requester's view without `version` and `idempotencyKey`.
 */
export interface WebhookEvent {
  event: WebhookEventName;
  approval: Omit<SettledApproval, 'version' | 'idempotencyKey'>;
  /** The delivery's id, the same in every retry (covered by the signature; also in `X-Coordinator-Delivery`): act on each one once. */
  deliveryId?: string;
  /** When the coordinator sent this attempt (covered by the signature; each retry is stamped anew). */
  sentAt: string;
}

export interface AgentCheck {
  at: string;
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

export interface AgentStatusEntry {
  id: string;
  kind: 'bot' | 'action';
  channel?: string;
  status: AgentStatus;
  reason?: string;
  since?: string;
  lastCheck: AgentCheck | null;
  /** Hosted by a remote runner. */
  remote: boolean;
}

export type StatusTotals = Record<AgentStatus | 'total', number>;

export interface BranchStatus {
  id: string;
  name: string;
  /** Absent for `unknownBranch` entries. */
  timezone?: string;
  autonomy?: Autonomy;
  /** How many managers the branch has. */
  managers?: number;
  agents: AgentStatusEntry[];
  totals: StatusTotals;
  /** Agents stored for a branch the config no longer has. */
  unknownBranch?: true;
}

/** `GET /coordination/status`, kept to the token's branches. */
export interface CoordinationStatus {
  business: string;
  storage: {
    backend: 'file' | 'mongodb';
    ready: boolean;
    /** MongoDB is configured but the file store stands in for it. */
    fallback: boolean;
    detail: string;
    pendingSync?: number;
  };
  branches: BranchStatus[];
  totals: StatusTotals;
}
