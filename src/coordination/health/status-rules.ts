import type { AgentStatus } from '../../storage/records.js';

/**
 * Uptime-Kuma-like: a failure moves `up` (or a fresh `pending`) to `pending`
 * and is retried; after `retries` failed retries it is `down`. A success is
 * `up` at once.
 */
export function statusAfterCheck(current: AgentStatus, ok: boolean, failures: number, retries: number): AgentStatus {
  if (ok) return 'up';
  if (current === 'down') return 'down';
  return failures > retries ? 'down' : 'pending';
}

/** Exponential backoff with "equal jitter": half fixed, half random, capped. */
export function restartDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const full = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(full / 2 + random() * (full / 2));
}

/** Transitions worth telling people about: into trouble, and out of it. */
export function alertKind(from: AgentStatus | null, to: AgentStatus): 'down' | 'blocked' | 'resolved' | null {
  if (to === 'down') return 'down';
  if (to === 'blocked') return 'blocked';
  if (to === 'up' && (from === 'down' || from === 'blocked')) return 'resolved';
  return null;
}
