import { DisconnectReason } from '@whiskeysockets/baileys';

/** What to do after a close, by Baileys' disconnect code. */
export type DisconnectKind =
  /** Reconnect with backoff (lost, closed, unavailable, or restart required right after pairing). */
  | 'transient'
  /** Another session took over the number: stop and alert, do not fight it. */
  | 'replaced'
  /** Logged out or forbidden: the session is gone; a person must pair again. */
  | 'logged_out'
  /** Bad session or multi-device mismatch: reset the keys and pair again. */
  | 'bad_session';

export interface DisconnectInfo {
  kind: DisconnectKind;
  code: number | undefined;
  /** Short words for logs, health details and the dashboard. */
  reason: string;
}

const NAMES: Record<number, string> = {
  [DisconnectReason.loggedOut]: 'logged out',
  [DisconnectReason.forbidden]: 'forbidden',
  [DisconnectReason.connectionLost]: 'connection lost or timed out',
  [DisconnectReason.multideviceMismatch]: 'multi-device mismatch',
  [DisconnectReason.connectionClosed]: 'connection closed',
  [DisconnectReason.connectionReplaced]: 'replaced by another session',
  [DisconnectReason.badSession]: 'bad session',
  [DisconnectReason.unavailableService]: 'service unavailable',
  [DisconnectReason.restartRequired]: 'restart required',
};

/** Baileys closes with a Boom whose `output.statusCode` is the reason. */
export function disconnectCode(error: unknown): number | undefined {
  const code = (error as { output?: { statusCode?: unknown } } | undefined)?.output?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Classifies a close. Unknown codes are treated as transient (reconnect with
 * backoff): a network blip must not need a person.
 */
export function classifyDisconnect(error: unknown): DisconnectInfo {
  const code = disconnectCode(error);
  const reason = code !== undefined ? `${NAMES[code] ?? 'closed'} (${code})` : `closed${error instanceof Error && error.message ? `: ${error.message}` : ''}`;
  switch (code) {
    case DisconnectReason.connectionReplaced:
      return { kind: 'replaced', code, reason };
    case DisconnectReason.loggedOut:
    case DisconnectReason.forbidden:
      return { kind: 'logged_out', code, reason };
    case DisconnectReason.badSession:
    case DisconnectReason.multideviceMismatch:
      return { kind: 'bad_session', code, reason };
    default:
      return { kind: 'transient', code, reason };
  }
}

/** Exponential backoff with ±20% jitter: attempt 0 → ~base, doubling up to `max`. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(raw * (0.8 + 0.4 * random()));
}
