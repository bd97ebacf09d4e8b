import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { catalogWith } from './bots/channels.js';
import { loadConfigFile } from './config/config-file.js';
import { readEnv, type Env } from './config/env.js';
import { closeLogger, createLogger, type Logger } from './config/logger.js';
import { systemClock, type Clock } from './core/clock.js';
import type { CodedError } from './core/errors.js';
import { createCoordinator, type Coordinator, type CoordinatorDeps } from './app/create-coordinator.js';
import { listen, type ListenLimits, type Listening } from './coordination/serve.js';
import { compileProxyTrust } from './dashboard/same-origin.js';
import { openStore } from './storage/open-store.js';
import type { Store } from './storage/store.js';

export interface Running {
  env: Env;
  logger: Logger;
  store: Store;
  coordinator: Coordinator;
  api: Listening;
  dashboard: Listening;
  /** Graceful stop: stop accepting, finish in-flight requests, stop modules, close the store, flush logs. */
  stop(): Promise<void>;
}

export interface BootOptions {
  /** Usually `process.env` (after `.env` was read). */
  environment: Record<string, string | undefined>;
  clock?: Clock;
  /** Log to the console too (the CLI does; tests don't). */
  console?: boolean;
  logger?: Logger;
  /** Passed to createCoordinator (tests use a fake channel and short health intervals). */
  channels?: CoordinatorDeps['channels'];
  health?: CoordinatorDeps['health'];
  dashboard?: CoordinatorDeps['dashboard'];
  /**
   * The file store's disk lost writes (a failed fsync or COMMIT) and the store now refuses every write.
   * It is already logged and on `/ready`; the CLI exits so that a process manager restarts it
   * and the restart recovers from what is on disk.
   */
  onStoreFailed?: (error: CodedError) => void;
}

/**
 * Reads and validates everything, opens the store, builds the coordinator and
 * listens. Throws ConfigError / DataDirLocked with a message fit to print.
 */
export async function boot(options: BootOptions): Promise<Running> {
  const catalog = catalogWith(options.channels);
  const env = readEnv(options.environment, catalog);
  const config = loadConfigFile(resolve(env.COORDINATOR_CONFIG), options.environment, catalog);
  // Logs name customers and chats: readable by this user only (an existing folder keeps its mode).
  mkdirSync(env.LOG_DIR, { recursive: true, mode: 0o700 });
  const logger = options.logger ?? createLogger({ level: env.LOG_LEVEL, dir: env.LOG_DIR, retentionDays: env.LOG_RETENTION_DAYS, console: options.console ?? false });
  const clock = options.clock ?? systemClock;
  let coordinator: Coordinator | undefined;
  const store = await openStore({
    dataDir: env.DATA_DIR,
    allowInsecureDataDir: env.ALLOW_INSECURE_DATA_DIR,
    mongodbUri: env.MONGODB_URI,
    mongodbTimeoutMs: env.MONGODB_TIMEOUT_MS,
    logger,
    clock,
    onStateChange: (state) => coordinator?.bus.emit('store.state', state),
    onFailed: (error) => {
      logger.error('the file store failed and refuses writes from now on', { module: 'storage', error });
      coordinator?.bus.emit('store.state', store.state());
      options.onStoreFailed?.(error);
    },
  });
  let api: Listening | undefined;
  try {
    coordinator = await createCoordinator({ env, config, store, logger, clock, channels: options.channels, health: options.health, dashboard: options.dashboard });
    const trust = compileProxyTrust(env.TRUST_PROXY);
    const limits: ListenLimits = { maxConnections: env.HTTP_MAX_CONNECTIONS, maxPerAddress: env.HTTP_MAX_PER_ADDRESS, exempt: (address) => trust(address, 0) };
    api = await listen(coordinator.api, env.HOST, env.PORT, limits);
    coordinator.apiUrl = api.url;
    coordinator.attach(api.server);
    const dashboard = await listen(coordinator.dashboard.app, env.HOST, env.DASHBOARD_PORT, limits);
    await coordinator.dashboard.attach(dashboard.server);
    await coordinator.start();
    const running: Running = {
      env,
      logger,
      store,
      coordinator,
      api,
      dashboard,
      async stop() {
        await coordinator!.detach();
        await coordinator!.dashboard.close();
        await Promise.all([api!.close(), dashboard.close()]);
        await coordinator!.stop();
        await store.close();
        logger.info('coordinator stopped', { module: 'main' });
        if (!options.logger) await closeLogger(logger);
      },
    };
    return running;
  } catch (error) {
    // The start-up error is what the caller must see; a failing clean-up is logged beside it, not thrown over it.
    await coordinator?.stop().catch((stopError: unknown) => logger.error('clean-up after a failed start failed too', { module: 'main', error: stopError }));
    await api?.close(0);
    await store.close();
    if (!options.logger) await closeLogger(logger);
    throw error;
  }
}
