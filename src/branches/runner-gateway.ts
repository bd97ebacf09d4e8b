import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Logger } from '../config/logger.js';
import type { BotEvent } from '../bots/bot-agent.js';
import type { DecisionReply, DecisionRequest } from '../bots/channel-registry.js';
import type { CoordinatorConfig } from '../config/config-schema.js';
import type { Principal } from '../coordination/auth.js';
import type { AuditInput } from '../coordination/audit-log.js';
import { createConnectionGate, type ConnectionGateStats } from '../core/connection-gate.js';
import type { AgentHosts } from './agent-host.js';
import { RemoteAgentHost } from './remote-agent-host.js';
import { describeIssues, RUNNER_EVENTS, RUNNER_NAMESPACE, type CoordinatorToRunner, type RunnerEventName } from './runner-protocol.js';

/** Roles that may open a socket on the API port: runners host bots; action agents listen for their approvals; admin for tooling. */
const SOCKET_ROLES: ReadonlySet<string> = new Set(['runner', 'admin', 'agent']);
/** Refusals logged and audited one by one per connection per minute; the rest are counted into one summary line and the next audit. */
const REPORTED_PER_MINUTE = 20;
/** A connection refused more often than this within a minute is closed (a flood, not a bug to report). */
const REFUSALS_BEFORE_CLOSE = 200;
/** How often every connection's token is checked again by default (a revoked or expired one is disconnected). */
const RECHECK_INTERVAL_MS = 30_000;
/** Credentials longer than this are not looked up. */
const MAX_TOKEN_LENGTH = 512;

type Reply = (reply: { ok: true; value: unknown } | { ok: false; error: string }) => void;
// The listen side is untyped on purpose: nothing a runner sends is trusted to have the declared shape; RUNNER_EVENTS parses it.
type GatewaySocket = Socket<Record<string, (...args: unknown[]) => void>, CoordinatorToRunner>;

export interface RunnerGatewayDeps {
  server: HttpServer;
  hosts: AgentHosts;
  authenticate: (token: string | undefined) => Promise<Principal | null>;
  config: () => CoordinatorConfig;
  logger: Logger;
  /** Where refusals are recorded (`runner.refused`); absent in tests that do not look. */
  audit?: { append(input: AuditInput): Promise<unknown> };
  onChange?: (agentIds: string[]) => void;
  decide?: (request: DecisionRequest) => Promise<DecisionReply>;
  timeoutMs?: number;
  /** Socket.IO connections kept on the API port (SOCKET_MAX_CONNECTIONS / SOCKET_MAX_PER_ADDRESS). */
  limits?: { maxConnections: number; maxPerAddress: number };
  /** The client address a connection is counted under (default: the TCP peer). */
  addressOf?: (req: IncomingMessage) => string;
  /** An engine connection that joins no namespace within this is dropped (default 5 s). */
  connectTimeoutMs?: number;
  /** Every connection's token is authenticated again this often (default 30 s); `recheck()` does it at once. */
  recheckIntervalMs?: number;
  now?: () => number;
}

export interface RunnerGatewayStats {
  connections: ConnectionGateStats;
  /** Runner payloads refused (malformed, out of scope, unexpected) since start. */
  refusedPayloads: number;
  /** Socket handlers that threw or rejected, contained. */
  handlerErrors: number;
  /** Connections closed because their token stopped authenticating, or for flooding refused payloads. */
  closed: { revoked: number; flood: number };
}

export interface RunnerGateway {
  close(): Promise<void>;
  toRequester(agentId: string, approval: unknown): void;
  stats(): RunnerGatewayStats;
  /**
   * Authenticates every connection's token again and closes those it no
   * longer admits (revoked, its agent removed); resolves with how many were
   * closed. Called on `token.revoked`, and every `recheckIntervalMs`.
   */
  recheck(): Promise<number>;
}

/** The token in an `Authorization: Bearer …` header, if there is one of a sane length. */
export function bearerOf(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? /^Bearer\s+(\S+)$/i.exec(value.trim()) : null;
  return match && match[1]!.length <= MAX_TOKEN_LENGTH ? match[1] : undefined;
}

