import { Listeners } from '../core/listeners.js';
import type { ApprovalOutcome, ApprovalPrompt, BotAgent, BotEvent, MessageRef, ProbeResult, SendOptions } from '../bots/bot-agent.js';
import type { BotContext, ChannelRegistry } from '../bots/channel-registry.js';
import type { AgentConfig, BranchConfig } from '../config/config-schema.js';
import type { Logger } from '../config/logger.js';
import type { AgentHost } from './agent-host.js';
import { startOrder } from './start-order.js';

/**
 * Runs bot agents in this process: one BotAgent per configured agent that has
 * its credentials and a channel implementation, started in `dependsOn` order.
 */
export class LocalAgentHost implements AgentHost {
  readonly name: string;
  private readonly bots = new Map<string, BotAgent>();
  private readonly listeners = new Listeners<BotEvent>();
  /** Agents that could not be built, with why (shown as their down reason). */
  readonly unavailable = new Map<string, string>();

  constructor(
    private readonly deps: { channels: ChannelRegistry; context: BotContext; logger: Logger; name?: string; startTimeoutMs?: number },
  ) {
    this.name = deps.name ?? 'local';
  }

  /**
   * Builds and starts the agents of these branches, concurrently except that
   * each waits for its own dependencies (`dependsOn` order). A platform that
   * does not answer must not hold up the coordinator: after `startTimeoutMs`
   * the starts go on in the background and the health monitor reports them.
   */
  async startBranches(branches: BranchConfig[], filter: (agent: AgentConfig) => boolean = () => true): Promise<void> {
    const agents = branches.flatMap((b) => b.agents).filter((a) => a.enabled && !a.missingCredentials?.length && filter(a));
    const starts = new Map<string, Promise<void>>();
    for (const agent of startOrder(agents)) {
      if (!this.deps.channels.has(agent.channel)) {
        this.unavailable.set(agent.id, `channel '${agent.channel}' is not available in this build (available: ${this.deps.channels.names().join(', ') || 'none'})`);
        continue;
      }
      const factory = this.deps.channels.get(agent.channel);
      // Each channel sees the variables it declared, nothing else of the environment.
      const env = Object.fromEntries(Object.keys(factory.env ?? {}).map((key) => [key, this.deps.context.env[key]]));
      let bot: BotAgent;
      try {
        bot = await factory.create(agent, { ...this.deps.context, env });
      } catch (error) {
        // A bot that cannot be built (its SDK failed to load, no store for its state) is down with why, not a failed start of all.
        this.unavailable.set(agent.id, `could not be built: ${error instanceof Error ? error.message : String(error)}`);
        this.deps.logger.error(`agent ${agent.id} could not be built`, { module: 'agents', agentId: agent.id, error });
        continue;
      }
      bot.onEvent((e) => this.relay(agent.id, e));
      this.bots.set(agent.id, bot);
      const deps = agent.dependsOn.map((d) => starts.get(d)).filter((p): p is Promise<void> => p !== undefined);
      starts.set(
        agent.id,
        Promise.all(deps)
          .then(() => bot.start())
          .catch((error: unknown) => {
            this.deps.logger.warn(`agent ${agent.id} did not start`, { module: 'agents', agentId: agent.id, error });
          }),
      );
    }
    const limit = this.deps.startTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), limit);
    });
    if ((await Promise.race([Promise.all(starts.values()), timedOut])) === 'timeout') {
      this.deps.logger.warn(`some agents are still starting after ${limit} ms; continuing without waiting`, { module: 'agents' });
    }
    clearTimeout(timer);
  }

  hosts(agentId: string): boolean {
    return this.bots.has(agentId) || this.unavailable.has(agentId);
  }

  bot(agentId: string): BotAgent | undefined {
    return this.bots.get(agentId);
  }

  /** The running bots of one channel. */
  botsOf(channel: string): BotAgent[] {
    return [...this.bots.values()].filter((b) => b.channel === channel);
  }

  async probe(agentId: string, signal: AbortSignal): Promise<ProbeResult> {
    const why = this.unavailable.get(agentId);
    if (why) return { ok: false, detail: why, needsHuman: true };
    return this.need(agentId).probe(signal);
  }

  async restart(agentId: string): Promise<void> {
    if (this.unavailable.has(agentId)) throw new Error(this.unavailable.get(agentId));
    const bot = this.need(agentId);
    try {
      await bot.stop();
    } catch (error) {
      // A bot being restarted is often half-broken: its stop failing must not keep it from starting again.
      this.deps.logger.warn(`agent ${agentId} did not stop cleanly before its restart; starting it anyway`, { module: 'agents', agentId, error });
    }
    await bot.start();
  }

  async send(agentId: string, chatId: string, text: string, options?: SendOptions): Promise<MessageRef> {
    return this.need(agentId).send(chatId, text, options);
  }

  async promptApproval(agentId: string, chatId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    return this.need(agentId).promptApproval(chatId, prompt);
  }

  async updateApproval(agentId: string, ref: MessageRef, outcome: ApprovalOutcome): Promise<void> {
    return this.need(agentId).updateApproval(ref, outcome);
  }

  onEvent(listener: (event: BotEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Stops every bot; one that fails to stop is logged and does not keep the others (or the shutdown) waiting. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.bots.values()].reverse().map((b) =>
        b.stop().catch((error: unknown) => {
          this.deps.logger.warn(`agent ${b.id} did not stop cleanly`, { module: 'agents', agentId: b.id, error });
        }),
      ),
    );
  }

  /**
   * Hands a bot's event to the coordinator's listeners. A listener that throws
   * is contained here and logged: it must not unwind into the channel SDK's
   * callback (a grammY handler, a Bolt listener, a Baileys event) that emitted it.
   */
  private relay(agentId: string, event: BotEvent): void {
    try {
      this.listeners.emit(event);
    } catch (error) {
      this.deps.logger.error(`handling a ${event.type} event of agent ${agentId} failed`, { module: 'agents', agentId, error });
    }
  }

  private need(agentId: string): BotAgent {
    const bot = this.bots.get(agentId);
    if (!bot) throw new Error(`agent ${agentId} is not running here`);
    return bot;
  }
}
