import type { Collection, CollectionSpec, StoredDoc } from './collection.js';
import { COLLECTION_SPECS } from './store.js';

/** What `Store.namespace` returns: the collections one module (a channel) declared, and nothing else. */
export interface Namespace {
  collection<T extends StoredDoc>(name: string): Collection<T>;
}

const PHYSICAL = /^[a-z][a-z0-9_]{0,62}$/;
const CORE = new Set<string>(Object.values(COLLECTION_SPECS).map((s) => s.name));

/**
 * Collections a store opens for others by namespace (a channel's own state),
 * so the store knows their names and indexes but nothing of what they hold.
 * A physical name is claimed by one namespace for the life of the store; the
 * same namespace opening again gets the same collection objects.
 */
export class Namespaces<C> {
  private readonly owners = new Map<string, string>();
  private readonly opened = new Map<string, C>();

  constructor(private readonly make: (spec: CollectionSpec) => C) {}

  open(namespace: string, specs: Readonly<Record<string, CollectionSpec>>): { collection(name: string): C } {
    for (const spec of Object.values(specs)) {
      if (!PHYSICAL.test(spec.name)) throw new Error(`namespace '${namespace}': collection name '${spec.name}' must be 1-63 lowercase letters, digits or "_", starting with a letter`);
      if (CORE.has(spec.name)) throw new Error(`namespace '${namespace}': '${spec.name}' is one of the store's own collections`);
      const owner = this.owners.get(spec.name);
      if (owner !== undefined && owner !== namespace) throw new Error(`namespace '${namespace}': collection '${spec.name}' already belongs to namespace '${owner}'`);
    }
    const collections = new Map<string, C>();
    for (const [key, spec] of Object.entries(specs)) {
      this.owners.set(spec.name, namespace);
      let collection = this.opened.get(spec.name);
      if (!collection) {
        collection = this.make(spec);
        this.opened.set(spec.name, collection);
      }
      collections.set(key, collection);
    }
    return {
      collection(name) {
        const found = collections.get(name);
        if (!found) throw new Error(`namespace '${namespace}' has no collection '${name}' (declared: ${[...collections.keys()].join(', ') || 'none'})`);
        return found;
      },
    };
  }

  /** An opened collection by its physical name (journal replay). */
  byName(name: string): C | undefined {
    return this.opened.get(name);
  }

  all(): C[] {
    return [...this.opened.values()];
  }

  names(): string[] {
    return [...this.opened.keys()];
  }
}
