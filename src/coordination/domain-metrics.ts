import client from 'prom-client';
import type { Store } from '../storage/store.js';
import type { EventBus } from './event-bus.js';

/**
 * The approval and conversation series a Grafana board is built from, counted
 * from domain events (so they cost nothing on the paths that emit them).
 * Every label set is bounded: branches and channels come from the config,
 * risks, outcomes and results are fixed sets. Returns the unsubscribe.
 */
export function domainMetrics(registry: client.Registry, bus: EventBus, store: Store): () => void {
  const requested = new client.Counter({
    name: 'coordinator_approvals_requested_total',
    help: 'Approval requests created, by branch, risk and whether policy auto-approved them',
    labelNames: ['branch', 'risk', 'auto'] as const,
    registers: [registry],
  });
  const decided = new client.Counter({
    name: 'coordinator_approvals_decided_total',
    help: 'Approvals that reached an outcome (approved, rejected, expired, cancelled), by branch and risk',
    labelNames: ['branch', 'risk', 'outcome'] as const,
    registers: [registry],
  });
  const timeToDecision = new client.Histogram({
    name: 'coordinator_approval_decision_seconds',
    help: 'Time from request to outcome, by risk and outcome',
    labelNames: ['risk', 'outcome'] as const,
    buckets: [1, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600],
    registers: [registry],
  });
  const prompts = new client.Counter({
    name: 'coordinator_approval_prompts_total',
    help: 'Approval prompt sends by channel and result (sent, failed; waiting: no channel of the manager was up, channel "none")',
    labelNames: ['channel', 'result'] as const,
    registers: [registry],
  });
  const escalations = new client.Counter({
    name: 'coordinator_approval_escalations_total',
    help: 'Escalations of still-pending approvals, by branch and risk',
    labelNames: ['branch', 'risk'] as const,
    registers: [registry],
  });
  new client.Gauge({
    name: 'coordinator_approvals_pending',
    help: 'Approvals waiting for a decision now',
    registers: [registry],
    async collect() {
      this.set(await store.approvals.count({ status: 'pending' }));
    },
  });
  new client.Gauge({
    name: 'coordinator_approval_prompts_open',
    help: 'Approval prompts still in the outbox (queued, sending or waiting for a channel)',
    registers: [registry],
    async collect() {
      this.set(await store.prompts.count({ status: { in: ['queued', 'sending', 'waiting'] } }));
    },
  });
  const messages = new client.Counter({
    name: 'coordinator_customer_messages_total',
    help: 'Customer conversation messages stored, by branch, channel and direction',
    labelNames: ['branch', 'channel', 'direction'] as const,
    registers: [registry],
  });
  const handoffs = new client.Counter({
    name: 'coordinator_handoffs_total',
    help: 'Conversations handed to staff, by branch and channel',
    labelNames: ['branch', 'channel'] as const,
    registers: [registry],
  });
  const off = [
    bus.on('approval.created', (e) => requested.inc({ branch: e.branchId, risk: e.risk, auto: e.autoApproved ? 'yes' : 'no' })),
    bus.on('approval.decided', (e) => {
      decided.inc({ branch: e.branchId, risk: e.risk, outcome: e.outcome });
      timeToDecision.observe({ risk: e.risk, outcome: e.outcome }, e.seconds);
    }),
    bus.on('approval.prompt', (e) => prompts.inc({ channel: e.channel, result: e.result })),
    bus.on('approval.escalated', (e) => escalations.inc({ branch: e.branchId, risk: e.risk })),
    bus.on('message.recorded', (m) => messages.inc({ branch: m.branchId, channel: m.channel, direction: m.direction })),
    bus.on('conversation.handoff', (e) => handoffs.inc({ branch: e.branchId, channel: e.channel })),
  ];
  return () => off.forEach((unsubscribe) => unsubscribe());
}
