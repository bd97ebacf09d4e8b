import type { AgentHost } from '../../branches/agent-host.js';
import type { Store } from '../../storage/store.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import type { ApprovalEngine } from './approval-engine.js';

/**
 * Built-in action `message.send` (critical by default): an agent asks to send
 * `details.text` to `details.chatId` at a branch; once approved the coordinator
 * sends it itself, through the branch's agent on `details.channel` (or the
 * first healthy one), and reports executed/failed.
 */
export function registerMessageSend(engine: ApprovalEngine, deps: { settings: RuntimeSettings; store: Store; hosts: AgentHost }): void {
  engine.registerExecutor('message.send', async (approval) => {
    const details = (approval.details ?? {}) as { chatId?: unknown; text?: unknown; channel?: unknown; agentId?: unknown };
    if (typeof details.chatId !== 'string' || typeof details.text !== 'string') {
      return { success: false, error: 'message.send needs details.chatId and details.text (strings)' };
    }
    const branch = deps.settings.config.branches.find((b) => b.id === approval.branchId);
    const candidates = (branch?.agents ?? []).filter((a) => (details.agentId ? a.id === details.agentId : details.channel ? a.channel === details.channel : true));
    for (const agent of candidates) {
      const record = await deps.store.agents.get(agent.id);
      if (record?.status !== 'up' || !deps.hosts.hosts(agent.id)) continue;
      const ref = await deps.hosts.send(agent.id, details.chatId, details.text);
      return { success: true, result: { agentId: agent.id, channel: agent.channel, ...ref } };
    }
    return { success: false, error: `no healthy ${String(details.channel ?? details.agentId ?? '')} agent at branch ${approval.branchId} to send through`.replace('  ', ' ') };
  });
}
