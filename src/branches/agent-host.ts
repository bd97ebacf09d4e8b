import { Listeners } from '../core/listeners.js';
import type { ApprovalOutcome, ApprovalPrompt, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bots/bot-agent.js';

/**
 * Where bot agents run: in this process (LocalAgentHost) or in a runner
 * process connected over Socket.IO (RemoteAgentHost). The coordinator treats
 * both the same way through this interface.
 */
export interface AgentHost {
  readonly name: string;
  hosts(agentId: string): boolean;
  probe(agentId: string, signal: AbortSignal): Promise<ProbeResult>;
  restart(agentId: string): Promise<void>;
  send(agentId: string, chatId: string, text: string, options?: SendOptions): Promise<MessageRef>;
  promptApproval(agentId: string, chatId: string, prompt: ApprovalPrompt): Promise<MessageRef>;
  updateApproval(agentId: string, ref: MessageRef, outcome: ApprovalOutcome): Promise<void>;
  onEvent(listener: (event: BotEvent) => void): () => void;
  stop(): Promise<void>;
}

/** Several hosts behind one: the first that hosts an agent answers for it. */
export class AgentHosts implements AgentHost {
  readonly name = 'all';
  private readonly hostsList: AgentHost[] = [];
  private readonly listeners = new Listeners<BotEvent>();

  add(host: AgentHost): void {
    this.hostsList.push(host);
    host.onEvent((e) => this.listeners.emit(e));
  }

  remove(host: AgentHost): void {
    const i = this.hostsList.indexOf(host);
    if (i >= 0) this.hostsList.splice(i, 1);
  }

  find(agentId: string): AgentHost | undefined {
    return this.hostsList.find((h) => h.hosts(agentId));
  }

  hosts(agentId: string): boolean {
    return this.find(agentId) !== undefined;
  }

  private need(agentId: string): AgentHost {
    const host = this.find(agentId);
    if (!host) throw new Error(`agent ${agentId} is not running in this process or on any connected runner`);
    return host;
  }

  // Async so that "no host has this agent" is a rejected promise callers can catch, never a synchronous throw.
  async probe(agentId: string, signal: AbortSignal): Promise<ProbeResult> {
    return this.need(agentId).probe(agentId, signal);
  }
  async restart(agentId: string): Promise<void> {
    return this.need(agentId).restart(agentId);
  }
  async send(agentId: string, chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    return this.need(agentId).send(agentId, chatId, text, options);
  }
  async promptApproval(agentId: string, chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    return this.need(agentId).promptApproval(agentId, chatId, prompt);
  }
  async updateApproval(agentId: string, ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    return this.need(agentId).updateApproval(agentId, ref, outcome);
  }
  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }
  async stop(): Promise<void> {
    await Promise.all(this.hostsList.map((h) => h.stop()));
  }
}

