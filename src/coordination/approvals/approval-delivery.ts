import type { ApprovalOutcome, ApprovalPrompt } from '../../bots/bot-agent.js';
import type { AgentHost } from '../../branches/agent-host.js';
import type { BranchConfig, Channel, ManagerConfig } from '../../config/config-schema.js';
import { identityOn } from '../../branches/manager-identity.js';
import type { ChannelRegistry } from '../../bots/channel-registry.js';
import type { Logger } from '../../config/logger.js';
import type { Clock } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import type { ApprovalRecord, Delivery } from '../../storage/records.js';
import type { Store } from '../../storage/store.js';

/**
 * Details shown in a chat prompt, at most (fits a Telegram message with the
 * summary and fields). A message.send text (1000 characters at most) always
 * fits whole, so a manager never approves words they could not see.
 */
const DETAILS_MAX = 2500;

export function promptOf(approval: ApprovalRecord, branchName: string): ApprovalPrompt {
  const details = approval.details === undefined ? undefined : typeof approval.details === 'string' ? approval.details : JSON.stringify(approval.details);
  return {
    approvalId: approval.id,
    code: approval.code,
    branchName,
    actionType: approval.actionType,
    summary: approval.summary,
    details: details && details.length > DETAILS_MAX ? `${details.slice(0, DETAILS_MAX)}… (cut: ${details.length - DETAILS_MAX} more characters on the dashboard)` : details,
    riskLevel: approval.riskLevel,
    requester: approval.requesterId,
    expiresAt: approval.expiresAt,
  };
}

/** The outcome shown on every copy, with the prompt it redraws. */
export function outcomeOf(approval: ApprovalRecord, branchName: string): ApprovalOutcome {
  const d = approval.decision;
  return { approvalId: approval.id, status: approval.status, by: d?.byName ?? d?.by, via: d?.via, at: d?.at, reason: d?.reason, prompt: promptOf(approval, branchName) };
}

/**
 * Puts approval prompts in front of managers: each on their preferred channel,
 * skipping a channel whose agent is not up and falling back to the next one
 * when a send fails; plus the branch's Slack approvals channel, if any.
 * Every attempt is recorded as a Delivery.
 */
export class ApprovalDelivery {
  /** `channelOrder`: the config's `defaults.channelOrder`, read at each delivery (managers' `prefer` wins). */
  constructor(private readonly deps: { store: Store; hosts: AgentHost; clock: Clock; logger: Logger; channelOrder: () => Channel[]; channels: ChannelRegistry }) {}

  private async upAgentFor(branch: BranchConfig, channel: string): Promise<string | undefined> {
    for (const agent of branch.agents.filter((a) => a.channel === channel)) {
      const record = await this.deps.store.agents.get(agent.id);
      if (record?.status === 'up' && this.deps.hosts.hosts(agent.id)) return agent.id;
    }
    return undefined;
  }

  async deliver(approval: ApprovalRecord, branch: BranchConfig, managers: ManagerConfig[], tier: Delivery['tier']): Promise<Delivery[]> {
    const prompt = promptOf(approval, branch.name);
    const out: Delivery[] = [];
    const attempt = async (base: Omit<Delivery, 'status' | 'at' | 'messageId' | 'error'>): Promise<boolean> => {
      try {
        const ref = await this.deps.hosts.promptApproval(base.agentId, base.chatId, prompt);
        // Keep the chat the platform answered with (Slack turns a user id into a DM channel id): updates go there.
        out.push({ ...base, chatId: ref.chatId, messageId: ref.messageId, status: 'sent', at: isoNow(this.deps.clock) });
        return true;
      } catch (error) {
        out.push({ ...base, status: 'failed', error: error instanceof Error ? error.message : String(error), at: isoNow(this.deps.clock) });
        return false;
      }
    };
    for (const manager of managers) {
      const order = (manager.prefer ?? this.deps.channelOrder()).filter((c) => identityOn(manager, c, this.deps.channels));
      for (const channel of order) {
        const agentId = await this.upAgentFor(branch, channel);
        if (!agentId) continue;
        if (await attempt({ managerId: manager.id, channel, agentId, chatId: identityOn(manager, channel, this.deps.channels)!, tier })) break;
      }
    }
    if (tier === 'initial') {
      for (const agent of branch.agents) {
        const chatId = this.deps.channels.find(agent.channel)?.approvalsChat?.(agent);
        if (!chatId) continue;
        const record = await this.deps.store.agents.get(agent.id);
        if (record?.status === 'up' && this.deps.hosts.hosts(agent.id)) await attempt({ channel: agent.channel, agentId: agent.id, chatId, tier });
      }
    }
    return out;
  }

  /** Shows the outcome on every copy of the prompt, on every channel. */
  async updateAll(approval: ApprovalRecord, branchName: string): Promise<void> {
    const outcome = outcomeOf(approval, branchName);
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
