import type { Clock } from '../core/clock.js';
import type { AgentRegistry } from '../coordination/agent-registry.js';
import type { ApprovalEngine } from '../coordination/approvals/approval-engine.js';
import type { LearnedRule } from '../coordination/approvals/learned-rules.js';
import type { RuntimeSettings } from '../coordination/runtime-settings.js';
import type { ApprovalRecord, AuditEventRecord, ConversationRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import { computeMetrics, type MetricsSnapshot } from './dashboard-metrics.js';

export type AgentCard = Awaited<ReturnType<AgentRegistry['details']>> & { branchName: string };
export type ApprovalView = Omit<ApprovalRecord, 'requestHash' | 'idempotencyKey'>;
export type ConversationView = ConversationRecord & { contactName?: string };

/** What the page gets on connect; live events then update it piece by piece. */
export interface Snapshot {
  branches: Array<{ id: string; name: string }>;
  agents: AgentCard[];
  approvals: ApprovalView[];
  rules: LearnedRule[];
  audit: AuditEventRecord[];
  conversations: ConversationView[];
  metrics: MetricsSnapshot;
}

export const RECENT_APPROVALS = 200;
export const RECENT_AUDIT = 50;
export const RECENT_CONVERSATIONS = 50;

/** Read-only queries behind the dashboard panels (no business logic: the engine, registry and monitor own that). */
export class DashboardViews {
  constructor(private readonly deps: { store: Store; clock: Clock; settings: RuntimeSettings; registry: AgentRegistry; approvals: ApprovalEngine }) {}

  private branchName(id: string): string {
    return this.deps.settings.config.branches.find((b) => b.id === id)?.name ?? id;
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

  async approvals(): Promise<ApprovalView[]> {
    const list = await this.deps.store.approvals.find({ orderBy: { field: 'createdAt', direction: 'desc' }, limit: RECENT_APPROVALS });
    return list.map(approvalView);
  }

  async audit(afterSeq = 0, limit = RECENT_AUDIT): Promise<AuditEventRecord[]> {
    if (afterSeq > 0) return this.deps.store.auditEvents.find({ where: { seq: { gt: afterSeq } }, orderBy: { field: 'seq' }, limit });
    return (await this.deps.store.auditEvents.find({ orderBy: { field: 'seq', direction: 'desc' }, limit })).reverse();
  }

  async conversation(record: ConversationRecord & { contactName?: string }): Promise<ConversationView> {
    if (record.contactName) return record;
    const contact = await this.deps.store.contacts.get(record.contactId);
    return { ...record, ...(contact?.name ? { contactName: contact.name } : {}) };
  }

  async conversations(): Promise<ConversationView[]> {
    const list = await this.deps.store.conversations.find({ orderBy: { field: 'lastMessageAt', direction: 'desc' }, limit: RECENT_CONVERSATIONS });
    return Promise.all(list.map((c) => this.conversation(c)));
  }

  rules(): Promise<LearnedRule[]> {
    return this.deps.approvals.learned.list();
  }

  metrics(): Promise<MetricsSnapshot> {
    return computeMetrics(this.deps.store, this.deps.clock.now());
  }

  async snapshot(): Promise<Snapshot> {
    const [agents, approvals, rules, audit, conversations, metrics] = await Promise.all([
      this.agents(),
      this.approvals(),
      this.rules(),
      this.audit(),
      this.conversations(),
      this.metrics(),
    ]);
    const branches = this.deps.settings.config.branches.map((b) => ({ id: b.id, name: b.name }));
    return { branches, agents, approvals, rules, audit, conversations, metrics };
  }
}

/** What the page shows of an approval (no request hash, no idempotency key). */
export function approvalView(a: ApprovalRecord): ApprovalView {
  const { requestHash: _h, idempotencyKey: _k, ...rest } = a;
  return rest;
}
