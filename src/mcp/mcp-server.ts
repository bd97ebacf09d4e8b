import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { VERSION } from '../core/project-root.js';
import { registerApprovalTools, type ToolDeps } from './approval-tools.js';
import type { CoordinationStatus } from './coordinator-client.js';
import { toolError } from './tool-error.js';

export type { ToolDeps };

/** Told to the model when it connects: the workflow the tools are for. */
const INSTRUCTIONS = [
  'Tools of a chat-ops coordinator: before an action that needs a human OK (refunds, payments, customer messages, data changes), ask for approval and act only once approved.',
  'Workflow: request_approval (or send_customer_message for a message to a customer) -> wait for the decision (the call waits up to maxWaitSec; if still pending, get_approval with waitSec) -> if approved, execute exactly the approved details and call report_result; if rejected, expired or cancelled, do not act.',
  'Give an idempotencyKey when you may repeat a request, so the managers are asked once. coordination_status shows the branch and its bots.',
].join('\n');

/** The overview a requester may see, trimmed for a model to read: branch, autonomy, bots and their status. */
function statusResult(status: CoordinationStatus): CallToolResult {
  const branches = status.branches.map((b) => ({
    id: b.id,
    name: b.name,
    ...(b.autonomy ? { autonomy: b.autonomy } : {}),
    ...(b.managers !== undefined ? { managers: b.managers } : {}),
    agents: b.agents.map((a) => ({ id: a.id, kind: a.kind, ...(a.channel ? { channel: a.channel } : {}), status: a.status, ...(a.reason ? { reason: a.reason } : {}) })),
  }));
  const lines = [`${status.business}: storage ${status.storage.ready ? 'ready' : 'NOT ready'}${status.storage.fallback ? ' (fallback)' : ''}.`];
  for (const b of branches) {
    const agents = b.agents.map((a) => `${a.id} (${a.channel ?? a.kind}) ${a.status}${a.reason ? `: ${a.reason}` : ''}`).join('; ');
    lines.push(`Branch ${b.name} (${b.id})${b.autonomy ? `, autonomy ${b.autonomy}` : ''}${b.managers !== undefined ? `, ${b.managers} manager(s)` : ''}: ${agents || 'no agents'}.`);
  }
  return { content: [{ type: 'text', text: lines.join('\n') }], structuredContent: { business: status.business, storageReady: status.storage.ready, branches } };
}

/**
 * The coordinator's MCP server: the six tools over the typed REST client.
 * One is made per stdio process, and one per HTTP request on `/mcp`
 * (stateless), each with the caller's own token.
 */
export function createMcpServer(deps: ToolDeps): McpServer {
  const server = new McpServer({ name: 'chatops-coordinator', title: 'Chat-ops coordinator', version: VERSION }, { instructions: INSTRUCTIONS });
  registerApprovalTools(server, deps);
  server.registerTool(
    'coordination_status',
    {
      title: "Your branch's bots and their health",
      description: 'Shows the branches your token sees (an agent token: its own branch) with their autonomy, how many managers, and every bot and agent with its status (up, down, maintenance, blocked). Use it to learn your branch id, or why prompts are not reaching managers.',
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async (extra) => {
      try {
        return statusResult(await deps.client.status({ signal: extra.signal }));
      } catch (error) {
        deps.log.info('coordination_status failed', { tool: 'coordination_status', error });
        return toolError(error);
      }
    },
  );
  return server;
}
