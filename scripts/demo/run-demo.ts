import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import emulator from 'telegram-test-api';
import type { TelegramServer as TelegramServerType } from 'telegram-test-api/lib/telegramServer.js';
import { boot, type Running } from '../../src/boot.js';
import { newToken } from '../../src/core/ids.js';
import { hashPassword } from '../../src/dashboard/password-hash.js';
import { startActors, type DemoStats } from './actors.js';
import { demoYaml } from './demo-config.js';

// CommonJS package: its typed default is the module object under NodeNext.
const TelegramServer = emulator as unknown as typeof TelegramServerType;

export interface DemoOptions {
  /** API and dashboard ports (0: any free one). */
  port: number;
  dashboardPort: number;
  host?: string;
  /** Health interval for the demo (short, so agents visibly go down and up). */
  healthIntervalMs?: number;
  /** Log to the console. */
  console?: boolean;
  /** Time scale of the simulated people (1 = real pace). */
  pace?: number;
}

export interface Demo {
  running: Running;
  telegram: TelegramServerType;
  dashboardUrl: string;
  apiUrl: string;
  login: { username: string; password: string; adminToken: string };
  stats: DemoStats;
  stop(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts a self-contained demo: the coordinator on a temporary data dir with a
 * demo config, the Telegram Bot API emulator for its bots, and simulated
 * customers, staff, managers and action agents, so every dashboard panel moves
 * within a minute. Nothing leaves this machine.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const host = options.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-demo-'));
  const password = 'demo-' + newToken('pw').slice(3, 11);
  const adminToken = newToken('demo');
  const healthIntervalMs = options.healthIntervalMs ?? 5000;
  let telegram: TelegramServerType | undefined;
  let running: Running | undefined;
  let actors: Awaited<ReturnType<typeof startActors>> | undefined;
  // Stops whatever started and deletes the temporary data: on stop, and when a step of the start fails.
  const cleanUp = async () => {
    actors?.stop();
    try {
      await running?.stop();
    } finally {
      try {
        await telegram?.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  };
  try {
    writeFileSync(join(dir, 'coordinator.yaml'), demoYaml(await hashPassword(password)));
    const emulator = new TelegramServer({ host: '127.0.0.1', port: await freePort('127.0.0.1') });
    await emulator.start();
    telegram = emulator;
    const coordinator = await boot({
      environment: {
        PORT: String(options.port),
        DASHBOARD_PORT: String(options.dashboardPort),
        HOST: host,
        DATA_DIR: join(dir, 'data'),
        LOG_DIR: join(dir, 'logs'),
        LOG_LEVEL: 'info',
        COORDINATOR_CONFIG: join(dir, 'coordinator.yaml'),
        ADMIN_TOKEN: adminToken,
        HEALTH_INTERVAL_MS: String(healthIntervalMs),
        TELEGRAM_API_ROOT: emulator.config.apiURL,
      },
      console: options.console ?? false,
      // Retries at half the interval, so a silent agent is visibly down within about four intervals.
      health: { retryIntervalMs: Math.max(500, healthIntervalMs / 2) },
    });
    running = coordinator;
    const cast = await startActors({ apiUrl: coordinator.api.url, adminToken, telegram: emulator, log: (line) => coordinator.logger.info(line, { module: 'demo' }), pace: options.pace });
    actors = cast;
    return {
      running: coordinator,
      telegram: emulator,
      dashboardUrl: coordinator.dashboard.url,
      apiUrl: coordinator.api.url,
      login: { username: 'demo', password, adminToken },
      stats: cast.stats,
      stop: cleanUp,
    };
  } catch (error) {
    await cleanUp().catch((cleanupError: unknown) => {
      throw new AggregateError([error, cleanupError], 'The demo failed to start, and stopping what had started failed too');
    });
    throw error;
  }
}
