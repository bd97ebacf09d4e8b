import { describe } from '@jest/globals';
import { systemClock } from '../../src/core/clock.js';
import { MongoStore } from '../../src/storage/mongo/mongo-store.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { HybridStore } from '../../src/storage/hybrid/hybrid-store.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('file (SQLite)', async () => {
  const dir = tempDir();
  const store = SqliteStore.open({ dataDir: dir.path });
  return { store, cleanup: async () => { await store.close(); dir.cleanup(); } };
});

describeStoreContract('hybrid while MongoDB is unreachable (file fallback)', async () => {
  const dir = tempDir();
  const hybrid = new HybridStore({
    primary: MongoStore.create({ uri: 'mongodb://127.0.0.1:9/coordinator', timeoutMs: 300 }),
    file: SqliteStore.open({ dataDir: dir.path }),
    logger: memoryLogger().logger,
    clock: systemClock,
    retryMs: 60_000,
  });
  await hybrid.start();
  return { store: hybrid, cleanup: async () => { await hybrid.close(); dir.cleanup(); } };
});

const uri = process.env.MONGODB_URI;
const openMongo = async () => {
  const store = MongoStore.create({ uri: uri!.replace(/\/([^/?]*)(\?|$)/, `/coordinator_test_${process.pid}_${Date.now()}$2`), timeoutMs: 3000 });
  await store.connect();
  return { store, cleanup: async () => { await store.connection.dropDatabase(); await store.close(); } };
};
if (uri) {
  describeStoreContract(`MongoDB (${uri.replace(/\/\/[^@]*@/, '//')})`, openMongo);
} else {
  // A visible skip, not a test that passes: every contract test is listed as skipped, with the reason in the title.
  describe.skip('SKIPPED: MONGODB_URI is not set (no MongoDB server can run on this machine, see STACK.md; set it to run the store contract against a real server)', () => {
    describeStoreContract('MongoDB', openMongo);
  });
}
