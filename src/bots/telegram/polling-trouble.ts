import { GrammyError, HttpError } from 'grammy';

/** Why long polling is not getting updates, as the health probe reports it. */
export interface PollingTrouble {
  detail: string;
  /** Only a person can fix it (a revoked token): the agent goes down at once. */
  needsHuman: boolean;
  /** The polling loop keeps trying by itself: restarting the bot would not help. */
  reconnecting: boolean;
}

/** Transient failures (network, 5xx) count only once they repeat this many times in a row. */
export const TRANSIENT_FAILURES_TO_REPORT = 3;

/**
 * Classifies a failed `getUpdates`, or null while a transient failure has not
 * repeated enough to matter. `getMe` answering is not proof the bot works: a
 * 409 (another process polls the same token, or a webhook is set) or a 401
 * on getUpdates means no update reaches us, and the probe must say so.
 */
export function pollingTrouble(error: unknown, failuresInARow: number): PollingTrouble | null {
  if (error instanceof GrammyError) {
    const telegram = `Telegram answered getUpdates ${error.error_code}: ${error.description}`;
    if (error.error_code === 409 && /webhook/i.test(error.description)) {
      return { detail: `a webhook is set for this bot token elsewhere (${telegram}): it needs a person to remove it or give this agent a webhookUrl; polling resumes by itself`, needsHuman: false, reconnecting: true };
    }
    if (error.error_code === 409) {
      return { detail: `another process is polling this bot token (${telegram}): it needs a person to stop the other bot instance; polling resumes by itself`, needsHuman: false, reconnecting: true };
    }
    if (error.error_code === 401 || error.error_code === 404) {
      return { detail: `Telegram refused the token (${error.error_code} ${error.description}) on getUpdates: the token was revoked or is wrong; set a new one and restart`, needsHuman: true, reconnecting: false };
    }
  }
  if (failuresInARow < TRANSIENT_FAILURES_TO_REPORT) return null;
  const why = error instanceof GrammyError ? `${error.error_code} ${error.description}` : error instanceof HttpError ? `network error: ${error.message}` : error instanceof Error ? error.message : String(error);
  return { detail: `long polling fails (${failuresInARow} times in a row; last: ${why}); reconnecting by itself`, needsHuman: false, reconnecting: true };
}
