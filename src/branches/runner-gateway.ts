import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { Logger } from '../config/logger.js';
import type { DecisionReply, DecisionRequest } from '../bots/channel-registry.js';
import type { CoordinatorConfig } from '../config/config-schema.js';
import type { Principal } from '../coordination/auth.js';
import type { AgentHosts } from './agent-host.js';
import { RemoteAgentHost } from './remote-agent-host.js';
import { RUNNER_NAMESPACE, type CoordinatorToRunner, type RunnerToCoordinator } from './runner-protocol.js';

/**
 * Accepts runners on the API port's `/agents` namespace. A runner authenticates
 * with its token (role `runner`) and may host only agents of remote branches in
 * its scope; anything else is refused, and said so.
 */
export function attachRunnerGateway(deps: {
  server: HttpServer;
  hosts: AgentHosts;
  authenticate: (token: string | undefined) => Promise<Principal | null>;
  config: () => CoordinatorConfig;
  logger: Logger;
  onChange?: (agentIds: string[]) => void;
  decide?: (request: DecisionRequest) => Promise<DecisionReply>;
  timeoutMs?: number;
}): { close(): Promise<void>; toRequester(agentId: string, approval: unknown): void } {
  const log = deps.logger.child({ module: 'runners' });
  const io = new Server<RunnerToCoordinator, CoordinatorToRunner>(deps.server, { serveClient: false, cors: { origin: false } });
  const nsp = io.of(RUNNER_NAMESPACE);
  nsp.use(async (socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    const principal = await deps.authenticate(typeof token === 'string' ? token : undefined);
    if (!principal || !['runner', 'admin', 'agent'].includes(principal.role)) {
      log.warn('connection to /agents refused: bad or missing token', { address: socket.handshake.address });
      return next(new Error('unauthorized: a runner or agent token is required (POST /api/runners, POST /api/agents)'));
    }
    socket.data.principal = principal;
    next();
  });
  nsp.on('connection', (socket) => {
    const principal = socket.data.principal as Principal;
    if (principal.role === 'agent') {
      // An action agent listening for the outcome of its own approval requests.
      void socket.join(`agent:${principal.subject}`);
      socket.on('register', (_hello, ack) => ack({ ok: false, error: 'an agent token cannot host bots; use a runner token' }));
      return;
    }
    socket.on('register', ({ runner, agents }, ack) => {
      const config = deps.config();
      const where = new Map(config.branches.flatMap((b) => b.agents.map((a) => [a.id, b] as const)));
      const refused = (agents ?? []).filter((id) => {
        const branch = where.get(id);
        if (!branch || branch.host !== 'remote') return true;
        return principal.role === 'runner' && !(principal.scope ?? []).includes(branch.id);
      });
      if (!Array.isArray(agents) || agents.length === 0 || refused.length > 0) {
        const error = refused.length > 0 ? `not allowed to host: ${refused.join(', ')} (unknown, not in a remote branch, or outside this runner's branches: ${(principal.scope ?? []).join(', ') || 'none'})` : 'no agents to host';
        log.warn(`runner ${runner} refused: ${error}`, { runner });
        ack({ ok: false, error });
        socket.disconnect(true);
        return;
      }
      const host = new RemoteAgentHost(socket, runner, new Set(agents), deps.timeoutMs ?? 5000);
      socket.on('decide', (request, reply) => {
        if (!agents.includes(request?.agentId) || !deps.decide) return reply({ ok: false, error: 'not one of this runner\'s agents' });
        deps
          .decide(request)
          .then((value) => reply({ ok: true, value }))
          .catch((error: unknown) => reply({ ok: false, error: error instanceof Error ? error.message : String(error) }));
      });
      deps.hosts.add(host);
      log.info(`runner ${runner} connected, hosting ${agents.join(', ')}`, { runner, agents });
      socket.on('disconnect', (reason) => {
        deps.hosts.remove(host);
        log.warn(`runner ${runner} disconnected (${reason})`, { runner });
        deps.onChange?.(agents);
      });
      ack({ ok: true, value: { accepted: agents } });
      deps.onChange?.(agents);
    });
  });
  return {
    toRequester(agentId, approval) {
      nsp.to(`agent:${agentId}`).emit('approval', approval);
    },
    close: () =>
      new Promise<void>((resolve) => {
        nsp.disconnectSockets(true);
        // Closing io would close the HTTP server it shares with the API; the caller owns that.
        io.engine.close();
        resolve();
      }),
  };
}
