import { CodedError, ErrorCode } from '../../src/core/errors.js';
import type { Collection, StoredDoc } from '../../src/storage/collection.js';
import type { PrimaryStore } from '../../src/storage/hybrid/hybrid-store.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { COLLECTION_KEYS, type StoreState } from '../../src/storage/store.js';

/**
 * Stand-in for a MongoDB server that can be switched off and on (no mongod can
 * run on these machines). It keeps its data in a real SQLite file of its own and,
 * while offline, fails every call the way the MongoDB store does: with
 * `store_unavailable`.
 */
export function switchablePrimary(dataDir: string): PrimaryStore & { online: boolean; backing: SqliteStore } {
  const backing = SqliteStore.open({ dataDir });
  const down = () => new CodedError(ErrorCode.StoreUnavailable, 'MongoDB is unreachable: connect ECONNREFUSED 127.0.0.1:27017');
  const self = {
    online: true,
    backing,
    async connect() {
      if (!self.online) throw down();
    },
    async ping() {
      if (!self.online) throw down();
    },
    state(): StoreState {
      return { backend: 'mongodb', ready: self.online, fallback: false, detail: 'stand-in MongoDB' };
    },
    close: () => backing.close(),
  } as PrimaryStore & { online: boolean; backing: SqliteStore };
  const offline = <C extends object>(real: C): C =>
    new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (!self.online) throw down();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  for (const key of COLLECTION_KEYS) (self as unknown as Record<string, unknown>)[key] = offline(backing[key] as unknown as Collection<StoredDoc>);
  self.namespace = (namespace, specs) => {
    const real = backing.namespace(namespace, specs);
    return { collection: (name) => offline(real.collection(name)) };
  };
  return self;
}
