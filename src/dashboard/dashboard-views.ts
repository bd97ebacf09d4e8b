import type { Clock } from '../core/clock.js';
import { NotFoundError } from '../core/errors.js';
import type { AgentRegistry } from '../coordination/agent-registry.js';
import type { ApprovalEngine } from '../coordination/approvals/approval-engine.js';
import type { LearnedRule } from '../coordination/approvals/learned-rules.js';
import { progressOf } from '../coordination/approvals/approval-delivery.js';
import { detailsText } from '../coordination/approvals/details-text.js';
import { promptTime } from '../bots/prompt-time.js';
import type { RuntimeSettings } from '../coordination/runtime-settings.js';
import type { ApprovalRecord, AuditEventRecord, ConversationRecord, MessageRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import { computeMetrics, type MetricsSnapshot } from './dashboard-metrics.js';
import type { LiveMetrics } from './live-metrics.js';

export type AgentCard = Awaited<ReturnType<AgentRegistry['details']>> & { branchName: string };
/**
 * What the page shows of an approval: no request hash or idempotency key, and
 * `shown`: what it will do in words (a built-in action's preview, else the
 * details as key: value lines; never raw JSON), where it stands (the same
 * lines as every chat copy), and its times in the branch's zone.
 */
export type ApprovalView = Omit<ApprovalRecord, 'requestHash' | 'idempotencyKey'> & {
  shown: { what?: string; progress: string[]; timeZone: string; created: string; expires: string; decided?: string };
};
export type ConversationView = Omit<ConversationRecord, 'staffThreads' | 'autoReplies' | 'version'> & { contactName?: string };
export type MessageView = Pick<MessageRecord, 'id' | 'direction' | 'text' | 'at' | 'handledBy' | 'status'>;

/** What the page gets on connect; live events then update it piece by piece. */
export interface Snapshot {
  branches: Array<{ id: string; name: string }>;
  agents: AgentCard[];
  /** Every pending request (up to MAX_PENDING, oldest first to expire are never dropped), then the most recent decided ones. */
  approvals: ApprovalView[];
  /** Pending requests in the store; more than `approvals` holds when past MAX_PENDING. */
  pendingTotal: number;
  /** Whether operators can resolve hand-offs here (the dashboard was given the conversation service). */
  canResolve: boolean;
  rules: LearnedRule[];
  audit: AuditEventRecord[];
  conversations: ConversationView[];
  metrics: MetricsSnapshot;
}

/** Pending requests sent to a page; beyond this the page says how many it does not show. */
export const MAX_PENDING = 1000;
export const RECENT_APPROVALS = 200;
export const RECENT_MESSAGES = 30;
export const RECENT_AUDIT = 50;
export const RECENT_CONVERSATIONS = 50;

/** Read-only queries behind the dashboard panels (no business logic: the engine, registry and monitor own that). */
export class DashboardViews {
  constructor(private readonly deps: { store: Store; clock: Clock; settings: RuntimeSettings; registry: AgentRegistry; approvals: ApprovalEngine; canResolve?: boolean; live?: LiveMetrics }) {}

  private branchName(id: string): string {
    return this.deps.settings.config.branches.find((b) => b.id === id)?.name ?? id;
  }

  /** What the page shows of an approval (`ApprovalView`). */
  approvalView(a: ApprovalRecord): ApprovalView {
    const { requestHash: _h, idempotencyKey: _k, ...rest } = a;
    const branch = this.deps.settings.config.branches.find((b) => b.id === a.branchId);
    const timeZone = branch?.timezone ?? 'UTC';
    const what = a.preview ?? detailsText(a.details);
    return {
      ...rest,
      shown: {
        ...(what ? { what } : {}),
        progress: branch ? progressOf(a, branch) : [],
        timeZone,
        created: promptTime(a.createdAt, timeZone),
        expires: promptTime(a.expiresAt, timeZone),
        ...(a.decision ? { decided: promptTime(a.decision.at, timeZone) } : {}),
      },
    };
  }

  /** One agent card: status, reason, last check, 24 h uptime and the recent checks. */
  async agent(id: string): Promise<AgentCard | null> {
    const agent = await this.deps.store.agents.get(id);
    if (!agent) return null;
    return { ...(await this.deps.registry.details(id, 30)), branchName: this.branchName(agent.branchId) };
  }

  async agents(): Promise<AgentCard[]> {
    const all = await this.deps.store.agents.find({ orderBy: { field: 'id' } });
    const cards = await Promise.all(all.map((a) => this.agent(a.id)));
    return cards.filter((c): c is AgentCard => c !== null);
  }

  /** The queue: pending requests first (a burst of new ones never pushes older pending ones out), then recent decided ones. */
  async approvals(): Promise<{ approvals: ApprovalView[]; pendingTotal: number }> {
    const { approvals } = this.deps.store;
    const [pending, pendingTotal, recent] = await Promise.all([
      approvals.find({ where: { status: 'pending' }, orderBy: { field: 'expiresAt' }, limit: MAX_PENDING }),
      approvals.count({ status: 'pending' }),
      approvals.find({ where: { status: { ne: 'pending' } }, orderBy: { field: 'createdAt', direction: 'desc' }, limit: RECENT_APPROVALS }),
    ]);
    return { approvals: [...pending, ...recent].map((a) => this.approvalView(a)), pendingTotal };
  }

  /** How many requests are pending in the store (the page shows at most MAX_PENDING of them). */
  async pendingTotal(): Promise<{ pendingTotal: number }> {
    return { pendingTotal: await this.deps.store.approvals.count({ status: 'pending' }) };
  }

  /** A stored conversation by id (404 if unknown). */
  async conversationRecord(id: string): Promise<ConversationRecord> {
    const record = await this.deps.store.conversations.get(id);
    if (!record) throw new NotFoundError('Conversation', id);
    return record;
  }

  /** A conversation's latest messages (its contact's), oldest first. */
  async messages(conversationId: string): Promise<MessageView[]> {
    const { contactId } = await this.conversationRecord(conversationId);
    const list = await this.deps.store.messages.find({ where: { contactId }, orderBy: { field: 'at', direction: 'desc' }, limit: RECENT_MESSAGES });
    return list.reverse().map(({ id, direction, text, at, handledBy, status }) => ({ id, direction, text, at, ...(handledBy ? { handledBy } : {}), ...(status ? { status } : {}) }));
  }

  async audit(afterSeq = 0, limit = RECENT_AUDIT): Promise<AuditEventRecord[]> {
    if (afterSeq > 0) return this.deps.store.auditEvents.find({ where: { seq: { gt: afterSeq } }, orderBy: { field: 'seq' }, limit });
    return (await this.deps.store.auditEvents.find({ orderBy: { field: 'seq', direction: 'desc' }, limit })).reverse();
  }

  /** What a page sees of a conversation (not the staff threads' chat ids). */
  async conversation(record: ConversationRecord & { contactName?: string }): Promise<ConversationView> {
    const { staffThreads: _t, autoReplies: _a, version: _v, ...view } = record;
    if (record.contactName) return view;
    const contact = await this.deps.store.contacts.get(record.contactId);
    return { ...view, ...(contact?.name ? { contactName: contact.name } : {}) };
  }

  async conversations(): Promise<ConversationView[]> {
    const list = await this.deps.store.conversations.find({ orderBy: { field: 'lastMessageAt', direction: 'desc' }, limit: RECENT_CONVERSATIONS });
    return Promise.all(list.map((c) => this.conversation(c)));
  }

  rules(): Promise<LearnedRule[]> {
    return this.deps.approvals.learned.list();
  }

  /** From memory, kept up to date by events, when the dashboard runs live metrics; else read from the store. */
  metrics(): Promise<MetricsSnapshot> {
    return this.deps.live ? this.deps.live.snapshot() : computeMetrics(this.deps.store, this.deps.clock.now());
  }

  async snapshot(): Promise<Snapshot> {
    const [agents, { approvals, pendingTotal }, rules, audit, conversations, metrics] = await Promise.all([
      this.agents(),
      this.approvals(),
      this.rules(),
      this.audit(),
      this.conversations(),
      this.metrics(),
    ]);
    const branches = this.deps.settings.config.branches.map((b) => ({ id: b.id, name: b.name }));
    return { branches, agents, approvals, pendingTotal, canResolve: Boolean(this.deps.canResolve), rules, audit, conversations, metrics };
  }
}

