import type { ApprovalOutcome, ApprovalPrompt } from '../../bots/bot-agent.js';
import type { AgentHost } from '../../branches/agent-host.js';
import type { BranchConfig, CoordinatorConfig, ManagerConfig } from '../../config/config-schema.js';
import { identityOn } from '../../branches/manager-identity.js';
import type { ChannelRegistry } from '../../bots/channel-registry.js';
import type { Logger } from '../../config/logger.js';
import type { Clock } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import type { ApprovalRecord, Delivery, PromptJobRecord } from '../../storage/records.js';
import { detailsText } from './details-text.js';
import { promptTime } from '../../bots/prompt-time.js';
import type { Store } from '../../storage/store.js';

/**
 * Details shown in a chat prompt, at most (fits a Telegram message with the
 * summary and fields). A message.send text (1000 characters at most) always
 * fits whole, so a manager never approves words they could not see.
 */
const DETAILS_MAX = 2500;

/**
 * How long one prompt may take to send. A platform that hangs (accepts and
 * never answers) must not hold an outbox slot for its client's own timeout
 * (grammY's is 500 s): past this the send counts as failed and is retried.
 * A send that still lands later can show the prompt twice; a miss is worse.
 */
const SEND_DEADLINE_MS = 20_000;

function withDeadline<T>(work: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** What a prompt needs of its branch: its name, time zone, and managers (to name who approved and who was asked). */
export type PromptBranch = Pick<BranchConfig, 'name' | 'timezone' | 'managers'>;

/**
 * Where a pending approval stands, as lines every copy shows: the count of a
 * several-approver request and who approved so far, and each escalation step
 * with whom it asked and when (in the branch's time zone).
 */
export function progressOf(approval: ApprovalRecord, branch: PromptBranch): string[] {
  const name = (id: string) => branch.managers.find((m) => m.id === id)?.name ?? id;
  const when = (iso: string) => promptTime(iso, branch.timezone);
  const lines: string[] = [];
  const required = approval.requiredApprovals ?? 1;
  if (required > 1) {
    const got = approval.approvals ?? [];
    lines.push(got.length === 0 ? `Needs ${required} approvals from different managers; none yet.` : `${got.length} of ${required} approvals: ${got.map((a) => `${name(a.by)} (${when(a.at)})`).join(', ')}.`);
  }
  for (const step of approval.escalation?.history ?? []) {
    const who = [...step.asked.map((a) => a.name), ...(step.chats ? ['the ops chat'] : [])];
    if (who.length > 0) lines.push(`Escalated to ${who.join(', ')} at ${when(step.at)}.`);
  }
  return lines;
}

export function promptOf(approval: ApprovalRecord, branch: PromptBranch): ApprovalPrompt {
  // What the manager reads: a built-in action's own preview, else the details as key: value lines (never raw JSON).
  const details = approval.preview ?? detailsText(approval.details);
  const progress = progressOf(approval, branch);
  return {
    approvalId: approval.id,
    code: approval.code,
    branchName: branch.name,
    actionType: approval.actionType,
    summary: approval.summary,
    details: details && details.length > DETAILS_MAX ? `${details.slice(0, DETAILS_MAX)}… (cut: ${details.length - DETAILS_MAX} more characters on the dashboard)` : details,
    riskLevel: approval.riskLevel,
    requester: approval.requesterId,
    expiresAt: approval.expiresAt,
    ...(branch.timezone ? { timeZone: branch.timezone } : {}),
    ...(progress.length > 0 ? { progress } : {}),
  };
}

/** The outcome (or, while pending, the progress) shown on every copy, with the prompt it redraws. */
export function outcomeOf(approval: ApprovalRecord, branch: PromptBranch): ApprovalOutcome {
  const d = approval.decision;
  return { approvalId: approval.id, status: approval.status, by: d?.byName ?? d?.by, via: d?.via, at: d?.at, reason: d?.reason, prompt: promptOf(approval, branch) };
}

/**
 * Puts one approval prompt in front of a manager: on their preferred channel,
 * skipping a channel whose agent is not up and falling back to the next one
 * when a send fails; or in a branch's approvals chat. Every attempt is a
 * Delivery. What to send and when is the prompt outbox's (prompt-outbox.ts).
 */
export class ApprovalDelivery {
  /** `config`: read at each delivery (`defaults.channelOrder`, which managers' `prefer` wins over; the agents of every branch). */
  constructor(private readonly deps: { store: Store; hosts: AgentHost; clock: Clock; logger: Logger; config: () => CoordinatorConfig; channels: ChannelRegistry }) {}

  private channelOrder(): string[] {
    return this.deps.config().defaults.channelOrder;
  }

  private async upAgentFor(branch: BranchConfig, channel: string): Promise<string | undefined> {
    for (const agent of branch.agents.filter((a) => a.channel === channel)) if (await this.isUp(agent.id)) return agent.id;
    return undefined;
  }

  /** Whether a manager has a chat identity on some channel a prompt could go to. */
  reachable(manager: ManagerConfig): boolean {
    return (manager.prefer ?? this.channelOrder()).some((c) => identityOn(manager, c, this.deps.channels));
  }

  /** The branch chats that get every initial prompt (Slack's approvalsChannel), as agent and chat. */
  branchChats(branch: BranchConfig): Array<{ agentId: string; chatId: string }> {
    return branch.agents.flatMap((agent) => {
      const chatId = this.deps.channels.find(agent.channel)?.approvalsChat?.(agent);
      return chatId ? [{ agentId: agent.id, chatId }] : [];
    });
  }

  /**
   * Sends one queued prompt: a manager's on their preferred channel whose
   * agent is up, falling back to the next when a send fails; a branch chat's
   * on its agent. `waiting`: nothing could be tried (no channel up); `failed`:
   * every channel tried failed (retried later); `gone`: no longer sendable
   * (the manager was removed from the config or has no chat identity left).
   */
  async send(job: PromptJobRecord, approval: ApprovalRecord, branch: BranchConfig): Promise<{ result: 'sent' | 'waiting' | 'failed' | 'gone'; deliveries: Delivery[]; reason?: string }> {
    const prompt = promptOf(approval, branch);
    const deliveries: Delivery[] = [];
    const attempt = async (base: Omit<Delivery, 'status' | 'at' | 'messageId' | 'error'>): Promise<boolean> => {
      try {
        const ref = await withDeadline(this.deps.hosts.promptApproval(base.agentId, base.chatId, prompt), SEND_DEADLINE_MS, `${base.channel} gave no answer within ${SEND_DEADLINE_MS / 1000} s`);
        // Keep the chat the platform answered with (Slack turns a user id into a DM channel id): updates go there.
        deliveries.push({ ...base, chatId: ref.chatId, messageId: ref.messageId, status: 'sent', at: isoNow(this.deps.clock) });
        return true;
      } catch (error) {
        deliveries.push({ ...base, status: 'failed', error: error instanceof Error ? error.message : String(error), at: isoNow(this.deps.clock) });
        return false;
      }
    };
    const failedReason = () => deliveries.map((d) => `${d.channel}: ${d.error}`).join('; ');
    if (!job.managerId) {
      if (!job.agentId || !job.chatId) return { result: 'gone', deliveries, reason: 'no chat named' };
      // The business's ops chat (an escalation step) is another branch's agent.
      const agent = branch.agents.find((a) => a.id === job.agentId) ?? this.deps.config().branches.flatMap((b) => b.agents).find((a) => a.id === job.agentId);
      if (!agent) return { result: 'gone', deliveries, reason: `agent ${job.agentId} is no longer configured` };
      if (!(await this.isUp(agent.id))) return { result: 'waiting', deliveries, reason: `${agent.id} is not up` };
      const sent = await attempt({ channel: agent.channel, agentId: agent.id, chatId: job.chatId, tier: job.tier, ...(job.step ? { step: job.step } : {}) });
      return sent ? { result: 'sent', deliveries } : { result: 'failed', deliveries, reason: failedReason() };
    }
    const manager = branch.managers.find((m) => m.id === job.managerId);
    if (!manager) return { result: 'gone', deliveries, reason: `manager ${job.managerId} is no longer configured` };
    const order = (manager.prefer ?? this.channelOrder()).filter((c) => identityOn(manager, c, this.deps.channels));
    if (order.length === 0) return { result: 'gone', deliveries, reason: `${manager.name} has no chat identity on any channel` };
    const down: string[] = [];
    for (const channel of order) {
      const agentId = await this.upAgentFor(branch, channel);
      if (!agentId) {
        down.push(channel);
        continue;
      }
      if (await attempt({ managerId: manager.id, channel, agentId, chatId: identityOn(manager, channel, this.deps.channels)!, tier: job.tier, ...(job.step ? { step: job.step } : {}) })) return { result: 'sent', deliveries };
    }
    if (deliveries.length === 0) return { result: 'waiting', deliveries, reason: `no agent up on ${down.join(', ')}` };
    return { result: 'failed', deliveries, reason: [failedReason(), down.length > 0 ? `no agent up on ${down.join(', ')}` : ''].filter(Boolean).join('; ') };
  }

  private async isUp(agentId: string): Promise<boolean> {
    const record = await this.deps.store.agents.get(agentId);
    return record?.status === 'up' && this.deps.hosts.hosts(agentId);
  }

  /** Shows the outcome on one copy (a prompt that went out after the decision). */
  async updateOne(approval: ApprovalRecord, branch: PromptBranch, d: Delivery): Promise<void> {
    if (d.status !== 'sent' || !d.messageId) return;
    await this.deps.hosts.updateApproval(d.agentId, { chatId: d.chatId, messageId: d.messageId }, outcomeOf(approval, branch)).catch((error: unknown) =>
      this.deps.logger.warn('could not update an approval prompt', { module: 'approvals', approvalId: approval.id, agentId: d.agentId, error }),
    );
  }

  /** Shows the outcome (or the progress of a pending one) on every copy of the prompt, on every channel. */
  async updateAll(approval: ApprovalRecord, branch: PromptBranch): Promise<void> {
    const outcome = outcomeOf(approval, branch);
    await Promise.all(
      approval.deliveries
        .filter((d) => d.status === 'sent' && d.messageId)
        .map((d) =>
          this.deps.hosts.updateApproval(d.agentId, { chatId: d.chatId, messageId: d.messageId! }, outcome).catch((error: unknown) =>
            this.deps.logger.warn('could not update an approval prompt', { module: 'approvals', approvalId: approval.id, agentId: d.agentId, error }),
          ),
        ),
    );
  }
}
