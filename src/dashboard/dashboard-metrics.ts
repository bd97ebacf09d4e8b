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

export const HOUR = 3600_000;
export const MINUTE = 60_000;
/** The most approvals (24 h) and messages (60 min) the numbers are made of: beyond, they cover the newest. */
export const MAX_METRIC_ROWS = 20_000;

/** What the panel needs of one approval (the live metrics keep these for the last 24 h). */
export interface ApprovalFacts {
  id: string;
  createdAt: number;
  decided?: 'approved' | 'rejected';
  byPolicy: boolean;
  /** Seconds from request to a person's decision, when a person decided. */
  personSeconds?: number;
}

/** What the numbers are computed from: read from the store, or kept up to date by LiveMetrics. */
export interface MetricFacts {
  approvals: ApprovalFacts[];
  /** Messages per second since the epoch (second -> count): the minutes are counted back from now. */
  perSecond: Map<number, number>;
  agents: Map<string, AgentStatus>;
  /** The messages counted (so events about them are not counted again). */
  messageIds: string[];
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function factsOf(a: ApprovalRecord): ApprovalFacts {
  const outcome = a.decision?.outcome;
  const by = a.decision?.by;
  const decided = outcome === 'approved' || outcome === 'rejected' ? outcome : undefined;
  return {
    id: a.id,
    createdAt: Date.parse(a.createdAt),
    ...(decided ? { decided } : {}),
    byPolicy: by === 'policy',
    ...(decided && by !== 'policy' && by !== 'system' ? { personSeconds: (Date.parse(a.decision!.at) - Date.parse(a.createdAt)) / 1000 } : {}),
  };
}

/** Reads the facts from the store (bounded queries over the last 24 h / 60 min). */
export async function readMetricFacts(store: Store, now: number): Promise<MetricFacts> {
  const dayAgo = new Date(now - 24 * HOUR).toISOString();
  const hourAgo = new Date(now - 60 * MINUTE).toISOString();
  const [approvals, messages, agents] = await Promise.all([
    store.approvals.find({ where: { createdAt: { gte: dayAgo } }, orderBy: { field: 'createdAt', direction: 'desc' }, limit: MAX_METRIC_ROWS }),
    store.messages.find({ where: { at: { gte: hourAgo } }, orderBy: { field: 'at', direction: 'desc' }, limit: MAX_METRIC_ROWS }),
    store.agents.find(),
  ]);
  const perSecond = new Map<number, number>();
  for (const m of messages) countMessage(perSecond, Date.parse(m.at));
  return { approvals: approvals.map(factsOf), perSecond, agents: new Map(agents.map((a) => [a.id, a.status])), messageIds: messages.map((m) => m.id) };
}

/** Counts a message at `at` (ms) in its second. */
export function countMessage(perSecond: Map<number, number>, at: number): void {
  if (!Number.isFinite(at)) return;
  const second = Math.floor(at / 1000);
  perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
}

/** The numbers at `now` from the facts (approvals older than 24 h and minutes older than 60 are left out). */
export function summarise(now: number, facts: Pick<MetricFacts, 'approvals' | 'perSecond' | 'agents'>): MetricsSnapshot {
  const dayAgo = now - 24 * HOUR;
  const approvals = facts.approvals.filter((a) => a.createdAt >= dayAgo);
  const approvalsPerHour = new Array<number>(24).fill(0);
  for (const a of approvals) {
    const idx = 23 - Math.floor((now - a.createdAt) / HOUR);
    if (idx >= 0 && idx < 24) approvalsPerHour[idx]++;
  }
  // The last bar is the 60 seconds up to now (to the second), the one before it the 60 before those...
  const messagesPerMinute = new Array<number>(60).fill(0);
  for (const [second, count] of facts.perSecond) {
    const idx = 59 - Math.floor((now - second * 1000) / MINUTE);
    if (idx >= 0 && idx < 60) messagesPerMinute[idx] += count;
  }
  const decided = approvals.filter((a) => a.decided);
  const approved = decided.filter((a) => a.decided === 'approved').length;
  const counts: Record<AgentStatus, number> = { up: 0, down: 0, pending: 0, maintenance: 0, blocked: 0 };
  for (const status of facts.agents.values()) counts[status]++;
  return {
    at: new Date(now).toISOString(),
    approvalsPerHour,
    approvalRate: decided.length ? approved / decided.length : null,
    medianDecisionSec: median(approvals.flatMap((a) => (a.personSeconds === undefined ? [] : [a.personSeconds]))),
    autoApprovedShare: approvals.length ? approvals.filter((a) => a.byPolicy).length / approvals.length : null,
    messagesPerMinute,
    agents: counts,
  };
}

/** Computes the metrics from the store (bounded queries over the last 24 h / 60 min). */
export async function computeMetrics(store: Store, now: number): Promise<MetricsSnapshot> {
  return summarise(now, await readMetricFacts(store, now));
}
