import type { AgentStatus, ApprovalRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';

/** The Activity panel's numbers; series run oldest to newest. */
export interface MetricsSnapshot {
  at: string;
  /** Approvals requested in each of the last 24 hours. */
  approvalsPerHour: number[];
  /** Approved / (approved + rejected) by people and policy over 24 h; null with no decisions. */
  approvalRate: number | null;
  /** Median seconds from request to a person's decision over 24 h; null with none. */
  medianDecisionSec: number | null;
  /** Share of the last 24 h's requests approved by policy (autonomy or a learned rule). */
  autoApprovedShare: number | null;
  /** Customer and staff messages in each of the last 60 minutes. */
  messagesPerMinute: number[];
  agents: Record<AgentStatus, number>;
}

const HOUR = 3600_000;
const MINUTE = 60_000;
const MAX_ROWS = 20_000;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function buckets(times: number[], now: number, size: number, count: number): number[] {
  const out = new Array<number>(count).fill(0);
  for (const t of times) {
    const idx = count - 1 - Math.floor((now - t) / size);
    if (idx >= 0 && idx < count) out[idx]++;
  }
  return out;
}

const decidedByPerson = (a: ApprovalRecord) => a.decision && a.decision.by !== 'policy' && a.decision.by !== 'system' && (a.decision.outcome === 'approved' || a.decision.outcome === 'rejected');

/** Computes the metrics from the store (bounded queries over the last 24 h / 60 min). */
export async function computeMetrics(store: Store, now: number): Promise<MetricsSnapshot> {
  const dayAgo = new Date(now - 24 * HOUR).toISOString();
  const hourAgo = new Date(now - 60 * MINUTE).toISOString();
  const [approvals, messages, agents] = await Promise.all([
    store.approvals.find({ where: { createdAt: { gte: dayAgo } }, limit: MAX_ROWS }),
    store.messages.find({ where: { at: { gte: hourAgo } }, limit: MAX_ROWS }),
    store.agents.find(),
  ]);
  const decided = approvals.filter((a) => a.decision?.outcome === 'approved' || a.decision?.outcome === 'rejected');
  const approved = decided.filter((a) => a.decision!.outcome === 'approved').length;
  const byPolicy = approvals.filter((a) => a.decision?.by === 'policy').length;
  const counts: Record<AgentStatus, number> = { up: 0, down: 0, pending: 0, maintenance: 0, blocked: 0 };
  for (const a of agents) counts[a.status]++;
  return {
    at: new Date(now).toISOString(),
    approvalsPerHour: buckets(approvals.map((a) => Date.parse(a.createdAt)), now, HOUR, 24),
    approvalRate: decided.length ? approved / decided.length : null,
    medianDecisionSec: median(approvals.filter(decidedByPerson).map((a) => (Date.parse(a.decision!.at) - Date.parse(a.createdAt)) / 1000)),
    autoApprovedShare: approvals.length ? byPolicy / approvals.length : null,
    messagesPerMinute: buckets(messages.map((m) => Date.parse(m.at)), now, MINUTE, 60),
    agents: counts,
  };
}
