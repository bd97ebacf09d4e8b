import type { Express } from 'express';
import type { LoadedConfig } from '../config/config-file.js';
import type { Env } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import { isoNow, type Clock } from '../core/clock.js';
import { VERSION } from '../core/project-root.js';
import type { Store } from '../storage/store.js';
import { createDashboard, type Dashboard } from '../dashboard/create-dashboard-app.js';
import { AgentHosts } from '../branches/agent-host.js';
import { LocalAgentHost } from '../branches/local-agent-host.js';
import type { ChannelRegistry } from '../bots/channel-registry.js';
import { builtinChannels } from '../bots/channels.js';
import { channelStates } from '../branches/channel-states.js';
import { AgentRegistry } from '../coordination/agent-registry.js';
import { createAlerter } from '../coordination/alerts.js';
import { AuditLog } from '../coordination/audit-log.js';
import { FileAuditAnchor } from '../coordination/audit-anchor.js';
import { loadAuditKey } from '../coordination/audit-key.js';
import { DEFAULT_HEALTH_OPTIONS, HealthMonitor, healthRetryIntervalMs, healthTimeoutMs, type HealthOptions } from '../coordination/health/health-monitor.js';
import { createProber } from '../coordination/probes.js';
import { agentRoutes } from '../coordination/routes/agent-routes.js';
import { runnerRoutes } from '../coordination/routes/runner-routes.js';
import { approvalRoutes } from '../coordination/routes/approval-routes.js';
import { auditRoutes } from '../coordination/routes/audit-routes.js';
import { tokenRoutes } from '../coordination/routes/token-routes.js';
import { ApprovalDelivery } from '../coordination/approvals/approval-delivery.js';
import { ApprovalEngine } from '../coordination/approvals/approval-engine.js';
import { PromptOutbox } from '../coordination/approvals/prompt-outbox.js';
import { WebhookOutbox } from '../coordination/approvals/webhook-outbox.js';
import { OutboundPolicy } from '../coordination/approvals/outbound-guard.js';
import { registerMessageSend } from '../coordination/approvals/message-send.js';
import { chatDecider } from '../coordination/approvals/chat-decisions.js';
import { ConversationService } from '../conversations/conversation-service.js';
import { contactRoutes } from '../coordination/routes/contact-routes.js';
import { webhookRouters } from './webhook-router.js';
import { botEventDispatcher } from './bot-events.js';
import { managerByIdentity } from '../branches/manager-identity.js';
import { attachRunnerGateway } from '../branches/runner-gateway.js';
import { parseBody } from '../coordination/http/middleware.js';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { clientAddress, compileProxyTrust } from '../dashboard/same-origin.js';
import { createAuthenticator, ensureAdminToken, type AdminTokenInfo } from '../coordination/auth.js';
import { syncConfigAgents } from '../coordination/config-agents.js';
import { requesterApprovalView } from '../coordination/read-scope.js';
import { EventBus } from '../coordination/event-bus.js';
import { createApiApp } from '../coordination/http/create-api-app.js';
import { requireAuth } from '../coordination/http/middleware.js';
import { createMetrics } from '../coordination/metrics.js';
import { domainMetrics } from '../coordination/domain-metrics.js';
import { configRoutes } from '../coordination/routes/config-routes.js';
import { systemRoutes } from '../coordination/routes/system-routes.js';
import { docsRoutes } from '../coordination/routes/docs-routes.js';
import { StatusView } from '../coordination/status-view.js';
import { RuntimeSettings } from '../coordination/runtime-settings.js';
import { mcpOverHttp } from '../mcp/http-mount.js';

export interface CoordinatorDeps {
  env: Env;
  config: LoadedConfig;
  store: Store;
  logger: Logger;
  clock: Clock;
  /** Chat channels available to local bots (default: the ones this build ships). */
  channels?: ChannelRegistry;
  /** Health monitor tuning (tests shorten the intervals). */
  health?: Partial<Omit<HealthOptions, 'intervalMs'>>;
  /** Dashboard live-update periods (tests shorten them). */
  dashboard?: { refreshMs?: number; auditPollMs?: number };
}

export interface Coordinator {
  api: Express;
  /** The operator dashboard: its Express app, and its Socket.IO side to attach to the dashboard's server. */
  dashboard: Dashboard;
  bus: EventBus;
  settings: RuntimeSettings;
  adminToken: AdminTokenInfo;
  audit: AuditLog;
  monitor: HealthMonitor;
  hosts: AgentHosts;
  local: LocalAgentHost;
  registry: AgentRegistry;
  approvals: ApprovalEngine;
  outbox: WebhookOutbox;
  /** Approval prompts waiting to go out (or for a channel). */
  prompts: PromptOutbox;
  conversations: ConversationService;
  /** Starts the bot agents (in dependsOn order) and the health monitor. */
  start(): Promise<void>;
  /** Accepts runners on the API server's `/agents` Socket.IO namespace. */
  attach(apiServer: HttpServer): void;
  /** Disconnects runners (first step of a shutdown, so the HTTP server can close). */
  detach(): Promise<void>;
  /** Set by whoever listens, so the dashboard can link to the API. */
  apiUrl: string;
  stop(): Promise<void>;
}

