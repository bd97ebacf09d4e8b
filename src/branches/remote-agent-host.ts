import { Listeners } from '../core/listeners.js';
import type { Socket } from 'socket.io';
import type { ApprovalOutcome, ApprovalPrompt, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bots/bot-agent.js';
import type { AgentHost } from './agent-host.js';
import { ackSchema, COMMAND_REPLIES, describeIssues, type CoordinatorToRunner, type RunnerCommand, type RunnerToCoordinator } from './runner-protocol.js';

type RunnerSocket = Socket<RunnerToCoordinator, CoordinatorToRunner>;

/**
 * The agents of one connected runner, driven over its socket with acknowledged
 * commands. It holds no trust of its own: the gateway hands it only events it
 * has parsed and scoped (`accept`), and every reply a runner acknowledges a
 * command with is parsed here before a caller sees it; a malformed reply is a
 * failed command, reported through `onMalformedReply` (the gateway audits it).
 */
export class RemoteAgentHost implements AgentHost {
  readonly name: string;
  private readonly listeners = new Listeners<BotEvent>();

  constructor(
    private readonly socket: RunnerSocket,
    runner: string,
    private readonly agents: ReadonlySet<string>,
    private readonly timeoutMs: number,
    private readonly onMalformedReply: (command: RunnerCommand, agentId: string, why: string) => void = () => undefined,
  ) {
    this.name = `runner:${runner}`;
  }

  hosts(agentId: string): boolean {
    return this.socket.connected && this.agents.has(agentId);
  }

  /** An event the gateway parsed and found within this runner's agents. */
  accept(event: BotEvent): void {
    this.listeners.emit(event);
  }

  private async call<C extends RunnerCommand>(command: C, agentId: string, emit: (ack: (reply: unknown) => void) => void, what: string): Promise<unknown> {
    const schema = ackSchema(COMMAND_REPLIES[command]);
    return new Promise((resolve, reject) => {
      // Settled by the reply, the timeout or the runner going away, whichever comes first.
      const settle = () => {
        clearTimeout(timer);
        this.socket.off('disconnect', gone);
      };
      const gone = () => {
        settle();
        reject(new Error(`runner disconnected before answering ${what}`));
      };
      const timer = setTimeout(() => {
        settle();
        reject(new Error(`runner did not answer ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.socket.once('disconnect', gone);
      emit((reply) => {
        settle();
        const parsed = schema.safeParse(reply);
        if (!parsed.success) {
          const why = describeIssues(parsed.error);
          this.onMalformedReply(command, agentId, why);
          reject(new Error(`runner answered ${what} with a malformed reply (${why})`));
        } else if (parsed.data.ok) resolve(parsed.data.value);
        else reject(new Error(parsed.data.error));
      });
    });
  }

  probe(agentId: string, signal: AbortSignal): Promise<ProbeResult> {
    if (signal.aborted) return Promise.reject(new Error('aborted'));
    // The casts are sound: `call` resolved only with a value COMMAND_REPLIES[command] parsed.
    return this.call('probe', agentId, (ack) => this.socket.emit('probe', { agentId }, ack), 'a ping') as Promise<ProbeResult>;
  }

  async restart(agentId: string): Promise<void> {
    await this.call('restart', agentId, (ack) => this.socket.emit('restart', { agentId }, ack), 'a restart');
  }

  send(agentId: string, chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    return this.call('send', agentId, (ack) => this.socket.emit('send', { agentId, chatId, text, options }, ack), 'a send') as Promise<MessageRef>;
  }

  promptApproval(agentId: string, chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    return this.call('promptApproval', agentId, (ack) => this.socket.emit('promptApproval', { agentId, chatId, prompt }, ack), 'an approval prompt') as Promise<MessageRef>;
  }

  async updateApproval(agentId: string, ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    await this.call('updateApproval', agentId, (ack) => this.socket.emit('updateApproval', { agentId, ref, outcome }, ack), 'an approval update');
  }

  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  async stop(): Promise<void> {
    this.socket.disconnect(true);
  }
}
