import type { DecisionReply, DecisionRequest } from '../../bots/channel-registry.js';
import { CodedError, ErrorCode } from '../../core/errors.js';
import type { ApprovalEngine } from './approval-engine.js';
import type { RuntimeSettings } from '../runtime-settings.js';

/**
 * Applies a decision tapped in chat and words the answer the presser sees
 * (Telegram's answerCallbackQuery, a Slack ephemeral, a WhatsApp reply).
 */
export function chatDecider(engine: ApprovalEngine, settings: RuntimeSettings): (request: DecisionRequest) => Promise<DecisionReply> {
  const refused = { ok: false, text: 'You are not allowed to decide this.' };
  return async (req) => {
    try {
      // Trust only what the config says about the relaying bot: its channel, and that it belongs
      // to the approval's branch (a runner cannot relay "decisions" for other branches).
      const branch = settings.config.branches.find((b) => b.agents.some((a) => a.id === req.agentId));
      const channel = branch?.agents.find((a) => a.id === req.agentId)?.channel;
      const approval = await engine.require(req.approvalId);
      if (!branch || !channel || approval.branchId !== branch.id) return refused;
      const result = await engine.decide({
        approvalId: approval.id,
        decision: req.decision,
        reason: req.reason,
        decider: { kind: 'chat', channel, userId: req.deciderId },
        via: channel,
      });
      const a = result.approval;
      if (result.outcome === 'recorded') return { ok: true, recorded: true, text: `Your approval of ${a.code} is recorded; ${result.remaining} more needed.` };
      if (result.outcome === 'too_late') {
        const d = a.decision;
        return { ok: false, text: `Too late: ${a.code} was already ${a.status}${d ? ` by ${d.byName ?? d.by} via ${d.via}` : ''}.` };
      }
      if (a.status === 'rejected') return { ok: true, text: req.reason ? `Reason recorded for ${a.code}.` : `Rejected ${a.code}.`, askReason: !req.reason && !a.decision?.reason };
      return { ok: true, text: `${a.status === 'executed' || a.status === 'approved' ? 'Approved' : a.status} ${a.code}.` };
    } catch (error) {
      // A manager the config knows is told why (not a manager at this branch, or a role below the policy's); anyone else only no.
      if (error instanceof CodedError && error.code === ErrorCode.Forbidden) return (error.details as { explained?: boolean } | undefined)?.explained ? { ok: false, text: error.message } : refused;
      if (error instanceof CodedError && error.code === ErrorCode.NotFound) return { ok: false, text: 'This request no longer exists.' };
      throw error;
    }
  };
}