/**
 * The composition root: everything is built from its dependencies here, and
 * nothing below imports a global logger, store or client.
 */
export async function createCoordinator(deps: CoordinatorDeps): Promise<Coordinator> {
  const { env, store, logger, clock } = deps;
  const channels = deps.channels ?? builtinChannels();
  const bus = new EventBus(logger);
  const settings = new RuntimeSettings({ env, config: deps.config.config }, { store, logger, bus, clock });
  await settings.load();
  const adminToken = await ensureAdminToken({ envToken: env.ADMIN_TOKEN, store, dataDir: env.DATA_DIR, clock });
  await syncConfigAgents(settings.config, store, clock);

  const audit = new AuditLog({ store, clock, logger, key: loadAuditKey({ envKey: env.AUDIT_KEY, dataDir: env.DATA_DIR }), anchor: new FileAuditAnchor(env.DATA_DIR) });
  const hosts = new AgentHosts();
  // One policy for every outbound call to an address given as input (webhooks, health URLs), and for checking them on arrival.
  const outbound = new OutboundPolicy(env.WEBHOOK_ALLOWLIST);
  const outbox = new WebhookOutbox({ store, clock, logger, policy: outbound });
  const delivery = new ApprovalDelivery({ store, hosts, clock, logger, channels, config: () => settings.config });
  const prompts = new PromptOutbox({ store, clock, logger, bus, audit, delivery, config: () => settings.config });
  const approvals = new ApprovalEngine({ store, clock, logger, bus, audit, settings, channels, delivery, prompts, outbox });
  const conversations = new ConversationService({ store, hosts, bus, audit, clock, logger, channels, config: () => settings.config });
  registerMessageSend(approvals, { settings, store, hosts, conversations });
  const decide = chatDecider(approvals, settings);
  const identify = (channel: string, userId: string) => {
    const branches = settings.config.branches.filter((b) => managerByIdentity(b, channel, userId, channels));
    const manager = branches[0] && managerByIdentity(branches[0], channel, userId, channels);
    return manager ? { name: manager.name, branches: branches.map((b) => b.name) } : null;
  };
  const local = new LocalAgentHost({
    channels,
    context: { logger, env, decide, identify, clock, state: channelStates(store, channels) },
    logger,
  });
  hosts.add(local);
  const monitor = new HealthMonitor({
    store,
    clock,
    logger,
    bus,
    audit,
    probe: createProber({ hosts, clock, heartbeatMaxAgeMs: () => 2 * settings.env.HEALTH_INTERVAL_MS, policy: outbound }),
    alert: createAlerter({ settings, store, hosts, bus, logger, clock, channels }),
    restart: (agent) => hosts.restart(agent.id),
    options: { ...DEFAULT_HEALTH_OPTIONS, retryIntervalMs: () => healthRetryIntervalMs(settings.env), retries: () => settings.env.HEALTH_RETRIES, timeoutMs: () => healthTimeoutMs(settings.env), ...deps.health, intervalMs: () => settings.env.HEALTH_INTERVAL_MS },
  });
  const registry = new AgentRegistry({ store, clock, settings, audit, monitor, hosts, bus });
  hosts.onEvent(
    botEventDispatcher(
      {
        message: (event) => void conversations.handleInbound(event.message),
        pairing: ({ type: _type, ...pairing }) => bus.emit('agent.pairing', { ...pairing, at: isoNow(clock) }),
        // A channel's connection change (a WhatsApp close, with its reason) is checked now, not at the next interval.
        connection: (event) => void monitor.checkNow(event.agentId),
      },
      (error, event) => logger.error('a bot event could not be handled', { module: 'agents', event: event.type, error }),
    ),
  );

  const authenticate = createAuthenticator(store, adminToken.hash);
  const anyRole = requireAuth(authenticate, ['operator', 'manager', 'agent', 'runner']);
  const metrics = createMetrics(store);
  const stopDomainMetrics = domainMetrics(metrics.registry, bus, store);
  const webhooks = webhookRouters({ channels, local });
  logger.add(metrics.errorCounter);
  const requesterAuth = requireAuth(authenticate, ['agent']);
  // The MCP tools at /mcp: the agents' auth, calling this same API with the caller's token (src/mcp).
  const mcp = mcpOverHttp({ auth: requesterAuth, api: () => api, logger });
  const api = createApiApp({
    logger,
    metrics,
    bodyLimit: env.BODY_LIMIT,
    rateLimitPerMin: env.RATE_LIMIT_PER_MIN,
    trustProxy: env.TRUST_PROXY,
    rawRouters: [webhooks.raw],
    routers: [
      systemRoutes({ store, settings, metrics, startedAt: clock.now(), version: VERSION, auth: anyRole, status: new StatusView({ store, settings, live: (agent) => monitor.live(agent), checks: () => monitor.checks() }) }),
      configRoutes({
        settings,
        readAuth: requireAuth(authenticate, ['operator']),
        adminAuth: requireAuth(authenticate, []),
        configFile: { path: deps.config.path, exists: deps.config.exists },
        channels,
      }),
      agentRoutes({
        outbound,
        registry,
        store,
        settings,
        monitor,
        hosts,
        audit,
        anyAuth: anyRole,
        adminAuth: requireAuth(authenticate, []),
        operatorAuth: requireAuth(authenticate, ['operator']),
        channels: channels.names(),
      }),
      runnerRoutes({ store, settings, audit, clock, adminAuth: requireAuth(authenticate, []), parse: parseBody }),
      approvalRoutes({
        outbound,
        engine: approvals,
        store,
        bus,
        settings,
        anyAuth: anyRole,
        requesterAuth,
        deciderAuth: requireAuth(authenticate, ['manager']),
        operatorAuth: requireAuth(authenticate, ['operator']),
      }),
      auditRoutes({ store, audit, auth: requireAuth(authenticate, ['operator']) }),
      contactRoutes({ store, conversations, settings, audit, auth: requireAuth(authenticate, ['operator', 'manager']) }),
      tokenRoutes({ store, settings, audit, clock, adminAuth: requireAuth(authenticate, []), bus, admin: adminToken }),
      mcp.router,
      docsRoutes({ version: VERSION, channels: channels.list() }),
      webhooks.json,
    ],
  });
  let gateway: ReturnType<typeof attachRunnerGateway> | undefined;
  metrics.watchSockets('api', () => gateway?.stats().connections);
  // The requester's view: no managers' chat ids (read-scope.ts).
  bus.on('approval.updated', (approval) => gateway?.toRequester(approval.requesterId, requesterApprovalView(approval)));
  // A revoked token (or a removed agent's) loses its live sockets now, not at the next periodic recheck.
  bus.on('token.revoked', async () => {
    await gateway?.recheck();
  });
  const dashboard = await createDashboard({
    store,
    clock,
    logger,
    bus,
    audit,
    settings,
    registry,
    approvals,
    monitor,
    hosts,
    conversations,
    adminTokenHash: adminToken.hash,
    apiUrl: () => coordinator.apiUrl,
    live: deps.dashboard,
    trustProxy: env.TRUST_PROXY,
    socketLimits: { maxConnections: env.SOCKET_MAX_CONNECTIONS, maxPerAddress: env.SOCKET_MAX_PER_ADDRESS },
  });
  metrics.watchSockets('dashboard', () => dashboard.connections());
  const coordinator: Coordinator = {
    api,
    dashboard,
    bus,
    settings,
    adminToken,
    audit,
    monitor,
    hosts,
    local,
    registry,
    approvals,
    outbox,
    prompts,
    conversations,
    apiUrl: '',
    async start() {
      await local.startBranches(settings.config.branches.filter((b) => b.host !== 'remote'));
      await monitor.start();
      await approvals.resume();
      await prompts.resume();
      await outbox.resume();
    },
    attach(apiServer) {
      gateway = attachRunnerGateway({
        server: apiServer,
        hosts,
        authenticate,
        config: () => settings.config,
        logger,
        decide,
        audit,
        limits: { maxConnections: env.SOCKET_MAX_CONNECTIONS, maxPerAddress: env.SOCKET_MAX_PER_ADDRESS },
        addressOf: ((trust) => (req: IncomingMessage) => clientAddress(req, trust))(compileProxyTrust(env.TRUST_PROXY)),
        onChange: (agentIds) => agentIds.forEach((id) => void monitor.checkNow(id)),
      });
    },
    async detach() {
      await gateway?.close();
      gateway = undefined;
    },
    async stop() {
      await coordinator.detach();
      await mcp.close();
      await dashboard.close();
      await monitor.stop();
      await approvals.stop();
      await prompts.stop();
      await outbox.stop();
      await conversations.idle();
      await hosts.stop();
      // Messages the bots delivered while they stopped are handled before the store closes.
      await conversations.stop();
      audit.stop();
      logger.remove(metrics.errorCounter);
      stopDomainMetrics();
    },
  };
  return coordinator;
}
