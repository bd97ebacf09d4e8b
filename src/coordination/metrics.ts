import client from 'prom-client';
import Transport from 'winston-transport';
import type { ConnectionGateStats } from '../core/connection-gate.js';
import type { Store } from '../storage/store.js';

/** A registry per coordinator (never prom-client's global one), so several can live in one process. */
export function createMetrics(store: Store) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'coordinator_' });
  const httpRequests = new client.Counter({
    name: 'coordinator_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new client.Histogram({
    name: 'coordinator_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new client.Gauge({
    name: 'coordinator_store_fallback',
    help: '1 while MongoDB is configured but the file store stands in for it',
    registers: [registry],
    collect() {
      this.set(store.state().fallback ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'coordinator_store_pending_sync',
    help: 'File-store writes waiting to be replayed into MongoDB',
    registers: [registry],
    collect() {
      this.set(store.state().pendingSync ?? 0);
    },
  });
  const agents = new client.Gauge({
    name: 'coordinator_agents',
    help: 'Agents by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      agents.reset();
      for (const status of ['pending', 'up', 'down', 'maintenance', 'blocked'] as const) {
        agents.set({ status }, await store.agents.count({ status }));
      }
    },
  });
  const contained = new client.Counter({
    name: 'coordinator_errors_total',
    help: 'Errors contained to the request, socket event, timer or bot callback that raised them (each logged at error level), by module',
    labelNames: ['module'] as const,
    registers: [registry],
  });
  /** Counts every error-level log line: containment logs each error it stops, so this is the contained-error count. */
  class ErrorCounter extends Transport {
    override log(info: Record<string, unknown>, next: () => void): void {
      if (info.level === 'error') contained.inc({ module: typeof info.module === 'string' ? info.module : 'other' });
      next();
    }
  }
  /** Socket.IO admission per port, read at scrape time from whoever serves it (`watchSockets`). */
  const sockets = new Map<string, () => ConnectionGateStats | undefined>();
  const open = new client.Gauge({
    name: 'coordinator_socket_connections',
    help: 'Socket.IO connections open now, per port (api: runners and agents; dashboard: pages)',
    labelNames: ['port'] as const,
    registers: [registry],
    collect() {
      open.reset();
      for (const [port, read] of sockets) open.set({ port }, read()?.open ?? 0);
    },
  });
  const refused = new client.Gauge({
    name: 'coordinator_socket_refused',
    help: 'Socket.IO handshakes refused since start, per port and reason',
    labelNames: ['port', 'reason'] as const,
    registers: [registry],
    collect() {
      refused.reset();
      for (const [port, read] of sockets) for (const [reason, n] of Object.entries(read()?.refused ?? {})) refused.set({ port, reason }, n);
    },
  });
  return {
    registry,
    /** Reports a port's Socket.IO admission in `/metrics`. */
    watchSockets(port: 'api' | 'dashboard', read: () => ConnectionGateStats | undefined): void {
      sockets.set(port, read);
    },
    /** A winston transport to add to the coordinator's logger (and remove on stop). */
    errorCounter: new ErrorCounter({ level: 'error' }),
    observeRequest(method: string, route: string, status: number, seconds: number) {
      httpRequests.inc({ method, route, status: String(status) });
      httpDuration.observe({ method, route }, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