/**
 * Accepts runners (and action agents listening for their approvals) on the API
 * port's `/agents` namespace; nothing else.
 *
 * - At the engine.io handshake (before anything is kept for the connection): a
 *   valid `Authorization: Bearer <runner|agent|admin token>` header, and room
 *   under SOCKET_MAX_CONNECTIONS in total and SOCKET_MAX_PER_ADDRESS per
 *   address. A connection that joins no namespace is dropped after a few
 *   seconds; the main namespace `/` refuses everyone.
 * - A runner may host only agents of remote branches in its scope. Every
 *   payload it sends is parsed against RUNNER_EVENTS and every agent it names
 *   must be one it registered (and still in its scope, with that channel);
 *   anything else is refused, answered with the reason where there is an ack,
 *   and audited as `runner.refused`.
 * - A throw or rejection in any handler is contained to that payload (logged
 *   at error level, so counted in /metrics).
 */
export function attachRunnerGateway(deps: RunnerGatewayDeps): RunnerGateway {
  const log = deps.logger.child({ module: 'runners' });
  const now = deps.now ?? Date.now;
  let refusedPayloads = 0;
  let handlerErrors = 0;
  let refusedHandshakes = 0;
  let lastHandshakeWarning = 0;
  const closed = { revoked: 0, flood: 0 };
  // The token each connection authenticated with, to check it again; kept out of socket.data, which adapters may serialise.
  const tokens = new WeakMap<object, string>();

  const allowed = (principal: Principal | null): principal is Principal => principal !== null && SOCKET_ROLES.has(principal.role);
  /** A flood is thousands of refused handshakes: one warning every 10 s says how many, the rest go to debug. */
  const handshakeRefused = (reason: string, address: string) => {
    refusedHandshakes++;
    if (now() - lastHandshakeWarning >= 10_000) {
      log.warn(`Socket.IO handshakes refused on the API port (latest: ${reason} from ${address}; ${refusedHandshakes} since the last warning)`, { reason, address });
      lastHandshakeWarning = now();
      refusedHandshakes = 0;
    } else log.debug(`Socket.IO handshake refused: ${reason}`, { reason, address });
  };
  const gate = createConnectionGate(
    {
      maxConnections: deps.limits?.maxConnections ?? 2000,
      maxPerAddress: deps.limits?.maxPerAddress ?? 50,
      addressOf: deps.addressOf,
      logger: log,
      onRefuse: (reason, address) => handshakeRefused(reason, address),
    },
    async (req) => {
      const token = bearerOf(req.headers.authorization);
      return token !== undefined && allowed(await deps.authenticate(token));
    },
  );
  const io = new Server<Record<string, (...args: unknown[]) => void>, CoordinatorToRunner>(deps.server, {
    serveClient: false,
    cors: { origin: false },
    allowRequest: gate.allowRequest,
    connectTimeout: deps.connectTimeoutMs ?? 5000,
    // The largest legitimate payload is one inbound message (RUNNER_LIMITS.text characters, JSON-escaped).
    maxHttpBufferSize: 256 * 1024,
  });
  gate.track(io.engine);
  io.of('/').use((_socket, next) => next(new Error(`nothing is served on "/": runners and action agents connect to ${RUNNER_NAMESPACE}`)));

  const contain = (what: string, error: unknown, meta: Record<string, unknown> = {}) => {
    handlerErrors++;
    log.error(`runner socket handler '${what}' failed; contained to that payload`, { ...meta, error });
  };

  const nsp = io.of(RUNNER_NAMESPACE);
  nsp.use((socket, next) => {
    const given = (socket.handshake.auth as { token?: unknown }).token;
    const header = bearerOf(socket.handshake.headers.authorization);
    const token = typeof given === 'string' && given.length <= MAX_TOKEN_LENGTH ? given : header;
    const refuse = (why: string) => {
      handshakeRefused(`connection to ${RUNNER_NAMESPACE}: ${why}`, socket.handshake.address);
      next(new Error(`unauthorized: ${why}`));
    };
    if (typeof given === 'string' && header !== undefined && given !== header) return refuse('auth.token and the Authorization header carry different tokens');
    deps.authenticate(token).then(
      (principal) => {
        if (!allowed(principal)) return refuse('a runner or agent token is required (POST /api/runners, POST /api/agents)');
        socket.data.principal = principal;
        tokens.set(socket, token!);
        next();
      },
      (error: unknown) => {
        contain('authenticate', error);
        next(new Error('unauthorized: the token could not be checked, try again'));
      },
    );
  });

  nsp.on('connection', (socket: GatewaySocket) => {
    try {
      serve(socket, socket.data.principal as Principal);
    } catch (error) {
      contain('connection', error);
      socket.disconnect(true);
    }
  });

  function serve(socket: GatewaySocket, principal: Principal): void {
    if (principal.role === 'agent') {
      // An action agent listening for the outcome of its own approval requests; it sends nothing.
      void socket.join(`agent:${principal.subject}`);
    }
    let runner = principal.subject;
    let host: RemoteAgentHost | undefined;
    let hosted: ReadonlySet<string> = new Set();
    // Refusals this minute: the first REPORTED_PER_MINUTE are logged and audited, the rest summed (one log line, and the
    // next audit's `unauditedBefore`); past REFUSALS_BEFORE_CLOSE the connection goes.
    const refusals = { windowStart: now(), count: 0, unlogged: 0, unaudited: 0, latest: '', closing: false };
    let summaryTimer: ReturnType<typeof setTimeout> | undefined;
    /** One line for the refusals not logged one by one (at the end of their minute, or when the connection ends). */
    const logSummary = () => {
      if (summaryTimer) clearTimeout(summaryTimer);
      summaryTimer = undefined;
      if (refusals.unlogged === 0) return;
      log.warn(`refused ${refusals.unlogged} more payloads from ${principal.role} ${runner} without logging each (latest: ${refusals.latest})`, { runner, role: principal.role, unlogged: refusals.unlogged });
      refusals.unlogged = 0;
    };
    socket.on('disconnect', logSummary);

    /** Closes a connection that keeps sending refused payloads: logged and audited once (`runner.flood-refused`). */
    const closeFlood = () => {
      refusals.closing = true;
      closed.flood++;
      logSummary();
      log.warn(`closing the connection of ${principal.role} ${runner}: ${refusals.count} refused payloads within a minute`, { runner, role: principal.role, refused: refusals.count });
      deps.audit
        ?.append({
          type: 'runner.flood-refused',
          actor: `${principal.role}:${principal.subject}`,
          data: { runner, refused: refusals.count, withinMs: now() - refusals.windowStart, limit: REFUSALS_BEFORE_CLOSE, address: socket.handshake.address },
        })
        .catch((error: unknown) => log.error('could not audit closing a flooding connection', { runner, error }));
      socket.disconnect(true);
    };

    /**
     * Refuses a payload: says why (ack), logs it and audits it as
     * `runner.refused` (at most REPORTED_PER_MINUTE a minute, then one summary
     * line), and closes the connection past REFUSALS_BEFORE_CLOSE a minute.
     */
    const refuse = (what: string, reason: string, ack?: Reply, fields: { agentId?: string; branchId?: string; data?: Record<string, unknown> } = {}) => {
      refusedPayloads++;
      const why = reason.length > 500 ? `${reason.slice(0, 500)}…` : reason;
      ack?.({ ok: false, error: why });
      // Packets already read when the connection was closed are answered, not logged or audited again.
      if (refusals.closing) return;
      if (now() - refusals.windowStart >= 60_000) {
        logSummary();
        Object.assign(refusals, { windowStart: now(), count: 0 });
      }
      refusals.count++;
      if (refusals.count > REPORTED_PER_MINUTE) {
        refusals.unlogged++;
        refusals.unaudited++;
        refusals.latest = `${what}: ${why.slice(0, 200)}`;
        summaryTimer ??= setTimeout(logSummary, Math.max(0, refusals.windowStart + 60_000 - now()));
        summaryTimer.unref?.();
        if (refusals.count > REFUSALS_BEFORE_CLOSE) closeFlood();
        return;
      }
      log.warn(`refused from ${principal.role} ${runner}: ${what}: ${why}`, { runner, role: principal.role });
      const unaudited = refusals.unaudited;
      refusals.unaudited = 0;
      deps.audit
        ?.append({
          type: 'runner.refused',
          actor: `${principal.role}:${principal.subject}`,
          ...(fields.branchId ? { branchId: fields.branchId } : {}),
          ...(fields.agentId ? { agentId: fields.agentId } : {}),
          data: { runner, what, reason: why, address: socket.handshake.address, ...fields.data, ...(unaudited > 0 ? { unauditedBefore: unaudited } : {}) },
        })
        .catch((error: unknown) => log.error('could not audit a runner refusal', { runner, error }));
    };

    /** Where an agent lives now, if this principal may host it: a remote branch in its scope. */
    const placeOf = (agentId: string) => {
      for (const branch of deps.config().branches) {
        const agent = branch.agents.find((a) => a.id === agentId);
        if (!agent) continue;
        const inScope = branch.host === 'remote' && (principal.role === 'admin' || (principal.role === 'runner' && (principal.scope ?? []).includes(branch.id)));
        return { branch, channel: agent.channel, inScope };
      }
      return undefined;
    };
    /** Refuses (and says why) unless `agentId` is one this runner registered and may still host, on `channel` if given. */
    const scoped = (what: string, agentId: string, ack: Reply | undefined, channel?: string): boolean => {
      const place = placeOf(agentId);
      if (!hosted.has(agentId) || !place?.inScope) {
        refuse(what, `agent ${agentId} is not one this runner hosts (registered: ${[...hosted].join(', ') || 'none'})`, ack, { agentId, ...(place ? { branchId: place.branch.id } : {}) });
        return false;
      }
      if (channel !== undefined && channel !== place.channel) {
        refuse(what, `agent ${agentId} is a ${place.channel} bot, not ${channel}`, ack, { agentId, branchId: place.branch.id, data: { channel } });
        return false;
      }
      return true;
    };

    const handlers: { [K in RunnerEventName]: (payload: ReturnType<(typeof RUNNER_EVENTS)[K]['payload']['parse']>, ack: Reply | undefined) => void } = {
      register: (hello, ack) => {
        if (host) return refuse('register', `already registered as runner ${runner}`, ack);
        const agents = [...new Set(hello.agents)];
        const refused = agents.filter((id) => !placeOf(id)?.inScope);
        if (refused.length > 0) {
          runner = hello.runner;
          const error = `not allowed to host: ${refused.join(', ')} (unknown, not in a remote branch, or outside this runner's branches: ${(principal.scope ?? []).join(', ') || 'none'})`;
          refuse('register', error, ack, { data: { agents: refused.slice(0, 20) } });
          socket.disconnect(true);
          return;
        }
        runner = hello.runner;
        hosted = new Set(agents);
        const remote = new RemoteAgentHost(socket, runner, hosted, deps.timeoutMs ?? 5000, (command, agentId, why) =>
          refuse(`reply to ${command}`, `malformed reply: ${why}`, undefined, { agentId }),
        );
        host = remote;
        deps.hosts.add(remote);
        log.info(`runner ${runner} connected, hosting ${agents.join(', ')}`, { runner, agents });
        socket.on('disconnect', (reason) => {
          try {
            deps.hosts.remove(remote);
            log.warn(`runner ${runner} disconnected (${reason})`, { runner });
            deps.onChange?.(agents);
          } catch (error) {
            contain('disconnect', error, { runner });
          }
        });
        ack?.({ ok: true, value: { accepted: agents } });
        deps.onChange?.(agents);
      },
      event: (event: BotEvent, ack) => {
        if (!host) return refuse('event', 'register first', ack);
        const ok = event.type === 'message' ? scoped(`event ${event.type}`, event.message.agentId, ack, event.message.channel) : scoped(`event ${event.type}`, event.agentId, ack);
        if (!ok) return;
        host.accept(event);
        ack?.({ ok: true, value: null });
      },
      decide: (request, ack) => {
        if (!host) return refuse('decide', 'register first', ack);
        if (!scoped('decide', request.agentId, ack, request.channel)) return;
        if (!deps.decide) return ack?.({ ok: false, error: 'decisions are not taken here' });
        deps.decide(request).then(
          (value) => ack?.({ ok: true, value }),
          (error: unknown) => {
            log.warn('a runner\'s chat decision failed', { runner, error });
            ack?.({ ok: false, error: error instanceof Error ? error.message : String(error) });
          },
        );
      },
    };

    for (const name of Object.keys(RUNNER_EVENTS) as RunnerEventName[]) {
      socket.on(name, (...args: unknown[]) => {
        const last = args[args.length - 1];
        let answered = false;
        const ack: Reply | undefined =
          typeof last === 'function'
            ? (reply) => {
                if (answered) return;
                answered = true;
                (last as Reply)(reply);
              }
            : undefined;
        try {
          const payloads = ack ? args.slice(0, -1) : args;
          if (principal.role === 'agent') return refuse(name, 'an agent token cannot host bots; use a runner token', ack);
          if (RUNNER_EVENTS[name].ack && !ack) return refuse(name, 'expects an acknowledgement', ack);
          if (payloads.length !== 1) return refuse(name, `expected one payload, got ${payloads.length}`, ack);
          const parsed = RUNNER_EVENTS[name].payload.safeParse(payloads[0]);
          if (!parsed.success) return refuse(name, `malformed: ${describeIssues(parsed.error)}`, ack);
          // The handler of `name` takes what RUNNER_EVENTS[name] parsed; TypeScript cannot pair the two through the loop variable.
          (handlers[name] as (payload: unknown, ack: Reply | undefined) => void)(parsed.data, ack);
        } catch (error) {
          contain(name, error, { runner });
          ack?.({ ok: false, error: 'internal error: the coordinator could not handle this payload (logged)' });
        }
      });
    }
  }

  /** Whether the token a connection was admitted with still names the same principal; an error checking it keeps the connection (said in the log). */
  const stillAdmitted = async (socket: Socket): Promise<boolean> => {
    const before = socket.data.principal as Principal;
    try {
      const current = await deps.authenticate(tokens.get(socket));
      return allowed(current) && current.role === before.role && current.subject === before.subject;
    } catch (error) {
      contain('recheck', error, { subject: before.subject });
      return true;
    }
  };
  const runRecheck = async (): Promise<number> => {
    let count = 0;
    for (const socket of [...nsp.sockets.values()]) {
      if (!socket.connected || (await stillAdmitted(socket))) continue;
      const p = socket.data.principal as Principal;
      log.warn(`closing the connection of ${p.role} ${p.subject}: its token no longer authenticates (revoked, or its agent removed)`, { role: p.role, subject: p.subject });
      closed.revoked++;
      count++;
      socket.disconnect(true);
    }
    return count;
  };
  // One recheck at a time, in call order: a revocation during a periodic pass is checked by the pass after it.
  let rechecks: Promise<number> = Promise.resolve(0);
  const recheck = (): Promise<number> => (rechecks = rechecks.then(runRecheck, runRecheck));
  const recheckTimer = setInterval(() => {
    recheck().catch((error: unknown) => contain('recheck', error));
  }, deps.recheckIntervalMs ?? RECHECK_INTERVAL_MS);
  recheckTimer.unref();

  return {
    toRequester(agentId, approval) {
      nsp.to(`agent:${agentId}`).emit('approval', approval);
    },
    stats: () => ({ connections: gate.stats(), refusedPayloads, handlerErrors, closed: { ...closed } }),
    recheck,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(recheckTimer);
        nsp.disconnectSockets(true);
        // Closing io would close the HTTP server it shares with the API; the caller owns that.
        io.engine.close();
        resolve();
      }),
  };
}
