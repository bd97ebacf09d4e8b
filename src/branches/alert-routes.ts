import type { ChannelRegistry } from '../bots/channel-registry.js';
import type { CoordinatorConfig } from '../config/config-schema.js';
import { identityOn } from './manager-identity.js';
import type { AgentRecord } from '../storage/records.js';

export interface AlertRoute {
  agentId: string;
  channel: string;
  chats: string[];
  /** The business's ops channel: it gets every alert, besides the branch's managers. */
  ops?: boolean;
}

/**
 * Where to alert about `subject`: the branch's other healthy bots, best first
 * (to the managers who are on that channel), and the business's ops channel.
 * Never through the subject itself or any agent that is not `up`.
 */
export function alertRoutes(config: CoordinatorConfig, agents: AgentRecord[], subject: AgentRecord, channels: ChannelRegistry): AlertRoute[] {
  const up = new Map(agents.filter((a) => a.status === 'up' && a.id !== subject.id && a.kind === 'bot').map((a) => [a.id, a]));
  const routes: AlertRoute[] = [];
  const branch = config.branches.find((b) => b.id === subject.branchId);
  for (const agent of branch?.agents ?? []) {
    if (!up.has(agent.id)) continue;
    const chats = (branch?.managers ?? []).map((m) => identityOn(m, agent.channel, channels)).filter((c): c is string => Boolean(c));
    if (chats.length > 0) routes.push({ agentId: agent.id, channel: agent.channel, chats });
  }
  const ops = config.business.opsAlerts;
  if (ops && up.has(ops.agent)) routes.push({ agentId: ops.agent, channel: up.get(ops.agent)!.channel ?? '', chats: [ops.chat], ops: true });
  return routes;
}
