import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../config/logger.js';
import { expiryText, promptsText } from './approval-result.js';
import type { Approval } from './coordinator-client.js';

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Progress is sent at least this often while waiting: a keep-alive for clients that reset their timeout on progress. */
export const HEARTBEAT_MS = 15_000;

export interface WaitProgress {
  /** Tells the client where the approval stands now. */
  report(approval: Approval): void;
  /** No more notifications (the wait ended). */
  stop(): void;
}

const NONE: WaitProgress = { report: () => undefined, stop: () => undefined };

/**
 * MCP progress notifications for a tool call waiting on an approval, when the
 * client asked for them (a `progressToken` in the request's `_meta`): one as
 * soon as the request is made, then a heartbeat every `HEARTBEAT_MS` with the
 * approval read again (where the prompts went, escalation, expiry). A
 * requester is not told who was asked, only the branch, the channels and how
 * many are not reached yet. `progress` counts seconds waited; `total` is the
 * wait's limit.
 */
export function waitProgress(extra: ToolExtra, options: { totalSec: number; refresh: () => Promise<Approval>; log: Logger; heartbeatMs?: number }): WaitProgress {
  const token = extra._meta?.progressToken;
  if (token === undefined) return NONE;
  const started = Date.now();
  let last = -1;
  let latest: Approval | undefined;
  let stopped = false;
  const send = (approval: Approval) => {
    if (stopped || extra.signal.aborted) return;
    latest = approval;
    // Progress must grow with every notification, also two within the same millisecond.
    const progress = Math.max(last + 0.001, (Date.now() - started) / 1000);
    last = progress;
    const message = `Approval ${approval.code} (${approval.riskLevel} risk) waits for a manager at branch ${approval.branchId}: ${promptsText(approval)}. Expires ${expiryText(approval)}.`;
    extra
      .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total: options.totalSec, message } })
      .catch((error: unknown) => options.log.debug('a progress notification could not be sent (the client may be gone)', { error }));
  };
  let reading = false;
  const timer = setInterval(() => {
    // A slow read (retrying) is not joined by another: the next tick after it ends reads again.
    if (reading) return;
    reading = true;
    options
      .refresh()
      .then(send, (error: unknown) => {
        // A failed read does not end the wait (the long-poll has its own retries): the last state is reported again.
        options.log.debug('could not read the approval for a progress heartbeat', { error });
        if (latest) send(latest);
      })
      .finally(() => (reading = false));
  }, options.heartbeatMs ?? HEARTBEAT_MS);
  timer.unref();
  return {
    report: send,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
