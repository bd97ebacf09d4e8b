import type { ProbeResult } from '../bots/bot-agent.js';
import type { AgentHost } from '../branches/agent-host.js';
import type { Clock } from '../core/clock.js';
import type { AgentRecord } from '../storage/records.js';
import type { Prober } from './health/health-monitor.js';
import { OutboundPolicy, OutboundRefusedError, sendOutbound } from './approvals/outbound-guard.js';

/** Why a runner-hosted bot is down while its runner is away (alerts.ts tells the reader what to do about it). */
export const RUNNER_NOT_CONNECTED = 'its runner is not connected';

/**
 * One probe per kind of agent: bots through their host (local or runner),
 * action agents by their health URL if registered, else by heartbeat age.
 * A health URL is an outbound call like a webhook: internal addresses are
 * refused unless `allowlist` (WEBHOOK_ALLOWLIST) lists them.
 */
export function createProber(deps: { hosts: AgentHost; clock: Clock; heartbeatMaxAgeMs: () => number; allowlist?: readonly string[]; policy?: OutboundPolicy }): Prober {
  const policy = deps.policy ?? new OutboundPolicy(deps.allowlist ?? []);
  return async (agent: AgentRecord, signal: AbortSignal): Promise<ProbeResult> => {
    if (agent.kind === 'bot') {
      if (!deps.hosts.hosts(agent.id)) {
        // A runner's bot comes back with its runner (which reconnects by itself): restarting it from here cannot work.
        return agent.remote ? { ok: false, detail: RUNNER_NOT_CONNECTED, reconnecting: true } : { ok: false, detail: 'not running in this process' };
      }
      return deps.hosts.probe(agent.id, signal);
    }
    if (agent.healthUrl) {
      const started = deps.clock.now();
      let res: { status: number };
      try {
        res = await sendOutbound(policy, agent.healthUrl, { method: 'GET', signal });
      } catch (error) {
        if (error instanceof OutboundRefusedError) return { ok: false, detail: `health URL refused: ${error.reason}` };
        throw error;
      }
      const ok = res.status >= 200 && res.status <= 299;
      return { ok, latencyMs: deps.clock.now() - started, detail: ok ? undefined : `health URL answered HTTP ${res.status}` };
    }
    if (!agent.lastHeartbeatAt) return { ok: false, detail: 'no heartbeat yet' };
    const age = deps.clock.now() - Date.parse(agent.lastHeartbeatAt);
    const max = deps.heartbeatMaxAgeMs();
    return age <= max ? { ok: true, latencyMs: 0 } : { ok: false, detail: `last heartbeat ${Math.round(age / 1000)}s ago (limit ${Math.round(max / 1000)}s)` };
  };
}
