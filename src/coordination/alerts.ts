import type { ChannelRegistry } from '../bots/channel-registry.js';
import { alertRoutes } from '../branches/alert-routes.js';
import type { AgentHost } from '../branches/agent-host.js';
import type { Logger } from '../config/logger.js';
import { isoNow, type Clock } from '../core/clock.js';
import type { AgentRecord } from '../storage/records.js';
import type { Store } from '../storage/store.js';
import type { EventBus } from './event-bus.js';
import { RUNNER_NOT_CONNECTED } from './probes.js';
import type { Alerter, AlertKind } from './health/health-monitor.js';
import type { RuntimeSettings } from './runtime-settings.js';

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/** The alert text a person reads: what, where, why, and what happens next. */
export function alertText(agent: AgentRecord, kind: AlertKind, reason: string | undefined, branchName: string, sinceMs?: number): string {
  const name = `${agent.id} (${agent.channel ?? agent.kind}, ${branchName})`;
  switch (kind) {
    case 'down':
    case 'renotify': {
      const human = /needs? (a person|pairing|a human)|revoked|logged out|not available in this build|invalid_auth|401/i.test(reason ?? '');
      const reconnecting = /reconnecting/i.test(reason ?? '');
      const next = human
        ? 'It needs a person: fix the cause above; it will not be restarted automatically.'
        : reason === RUNNER_NOT_CONNECTED
          ? 'It comes back when its runner connects again: check the runner process on the branch\'s machine.'
          : agent.kind === 'bot'
          ? reconnecting
            ? 'It is reconnecting by itself.'
            : 'Restarting it automatically.'
          : 'Check the agent process.';
      return `${kind === 'renotify' ? 'Still down' : 'DOWN'}: ${name}${reason ? ` — ${reason}` : ''}. ${next}`;
    }
    case 'blocked':
      return `BLOCKED: ${name} — ${reason ?? 'a dependency is down'}. It resumes when the dependency recovers.`;
    case 'resolved':
      return `RESOLVED: ${name} is up again${sinceMs !== undefined ? ` after ${duration(sinceMs)}` : ''}.`;
  }
}

/**
 * An agent's open incident, kept in the store (a restart between DOWN and
 * RESOLVED still threads, and still knows how long it lasted): when it began,
 * and the first alert in each chat, which later ones answer.
 */
interface Incident {
  since: number;
  roots: Array<{ agentId: string; chatId: string; messageId: string }>;
}

function readIncident(value: unknown): Incident | null {
  const v = value as Partial<Incident> | undefined;
  return v && typeof v.since === 'number' && Array.isArray(v.roots) ? { since: v.since, roots: v.roots } : null;
}

/**
 * Sends health alerts to the branch's managers through the first healthy bot
 * of the branch that delivers, and to the business's ops channel; never
 * through the agent alerted about. Each incident is a thread per chat: the
 * first alert starts it (a Slack message, a Telegram message), the later ones
 * — still down, RESOLVED — reply to it.
 */
export function createAlerter(deps: { settings: RuntimeSettings; store: Store; hosts: AgentHost; bus: EventBus; logger: Logger; clock: Clock; channels: ChannelRegistry }): Alerter {
  const log = deps.logger.child({ module: 'alerts' });
  const incidentKey = (agentId: string) => `alert-incident:${agentId}`;
  const saveIncident = (agentId: string, incident: Incident) => deps.store.settings.put({ id: incidentKey(agentId), value: incident, updatedAt: isoNow(deps.clock) });
  return async (agent, kind, reason) => {
    // DOWN and BLOCKED open an incident; one left open (the agent went to maintenance, or was removed, without a RESOLVED) is not reused.
    const stored = kind === 'down' || kind === 'blocked' ? null : readIncident((await deps.store.settings.get(incidentKey(agent.id)))?.value);
    const incident: Incident = stored ?? { since: deps.clock.now(), roots: [] };
    const config = deps.settings.config;
    const branchName = config.branches.find((b) => b.id === agent.branchId)?.name ?? agent.branchId;
    const text = alertText(agent, kind, reason, branchName, kind === 'resolved' && stored ? deps.clock.now() - stored.since : undefined);
    const routes = alertRoutes(config, await deps.store.agents.find(), agent, deps.channels);
    const deliver = async (route: (typeof routes)[number]): Promise<boolean> => {
      if (!deps.hosts.hosts(route.agentId)) return false;
      const delivered: string[] = [];
      for (const chat of route.chats) {
        try {
          const root = incident.roots.find((r) => r.agentId === route.agentId && r.chatId === chat);
          const ref = await deps.hosts.send(route.agentId, chat, text, root ? { replyTo: root.messageId } : undefined);
          if (!root && ref.messageId) incident.roots.push({ agentId: route.agentId, chatId: chat, messageId: ref.messageId });
          delivered.push(chat);
        } catch (error) {
          log.warn(`alert via ${route.agentId} to a chat failed`, { agentId: agent.id, via: route.agentId, error });
        }
      }
      if (delivered.length === 0) return false;
      log.info(`alert sent via ${route.agentId}: ${text}`, { agentId: agent.id, via: route.agentId, kind });
      deps.bus.emit('alert.sent', { agentId: agent.id, kind, via: route.agentId, chats: delivered, text });
      return true;
    };
    // The managers through the first branch bot that delivers, and the ops channel always.
    let sent = false;
    for (const route of routes.filter((r) => !r.ops)) {
      if (await deliver(route)) {
        sent = true;
        break;
      }
    }
    for (const route of routes.filter((r) => r.ops)) sent = (await deliver(route)) || sent;
    if (kind === 'resolved') await deps.store.settings.delete(incidentKey(agent.id));
    else await saveIncident(agent.id, incident);
    if (sent) return;
    log.warn(`no healthy channel for alert: ${text}`, { agentId: agent.id, kind });
    deps.bus.emit('alert.undeliverable', { agentId: agent.id, kind, text, why: routes.length === 0 ? 'no healthy channel' : 'every route failed' });
  };
}
