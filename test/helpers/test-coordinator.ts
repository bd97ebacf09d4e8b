import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { boot, type BootOptions, type Running } from '../../src/boot.js';
import { sha256 } from '../../src/core/ids.js';
import { memoryLogger } from './quiet-logger.js';
import { tempDir } from './temp-dir.js';

export const ADMIN = 'test-admin-token-0123456789';

export interface TestCoordinator {
  running: Running;
  url: string;
  dir: string;
  logs: Array<Record<string, unknown>>;
  /** fetch against the API with the admin token unless `token` is given (null: none). */
  // Response bodies are asserted field by field in tests; `any` keeps those assertions short.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call(path: string, init?: RequestInit & { token?: string | null; json?: unknown }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Stops and starts again on the same data dir; `downtime` runs in between (e.g. moving a clock). */
  restart(downtime?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** Adds an action agent `id` at `branchId` with a known bearer token (the state POST /api/agents would create). */
export async function addRequester(t: TestCoordinator, id: string, branchId: string, token: string): Promise<void> {
  const now = new Date().toISOString();
  await t.running.store.agents.insert({ id, branchId, kind: 'action', status: 'up', dependsOn: [], registeredAt: now, source: 'api' });
  await t.running.store.apiTokens.insert({ id: sha256(token), role: 'agent', subject: id, createdAt: now });
}

/**
 * Boots the real coordinator (real store, HTTP on loopback, port 0) in a temp
 * folder. `yaml` becomes its coordinator.yaml; `env` adds variables.
 */
export async function startTestCoordinator(
  options: { yaml?: string; env?: Record<string, string> } & Pick<BootOptions, 'clock' | 'channels' | 'health'> = {},
): Promise<TestCoordinator> {
  const dir = tempDir();
  // Owner-only, as the coordinator refuses a data dir other users can read.
  mkdirSync(join(dir.path, 'data'), { recursive: true, mode: 0o700 });
  if (options.yaml) writeFileSync(join(dir.path, 'coordinator.yaml'), options.yaml);
  const environment = {
    PORT: '0',
    DASHBOARD_PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: join(dir.path, 'data'),
    LOG_DIR: join(dir.path, 'logs'),
    COORDINATOR_CONFIG: join(dir.path, 'coordinator.yaml'),
    ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'debug',
    // Tests never reach the internet: chat platforms default to a closed loopback port.
    TELEGRAM_API_ROOT: 'http://127.0.0.1:9',
    SLACK_API_URL: 'http://127.0.0.1:9/',
    WHATSAPP_GRAPH_URL: 'http://127.0.0.1:9',
    // Tests receive webhooks and serve health URLs on loopback, which outbound calls refuse by default.
    WEBHOOK_ALLOWLIST: '127.0.0.1',
    ...options.env,
  };
  const { logger, entries } = memoryLogger();
  const t: TestCoordinator = {
    running: await boot({ environment, logger, clock: options.clock, channels: options.channels, health: options.health }),
    url: '',
    dir: dir.path,
    logs: entries,
    async call(path, init = {}) {
      const headers = new Headers(init.headers);
      const token = init.token === undefined ? ADMIN : init.token;
      if (token) headers.set('authorization', `Bearer ${token}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(init.json);
      }
      const res = await fetch(`${t.url}${path}`, { ...init, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (e.g. /metrics): keep the text.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async restart(downtime) {
      await t.running.stop();
      await downtime?.();
      t.running = await boot({ environment, logger, clock: options.clock, channels: options.channels, health: options.health });
      t.url = t.running.api.url;
    },
    async close() {
      await t.running.stop();
      dir.cleanup();
    },
  };
  t.url = t.running.api.url;
  return t;
}
