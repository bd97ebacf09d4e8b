import { Listeners } from '../core/listeners.js';
import type { Socket } from 'socket.io';
import type { ApprovalOutcome, ApprovalPrompt, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bots/bot-agent.js';
import type { AgentHost } from './agent-host.js';
import type { Ack, CoordinatorToRunner, RunnerToCoordinator } from './runner-protocol.js';

type RunnerSocket = Socket<RunnerToCoordinator, CoordinatorToRunner>;

/** The agents of one connected runner, driven over its socket with acknowledged commands. */
export class RemoteAgentHost implements AgentHost {
  readonly name: string;
  private readonly listeners = new Listeners<BotEvent>();

  constructor(
    private readonly socket: RunnerSocket,
    runner: string,
    private readonly agents: Set<string>,
    private readonly timeoutMs: number,
  ) {
    this.name = `runner:${runner}`;
    socket.on('event', (event) => {
      if ('agentId' in event ? this.agents.has(event.agentId) : this.agents.has(event.message.agentId)) this.listeners.emit(event);
    });
  }

  hosts(agentId: string): boolean {
    return this.socket.connected && this.agents.has(agentId);
  }

  private async call<T>(emit: (ack: Ack<T>) => void, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`runner did not answer ${what} within ${this.timeoutMs} ms`)), this.timeoutMs);
      emit((reply) => {
        clearTimeout(timer);
        if (reply.ok) resolve(reply.value);
        else reject(new Error(reply.error));
      });
    });
  }

  probe(agentId: string, signal: AbortSignal): Promise<ProbeResult> {
    if (signal.aborted) return Promise.reject(new Error('aborted'));
    return this.call<ProbeResult>((ack) => this.socket.emit('probe', { agentId }, ack), 'a ping');
  }

  restart(agentId: string): Promise<void> {
    return this.call<null>((ack) => this.socket.emit('restart', { agentId }, ack), 'a restart').then(() => undefined);
  }

  send(agentId: string, chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    return this.call<MessageRef>((ack) => this.socket.emit('send', { agentId, chatId, text, options }, ack), 'a send');
  }

  promptApproval(agentId: string, chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    return this.call<MessageRef>((ack) => this.socket.emit('promptApproval', { agentId, chatId, prompt }, ack), 'an approval prompt');
  }

  updateApproval(agentId: string, ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    return this.call<null>((ack) => this.socket.emit('updateApproval', { agentId, ref, outcome }, ack), 'an approval update').then(() => undefined);
  }

  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  async stop(): Promise<void> {
    this.socket.disconnect(true);
  }
}
