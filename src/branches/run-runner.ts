import { io, type Socket } from 'socket.io-client';
import type { ChannelRegistry, DecisionReply, DecisionRequest } from '../bots/channel-registry.js';
import type { CoordinatorConfig } from '../config/config-schema.js';
import type { Logger } from '../config/logger.js';
import type { WhatsAppState } from '../bots/whatsapp/whatsapp-state.js';
import { systemClock } from '../core/clock.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/store.js';
import { LocalAgentHost } from './local-agent-host.js';
import { whatsAppStateStore } from './whatsapp-state-store.js';
import { RUNNER_NAMESPACE, type CoordinatorToRunner, type RunnerToCoordinator } from './runner-protocol.js';

export interface RunnerOptions {
  name: string;
  coordinatorUrl: string;
  token: string;
  config: CoordinatorConfig;
  /** Host the bots of these branches ... */
  branches?: string[];
  /** ... or exactly these agents. */
  agents?: string[];
  channels: ChannelRegistry;
  logger: Logger;
  env: { TELEGRAM_API_ROOT?: string; SLACK_API_URL?: string; DATA_DIR?: string; MONGODB_URI?: string; MONGODB_TIMEOUT_MS?: number };
  /** Where WhatsApp agents keep their session and queue; default: this runner opens its own store (DATA_DIR / MONGODB_URI). */
  whatsappState?: (agentId: string) => WhatsAppState;
}

export interface RunningRunner {
  agents: string[];
  /** Resolves when the coordinator refuses this runner (bad token or scope), with why. */
  refused: Promise<string>;
  stop(): Promise<void>;
}

/**
 * A runner: hosts some branches' bot agents in this process and serves them to
 * the coordinator over Socket.IO. It reconnects by itself (with backoff) and
 * registers again after every reconnection.
 */
export async function runRunner(options: RunnerOptions): Promise<RunningRunner> {
  const log = options.logger.child({ module: 'runner', runner: options.name });
  const wanted = (b: { id: string }, a: { id: string }) => (options.agents ? options.agents.includes(a.id) : (options.branches ?? []).includes(b.id));
  const selected = options.config.branches.flatMap((b) => b.agents.filter((a) => wanted(b, a)).map((a) => a.id));
  if (selected.length === 0) throw new Error(`no agents match ${options.agents ? `--agents ${options.agents.join(',')}` : `--branch ${(options.branches ?? []).join(',')}`} in the config file`);
  // Created first (not yet connected) so the bots' decisions can be forwarded through it.
  const socket: Socket<CoordinatorToRunner, RunnerToCoordinator> = io(`${options.coordinatorUrl.replace(/\/$/, '')}${RUNNER_NAMESPACE}`, {
    auth: { token: options.token },
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    transports: ['websocket'],
    autoConnect: false,
  });
  // Decisions tapped on this runner's bots are applied by the coordinator, which says what to answer.
  const decide = (request: DecisionRequest) =>
    new Promise<DecisionReply>((resolve, reject) => {
      if (!socket.connected) return reject(new Error('not connected to the coordinator'));
      socket.timeout(10_000).emit('decide', request, (err: Error | null, reply: { ok: true; value: DecisionReply } | { ok: false; error: string }) => {
        if (err) reject(err);
        else if (reply.ok) resolve(reply.value);
        else reject(new Error(reply.error));
      });
    });
  // WhatsApp sessions live in a store: the runner opens its own (its DATA_DIR, or the shared MONGODB_URI) when it hosts one.
  let ownStore: Store | undefined;
  let whatsappState = options.whatsappState;
  const hostsWhatsApp = options.config.branches.some((b) => b.agents.some((a) => a.channel === 'whatsapp' && selected.includes(a.id)));
  if (!whatsappState && hostsWhatsApp) {
    const store = await openStore({ dataDir: options.env.DATA_DIR ?? './data', mongodbUri: options.env.MONGODB_URI, mongodbTimeoutMs: options.env.MONGODB_TIMEOUT_MS, logger: options.logger, clock: systemClock });
    ownStore = store;
    whatsappState = (agentId) => whatsAppStateStore(store, agentId);
  }
  const host = new LocalAgentHost({ channels: options.channels, context: { logger: options.logger, env: options.env, decide, whatsappState }, logger: options.logger, name: options.name });
  await host.startBranches(options.config.branches, (a) => selected.includes(a.id));
  const hosted = selected.filter((id) => host.hosts(id));

  let refuse: (why: string) => void = () => undefined;
  const refused = new Promise<string>((resolve) => (refuse = resolve));
  const answer = async <T>(ack: (r: { ok: true; value: T } | { ok: false; error: string }) => void, work: () => Promise<T>) => {
    try {
      ack({ ok: true, value: await work() });
    } catch (error) {
      ack({ ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  };
  socket.on('probe', ({ agentId }, ack) => void answer(ack, () => host.probe(agentId, AbortSignal.timeout(10_000))));
  socket.on('restart', ({ agentId }, ack) => void answer(ack, async () => (await host.restart(agentId), null)));
  socket.on('send', ({ agentId, chatId, text, options }, ack) => void answer(ack, () => host.send(agentId, chatId, text, options)));
  socket.on('promptApproval', ({ agentId, chatId, prompt }, ack) => void answer(ack, () => host.promptApproval(agentId, chatId, prompt)));
  socket.on('updateApproval', ({ agentId, ref, outcome }, ack) => void answer(ack, async () => (await host.updateApproval(agentId, ref, outcome), null)));
  host.onEvent((event) => socket.emit('event', event));
  socket.on('connect', () => {
    socket.emit('register', { runner: options.name, agents: hosted }, (reply) => {
      if (reply.ok) log.info(`connected to ${options.coordinatorUrl}, hosting ${reply.value.accepted.join(', ')}`);
      else {
        log.error(`the coordinator refused this runner: ${reply.error}`);
        refuse(reply.error);
      }
    });
  });
  socket.on('connect_error', (error) => {
    if (!socket.active) {
      log.error(`the coordinator refused this runner: ${error.message}`);
      refuse(error.message);
    } else log.warn(`cannot reach the coordinator (${error.message}); retrying`);
  });
  socket.on('disconnect', (reason) => log.warn(`disconnected from the coordinator (${reason})`));
  socket.connect();
  return {
    agents: hosted,
    refused,
    async stop() {
      socket.disconnect();
      await host.stop();
      await ownStore?.close();
    },
  };
}
