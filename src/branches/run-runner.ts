import { io, type Socket } from 'socket.io-client';
import type { ChannelRegistry, ChannelState, DecisionReply, DecisionRequest } from '../bots/channel-registry.js';
import type { CoordinatorConfig } from '../config/config-schema.js';
import type { Logger } from '../config/logger.js';
import type { BotEvent } from '../bots/bot-agent.js';
import { systemClock } from '../core/clock.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/store.js';
import { channelStates } from './channel-states.js';
import { LocalAgentHost } from './local-agent-host.js';
import { RUNNER_NAMESPACE, type CoordinatorToRunner, type RunnerToCoordinator } from './runner-protocol.js';

/** Reconnect backoff: first retry after about this, doubling up to RECONNECT_MAX_MS (each with jitter). */
const RECONNECT_BASE_MS = 500;
const RECONNECT_MAX_MS = 5000;
/** Bot events kept while not registered with the coordinator. */
const PENDING_MAX = 1000;

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
  /** The environment (each channel reads its own variables from it; the store's when a hosted channel keeps state). */
  env: { DATA_DIR?: string; MONGODB_URI?: string; MONGODB_TIMEOUT_MS?: number; ALLOW_INSECURE_DATA_DIR?: boolean; readonly [variable: string]: unknown };
  /** Where channels with state (WhatsApp's session and queue) keep it; default: this runner opens its own store (DATA_DIR / MONGODB_URI). */
  state?: (namespace: string) => ChannelState;
}

export interface RunningRunner {
  agents: string[];
  /** Resolves when the coordinator refuses this runner (bad token or scope), with why. */
  refused: Promise<string>;
  stop(): Promise<void>;
}

/**
 * A runner: hosts some branches' bot agents in this process and serves them to
 * the coordinator over Socket.IO. It reconnects by itself, with backoff, after
 * any disconnection — a lost network, a coordinator restart — and registers
 * again each time; only a refusal (bad token, agents outside its scope) stops
 * it, and `refused` says why.
 */
