import type { Clock } from '../../core/clock.js';
import type { Store } from '../../storage/store.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

export interface Tally {
  total: number;
  ok: number;
}

/**
 * Uptime over the last 24 hours without scanning a day of checks per agent per
 * read (the dashboard asks for every agent every 10 s): checks this process
 * runs are counted in hour buckets as they happen; hours from before it
 * started are counted once from the stored history and kept; only the window's
 * first, partial hour is counted from the history at each read (at most an
 * hour of one agent's checks). The answer is exactly what counting the stored
 * checks in `[now - 24 h, now]` would give.
 */
export class UptimeCounter {
  /** Hours that began once this process was running: counted as checks are stored. */
  private readonly live = new Map<string, Map<number, Tally>>();
  /** Complete hours from before that, counted from the history once. */
  private readonly past = new Map<string, Map<number, Tally>>();
  /** The first hour counted live: the first whole hour after the start. */
  private readonly since: number;

  constructor(private readonly deps: { store: Store; clock: Clock }) {
    this.since = Math.ceil(deps.clock.now() / HOUR) * HOUR;
  }

  /** A check was stored (`at`: its ISO time). */
  record(agentId: string, at: string, ok: boolean): void {
    const time = Date.parse(at);
    const hour = Math.floor(time / HOUR) * HOUR;
    if (hour < this.since) return; // still inside the start's hour: counted from the history
    let hours = this.live.get(agentId);
    if (!hours) this.live.set(agentId, (hours = new Map()));
    let tally = hours.get(hour);
    if (!tally) {
      hours.set(hour, (tally = { total: 0, ok: 0 }));
      for (const h of hours.keys()) if (h < hour - DAY - HOUR) hours.delete(h);
    }
    tally.total++;
    if (ok) tally.ok++;
  }

  forget(agentId: string): void {
    this.live.delete(agentId);
    this.past.delete(agentId);
  }

  /** Checks and successful checks of the agent stored in `[now - 24 h, now]`. */
  async last24h(agentId: string): Promise<Tally> {
    const now = this.deps.clock.now();
    const from = now - DAY;
    const firstWhole = Math.ceil(from / HOUR) * HOUR;
    const sum: Tally = { total: 0, ok: 0 };
    const add = (t: Tally | undefined) => {
      sum.total += t?.total ?? 0;
      sum.ok += t?.ok ?? 0;
    };
    if (from < firstWhole) add(await this.count(agentId, from, Math.min(firstWhole, now + 1)));
    let past = this.past.get(agentId);
    if (past) for (const h of past.keys()) if (h < firstWhole) past.delete(h);
    for (let hour = firstWhole; hour <= now; hour += HOUR) {
      if (hour >= this.since) {
        add(this.live.get(agentId)?.get(hour));
      } else if (hour + HOUR <= now) {
        if (!past) this.past.set(agentId, (past = new Map()));
        let tally = past.get(hour);
        if (!tally) past.set(hour, (tally = await this.count(agentId, hour, hour + HOUR)));
        add(tally);
      } else {
        add(await this.count(agentId, hour, now + 1)); // the hour the process started in, still going
      }
    }
    return sum;
  }

  /** Stored checks with `from <= at < to`. */
  private async count(agentId: string, from: number, to: number): Promise<Tally> {
    const at = { gte: new Date(from).toISOString(), lt: new Date(to).toISOString() };
    const { healthChecks } = this.deps.store;
    const [total, ok] = await Promise.all([healthChecks.count({ agentId, at }), healthChecks.count({ agentId, at, ok: true })]);
    return { total, ok };
  }
}
