import type { Collection, StoredDoc } from './collection.js';
import type { Store, StoreCollections } from './store.js';

const WRITES = ['insert', 'update', 'put', 'putIfNewer', 'delete', 'deleteWhere'] as const;

/**
 * Makes `listener` hear every write to one of the store's collections, whoever
 * makes it (a route, a module, a replay), so a cache of that collection can be
 * dropped instead of expiring by time. Called when the write is issued (a store
 * that applies writes at the call shows them to reads at once) and again when it
 * settles (one that applies them later), so a read between the two cannot keep
 * the old documents cached. Replaces the collection on the store object in place.
 */
export function watchWrites<K extends keyof StoreCollections>(store: Store, key: K, listener: () => void): void {
  const inner = store[key] as unknown as Collection<StoredDoc>;
  const watched: Collection<StoredDoc> = Object.create(inner) as Collection<StoredDoc>;
  for (const method of WRITES) {
    const write = inner[method].bind(inner) as (...args: unknown[]) => Promise<unknown>;
    (watched as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      listener();
      return write(...args).finally(listener);
    };
  }
  Object.defineProperty(store, key, { value: watched, configurable: true, enumerable: true, writable: false });
}