export async function runRunner(options: RunnerOptions): Promise<RunningRunner> {
  const log = options.logger.child({ module: 'runner', runner: options.name });
  const wanted = (b: { id: string }, a: { id: string }) => (options.agents ? options.agents.includes(a.id) : (options.branches ?? []).includes(b.id));
  const selected = options.config.branches.flatMap((b) => b.agents.filter((a) => wanted(b, a)).map((a) => a.id));
  if (selected.length === 0) throw new Error(`no agents match ${options.agents ? `--agents ${options.agents.join(',')}` : `--branch ${(options.branches ?? []).join(',')}`} in the config file`);
  // Created first (not yet connected) so the bots' decisions can be forwarded through it.
  // The token goes twice: as a header, checked at the engine.io handshake (before the coordinator keeps
  // anything for the connection), and in `auth`, checked when joining the namespace.
  const socket: Socket<CoordinatorToRunner, RunnerToCoordinator> = io(`${options.coordinatorUrl.replace(/\/$/, '')}${RUNNER_NAMESPACE}`, {
    auth: { token: options.token },
    extraHeaders: { authorization: `Bearer ${options.token}` },
    reconnectionDelay: RECONNECT_BASE_MS,
    reconnectionDelayMax: RECONNECT_MAX_MS,
    transports: ['websocket'],
    autoConnect: false,
  });
  let registered = false;
  // Decisions tapped on this runner's bots are applied by the coordinator, which says what to answer.
  const decide = (request: DecisionRequest) =>
    new Promise<DecisionReply>((resolve, reject) => {
      if (!socket.connected || !registered) return reject(new Error('not connected to the coordinator'));
      socket.timeout(10_000).emit('decide', request, (err: Error | null, reply: { ok: true; value: DecisionReply } | { ok: false; error: string }) => {
        if (err) reject(err);
        else if (reply.ok) resolve(reply.value);
        else reject(new Error(reply.error));
      });
    });
  // Channel state (WhatsApp sessions) lives in a store: the runner opens its own (its DATA_DIR, or the shared MONGODB_URI) when it hosts such a channel.
  let ownStore: Store | undefined;
  let state = options.state;
  const keepsState = options.config.branches.some((b) => b.agents.some((a) => selected.includes(a.id) && Object.keys(options.channels.find(a.channel)?.state ?? {}).length > 0));
  if (!state && keepsState) {
    const store = await openStore({ dataDir: options.env.DATA_DIR ?? './data', mongodbUri: options.env.MONGODB_URI, mongodbTimeoutMs: options.env.MONGODB_TIMEOUT_MS, allowInsecureDataDir: options.env.ALLOW_INSECURE_DATA_DIR, logger: options.logger, clock: systemClock });
    ownStore = store;
    state = channelStates(store, options.channels);
  }
  const host = new LocalAgentHost({ channels: options.channels, context: { logger: options.logger, env: options.env, decide, ...(state ? { state } : {}) }, logger: options.logger, name: options.name });
  await host.startBranches(options.config.branches, (a) => selected.includes(a.id));
  const hosted = selected.filter((id) => host.hosts(id));

  let stopped = false;
  let refuse: (why: string) => void = () => undefined;
  const refused = new Promise<string>((resolve) => (refuse = resolve));
  /** Refused for good (bad token, agents outside its scope): stop trying and say why, once. */
  const giveUp = (why: string) => {
    if (stopped) return;
    stopped = true;
    clearTimeout(retry);
    log.error(`the coordinator refused this runner: ${why}`);
    socket.disconnect();
    refuse(why);
  };
  const answer = async <T>(ack: unknown, work: () => Promise<T>) => {
    if (typeof ack !== 'function') return log.warn('a command from the coordinator came without an acknowledgement; ignored');
    const reply = ack as (r: { ok: true; value: T } | { ok: false; error: string }) => void;
    try {
      reply({ ok: true, value: await work() });
    } catch (error) {
      reply({ ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const agentOf = (req: unknown) => {
    const agentId = (req as { agentId?: unknown } | null)?.agentId;
    if (typeof agentId !== 'string') throw new Error('the command names no agent');
    return agentId;
  };
  socket.on('probe', (req, ack) => void answer(ack, () => host.probe(agentOf(req), AbortSignal.timeout(10_000))));
  socket.on('restart', (req, ack) => void answer(ack, async () => (await host.restart(agentOf(req)), null)));
  socket.on('send', (req, ack) => void answer(ack, () => host.send(agentOf(req), req.chatId, req.text, req.options)));
  socket.on('promptApproval', (req, ack) => void answer(ack, () => host.promptApproval(agentOf(req), req.chatId, req.prompt)));
  socket.on('updateApproval', (req, ack) => void answer(ack, async () => (await host.updateApproval(agentOf(req), req.ref, req.outcome), null)));

  // Events while not registered (reconnecting, a coordinator restart) wait here and go once registered again,
  // oldest dropped past PENDING_MAX: a customer's message during a deploy is not lost.
  const pending: BotEvent[] = [];
  host.onEvent((event) => {
    if (registered && socket.connected) return void socket.emit('event', event);
    if (pending.push(event) > PENDING_MAX) pending.shift();
  });

  // Reconnection. Socket.IO retries by itself after a lost transport, but not after the server ended the
  // session ("io server disconnect": a coordinator restarting or deploying): then the runner connects again
  // itself, with the same capped, jittered backoff. Only a refusal (bad token, scope) stops it.
  let attempts = 0;
  let retry: NodeJS.Timeout | undefined;
  const reconnectLater = (why: string) => {
    if (stopped) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.min(attempts++, 10)) * (0.5 + Math.random() / 2);
    log.warn(`${why}; connecting again in ${Math.round(delay)} ms`);
    clearTimeout(retry);
    retry = setTimeout(() => !stopped && !socket.connected && socket.connect(), delay);
  };
  socket.on('connect', () => {
    socket.emit('register', { runner: options.name, agents: hosted }, (reply) => {
      if (!reply.ok) return giveUp(reply.error);
      registered = true;
      attempts = 0;
      log.info(`connected to ${options.coordinatorUrl}, hosting ${reply.value.accepted.join(', ')}`);
      for (const event of pending.splice(0)) socket.emit('event', event);
    });
  });
  /** The coordinator refused the handshake (HTTP 400/403): a bad token stops the runner; a full server is retried. */
  const checkToken = async () => {
    try {
      const res = await fetch(`${options.coordinatorUrl.replace(/\/$/, '')}/coordination/status`, { headers: { authorization: `Bearer ${options.token}` }, signal: AbortSignal.timeout(10_000) });
      await res.body?.cancel();
      if (res.status === 401 || res.status === 403) giveUp('unauthorized: the coordinator does not accept this RUNNER_TOKEN (create one with POST /api/runners)');
    } catch (error) {
      log.warn(`could not check the token with the coordinator (${error instanceof Error ? error.message : String(error)}); retrying`);
    }
  };
  socket.on('connect_error', (error) => {
    if (stopped) return;
    // Refused when joining the namespace: Socket.IO does not retry that, and neither do we.
    if (!socket.active) return giveUp(error.message);
    const description = (error as Error & { description?: { message?: unknown } }).description;
    const detail = typeof description?.message === 'string' ? description.message : error.message;
    log.warn(`cannot reach the coordinator (${detail}); retrying`);
    // engine.io answers a refused WebSocket handshake with 400 (403 over polling), its reason in a body the client cannot read.
    if (/\b40[03]\b/.test(detail)) void checkToken();
  });
  socket.on('disconnect', (reason) => {
    registered = false;
    if (stopped) return;
    if (reason === 'io server disconnect') reconnectLater('the coordinator ended the connection (io server disconnect)');
    else log.warn(`disconnected from the coordinator (${reason}); reconnecting`);
  });
  socket.connect();
  return {
    agents: hosted,
    refused,
    async stop() {
      stopped = true;
      clearTimeout(retry);
      socket.disconnect();
      await host.stop();
      await ownStore?.close();
    },
  };
}
