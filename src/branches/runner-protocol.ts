import type { ApprovalOutcome, ApprovalPrompt, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bots/bot-agent.js';
import type { DecisionReply, DecisionRequest } from '../bots/channel-registry.js';

/**
 * The `/agents` Socket.IO namespace between the coordinator and runners.
 * Commands go down with an acknowledgement; bot events come up.
 */
export const RUNNER_NAMESPACE = '/agents';

export type Ack<T> = (reply: { ok: true; value: T } | { ok: false; error: string }) => void;

/** Runner -> coordinator. */
export interface RunnerToCoordinator {
  register: (hello: { runner: string; agents: string[] }, ack: Ack<{ accepted: string[] }>) => void;
  event: (event: BotEvent) => void;
  /** A decision tapped in chat on a runner's bot; the coordinator answers what to tell the presser. */
  decide: (request: DecisionRequest, ack: Ack<DecisionReply>) => void;
}

/** Coordinator -> runner. */
export interface CoordinatorToRunner {
  probe: (req: { agentId: string }, ack: Ack<ProbeResult>) => void;
  restart: (req: { agentId: string }, ack: Ack<null>) => void;
  send: (req: { agentId: string; chatId: string; text: string; options?: SendOptions }, ack: Ack<MessageRef>) => void;
  promptApproval: (req: { agentId: string; chatId: string; prompt: ApprovalPrompt }, ack: Ack<MessageRef>) => void;
  updateApproval: (req: { agentId: string; ref: MessageRef; outcome: ApprovalOutcome }, ack: Ack<null>) => void;
  /** To action agents connected with their own token: their approval requests as they change. */
  approval: (approval: unknown) => void;
}
