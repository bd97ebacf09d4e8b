import type { Logger } from '../config/logger.js';
import type { CodedError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { HybridStore } from './hybrid/hybrid-store.js';
import { MongoStore } from './mongo/mongo-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store, StoreState } from './store.js';

export interface OpenStoreOptions {
  dataDir: string;
  /** ALLOW_INSECURE_DATA_DIR: start although DATA_DIR or its files are open to other users (logged as a warning). */
  allowInsecureDataDir?: boolean;
  mongodbUri?: string;
  mongodbTimeoutMs?: number;
  logger: Logger;
  clock: Clock;
  onStateChange?: (state: StoreState) => void;
  /** The file store's disk lost writes (a failed fsync or COMMIT); it refuses writes from now on (SqliteStore's `onFailed`). */
  onFailed?: (error: CodedError) => void;
}

/**
 * The file store alone when no MongoDB is configured; otherwise MongoDB with the
 * file store as its durable fallback. Throws DataDirLocked if another process
 * holds the data dir, and config_invalid if the data dir is open to other users
 * (unless `allowInsecureDataDir`). The coordinator and the runner both open here.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const file = SqliteStore.open({
    dataDir: options.dataDir,
    allowInsecure: options.allowInsecureDataDir,
    onInsecure: (message) => options.logger.warn(`${message}\nStarting anyway: ALLOW_INSECURE_DATA_DIR is set.`, { module: 'storage' }),
    onFailed: options.onFailed,
  });
  if (!options.mongodbUri) return file;
  const hybrid = new HybridStore({
    primary: MongoStore.create({ uri: options.mongodbUri, timeoutMs: options.mongodbTimeoutMs, logger: options.logger }),
    file,
    logger: options.logger,
    clock: options.clock,
    onStateChange: options.onStateChange,
  });
  await hybrid.start();
  return hybrid;
}
