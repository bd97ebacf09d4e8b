import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../config/logger.js';
import { WaitTimeoutError, type Approval, type CoordinatorClient } from './coordinator-client.js';
import { waitProgress, type ToolExtra } from './wait-progress.js';

export interface Waited {
  approval: Approval;
  /** How long it waited (the approval is still pending if the limit came first). */
  waitedSec: number;
}

/**
 * Waits up to `maxWaitSec` for a pending approval to be settled, with the
 * client's long-polls (which retry dropped connections, 5xx and 429 on their
 * own) and progress notifications meanwhile. Reaching the limit is an answer
 * (the approval still pending), not an error. The MCP request's abort signal
 * ends the wait (and its open long-poll) at once; the approval itself is left
 * as it is.
 */
export async function awaitDecision(deps: { client: CoordinatorClient; log: Logger; heartbeatMs?: number }, extra: ToolExtra, pending: Approval, maxWaitSec: number): Promise<Waited> {
  const started = Date.now();
  const waited = () => Math.round((Date.now() - started) / 1000);
  if (pending.status !== 'pending' || maxWaitSec <= 0) return { approval: pending, waitedSec: 0 };
  const progress = waitProgress(extra, { totalSec: maxWaitSec, refresh: () => deps.client.getApproval(pending.id, { signal: extra.signal }), log: deps.log, heartbeatMs: deps.heartbeatMs });
  progress.report(pending);
  try {
    const approval = await deps.client.waitForDecision(pending.id, { timeoutSec: maxWaitSec, signal: extra.signal, onWaiting: (a) => progress.report(a) });
    return { approval, waitedSec: waited() };
  } catch (error) {
    if (error instanceof WaitTimeoutError) return { approval: error.approval ?? pending, waitedSec: waited() };
    throw error;
  } finally {
    progress.stop();
  }
}

/** How long an approved `message.send` may take to be sent and recorded (`executed`/`failed`) before the tool answers without it. */
const EXECUTION_WAIT_MS = 15_000;

/**
 * For actions the coordinator executes itself (`message.send`): once approved,
 * the send follows within moments; this reads the approval again until it is
 * `executed` or `failed` (or `EXECUTION_WAIT_MS` passed), so the answer says
 * whether the message went out.
 */
export async function awaitExecution(client: CoordinatorClient, approval: Approval, signal: AbortSignal): Promise<Approval> {
  const end = Date.now() + EXECUTION_WAIT_MS;
  let latest = approval;
  for (let delay = 100; latest.status === 'approved' && Date.now() < end; delay = Math.min(delay * 2, 1000)) {
    await sleep(delay, undefined, { signal });
    latest = await client.getApproval(latest.id, { signal });
  }
  return latest;
}
