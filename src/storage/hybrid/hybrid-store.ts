import type { Logger } from '../../config/logger.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ConflictError } from '../../core/errors.js';
import type { Collection, CollectionSpec, FindOptions, Patch, StoredDoc, Where } from '../collection.js';
import { Namespaces } from '../namespaces.js';
import { isUnavailable } from '../mongo/mongo-collection.js';
import type { SqliteStore } from '../sqlite/sqlite-store.js';
import { COLLECTION_KEYS, COLLECTION_SPECS, type CollectionKey, type Store, type StoreCollections, type StoreState } from '../store.js';

/** What the hybrid needs of its primary: a store it can (re)connect and ping. MongoStore is one. */
export interface PrimaryStore extends Store {
  connect(): Promise<void>;
  ping(): Promise<void>;
}

export interface HybridOptions {
  primary: PrimaryStore;
  file: SqliteStore;
  logger: Logger;
  clock: Clock;
  /** How often to try MongoDB again while on the file store (default 5000 ms). */
  retryMs?: number;
  onStateChange?: (state: StoreState) => void;
}

/**
 * MongoDB when it answers, the file store when it does not — and nothing
 * acknowledged is lost either way. Every primary write is mirrored into the
 * file store; while falling back, writes go to the file store and are journaled
 * by (collection, id); when MongoDB is back the journal is replayed with
 * `putIfNewer` (idempotent by id and version) and only then does the store
 * switch back. Reads during a fallback see what this process wrote or mirrored.
 */
export class HybridStore implements Store {
  declare readonly agents: StoreCollections['agents'];
  declare readonly healthChecks: StoreCollections['healthChecks'];
  declare readonly approvals: StoreCollections['approvals'];
  declare readonly auditEvents: StoreCollections['auditEvents'];
  declare readonly contacts: StoreCollections['contacts'];
  declare readonly messages: StoreCollections['messages'];
  declare readonly conversations: StoreCollections['conversations'];
  declare readonly settings: StoreCollections['settings'];
  declare readonly apiTokens: StoreCollections['apiTokens'];
  declare readonly outbox: StoreCollections['outbox'];
  declare readonly prompts: StoreCollections['prompts'];

  mode: 'primary' | 'fallback' = 'fallback';
  private reason = 'not connected yet';
  private timer: TimerHandle | undefined;
  private closed = false;
  private recovering: Promise<void> | undefined;
  private readonly log: Logger;
  /** Namespaced collections (channels' state), each over the primary's and the file store's collection of the same name. */
  private readonly namespaces: Namespaces<HybridCollection<StoredDoc>>;
  private readonly opening = new Map<string, { namespace: string; specs: Readonly<Record<string, CollectionSpec>> }>();

  constructor(private readonly options: HybridOptions) {
    this.log = options.logger.child({ module: 'storage' });
    options.file.journaling = true;
    for (const key of COLLECTION_KEYS) {
      (this as unknown as Record<string, unknown>)[key] = new HybridCollection(
        this,
        options.primary[key] as unknown as Collection<StoredDoc>,
        options.file[key] as unknown as Collection<StoredDoc>,
      );
    }
    this.namespaces = new Namespaces((spec) => {
      const { namespace, specs } = this.opening.get(spec.name)!;
      const key = Object.keys(specs).find((k) => specs[k]!.name === spec.name)!;
      return new HybridCollection(this, options.primary.namespace(namespace, specs).collection(key), options.file.namespace(namespace, specs).collection(key));
    });
  }

  namespace(namespace: string, specs: Readonly<Record<string, CollectionSpec>>) {
    for (const spec of Object.values(specs)) this.opening.set(spec.name, { namespace, specs });
    const opened = this.namespaces.open(namespace, specs) as ReturnType<Store['namespace']>;
    // Writes to it journaled during an earlier outage (before this process opened it) are newer than
    // MongoDB's copy: serve it from the file store until they are replayed, which starts now.
    if (this.mode === 'primary' && this.options.file.journalEntries(1, Object.values(specs).map((s) => s.name)).length > 0) {
      this.switchTo('fallback', `replaying the file-store writes of '${namespace}' into MongoDB`);
      void this.tryRecover();
    }
    return opened;
  }

  /** Connects to MongoDB, or starts on the file store and keeps retrying. Never hangs past the driver timeout. */
  async start(): Promise<void> {
    try {
      await this.options.primary.connect();
      await this.replay();
      this.switchTo('primary', 'connected');
    } catch (error) {
      this.fallBack(error);
    }
  }

  /** Writes the file store holds (as the fallback) are durable; MongoDB's writes are awaited at the call. */
  barrier(): Promise<void> {
    return this.options.file.barrier();
  }

  state(): StoreState {
    const pendingSync = this.options.file.journalSize();
    if (this.mode === 'primary') {
      return { ...this.options.primary.state(), ready: true, fallback: false, pendingSync };
    }
    return {
      backend: 'file',
      ready: !this.closed,
      fallback: true,
      detail: `MongoDB unreachable (${this.reason}); using the file store ${this.options.file.path} and retrying`,
      pendingSync,
    };
  }

  /** Called by a collection when MongoDB fails: switch to the file store and schedule retries. */
  fallBack(error: unknown): void {
    this.reason = error instanceof Error ? error.message.split('\n')[0].slice(0, 200) : String(error);
    if (this.mode !== 'fallback' || !this.timer) {
      this.switchTo('fallback', this.reason);
      this.scheduleRetry();
    }
  }

  private switchTo(mode: 'primary' | 'fallback', why: string): void {
    const changed = this.mode !== mode;
    this.mode = mode;
    this.options.file.journaling = mode === 'fallback';
    if (mode === 'primary') this.log.info('storage: using MongoDB', { why });
    else if (changed || why !== 'not connected yet') this.log.warn('storage: MongoDB unreachable, using the file store', { why });
    if (changed) this.options.onStateChange?.(this.state());
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      void this.tryRecover();
    }, this.options.retryMs ?? 5000);
  }

  /** One recovery attempt: ping, replay the journal, switch back. Exposed for tests and `/ready` probes. */
  tryRecover(): Promise<void> {
    if (this.mode === 'primary' || this.closed) return Promise.resolve();
    this.recovering ??= (async () => {
      try {
        await this.options.primary.connect();
        await this.options.primary.ping();
        await this.replay();
        this.switchTo('primary', 'MongoDB is back; file-store writes replayed');
      } catch (error) {
        this.reason = error instanceof Error ? error.message.split('\n')[0].slice(0, 200) : String(error);
        this.log.debug('storage: MongoDB still unreachable', { why: this.reason });
        this.scheduleRetry();
      } finally {
        this.recovering = undefined;
      }
    })();
    return this.recovering;
  }

  /** Replays journaled writes until the journal is empty; throws if MongoDB fails midway (the rest stays journaled). */
  private async replay(): Promise<void> {
    const file = this.options.file;
    const byName = new Map(COLLECTION_KEYS.map((k) => [COLLECTION_SPECS[k].name, k] as [string, CollectionKey]));
    const pair = (name: string): { from: Collection<StoredDoc>; to: Collection<StoredDoc> } | undefined => {
      const key = byName.get(name);
      if (key) return { from: file[key] as unknown as Collection<StoredDoc>, to: this.options.primary[key] as unknown as Collection<StoredDoc> };
      const namespaced = this.namespaces.byName(name);
      return namespaced ? { from: namespaced.file, to: namespaced.primary } : undefined;
    };
    // A namespace not opened yet in this process (its channel has not started) keeps its entries journaled until it is.
    const known = [...byName.keys(), ...this.namespaces.names()];
    let replayed = 0;
    for (;;) {
      const batch = file.journalEntries(500, known);
      if (batch.length === 0) break;
      for (const { collection, id } of batch) {
        const both = pair(collection);
        if (both) {
          const doc = await both.from.get(id);
          const target = both.to;
          if (doc) {
            const applied = await target.putIfNewer(doc).catch((error: unknown) => {
              if (error instanceof ConflictError) return false;
              throw error;
            });
            if (!applied) this.log.warn('storage: replay kept the MongoDB copy (same or newer version there)', { collection, id });
          } else {
            await target.delete(id);
          }
        }
        file.clearJournalEntry(collection, id);
        replayed++;
      }
    }
    if (replayed > 0) this.log.info('storage: replayed file-store writes into MongoDB', { replayed });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    // A recovery attempt in flight handles its own failures (it logs and reschedules), so it never rejects.
    await this.recovering;
    try {
      await this.options.primary.close();
    } catch (error) {
      // The file store must still close (it holds the data-dir lock); the primary's failure is only reported.
      this.log.warn('storage: closing the MongoDB connection failed', { error });
    }
    await this.options.file.close();
  }
}

/** Routes one collection's calls to MongoDB (mirroring into the file) or to the file store. */
class HybridCollection<T extends StoredDoc> implements Collection<T> {
  readonly name: string;

  constructor(
    private readonly hybrid: HybridStore,
    readonly primary: Collection<T>,
    readonly file: Collection<T>,
  ) {
    this.name = file.name;
  }

  private async route<R>(onPrimary: () => Promise<R>, onFile: () => Promise<R>, mirror?: (result: R) => Promise<unknown>): Promise<R> {
    if (this.hybrid.mode === 'primary') {
      try {
        const result = await onPrimary();
        if (mirror) await mirror(result);
        return result;
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        this.hybrid.fallBack(error);
      }
    }
    return onFile();
  }

  private readonly mirrorDoc = async (doc: T | null) => {
    if (doc) await this.file.putIfNewer(doc);
  };

  insert(doc: Omit<T, 'version'> & { version?: number }): Promise<T> {
    return this.route(() => this.primary.insert(doc), () => this.file.insert(doc), this.mirrorDoc);
  }
  get(id: string): Promise<T | null> {
    return this.route(() => this.primary.get(id), () => this.file.get(id));
  }
  findOne(where: Where<T>): Promise<T | null> {
    return this.route(() => this.primary.findOne(where), () => this.file.findOne(where));
  }
  find(options?: FindOptions<T>): Promise<T[]> {
    return this.route(() => this.primary.find(options), () => this.file.find(options));
  }
  count(where?: Where<T>): Promise<number> {
    return this.route(() => this.primary.count(where), () => this.file.count(where));
  }
  update(id: string, patch: Patch<T>, expect?: Where<T>): Promise<T | null> {
    return this.route(() => this.primary.update(id, patch, expect), () => this.file.update(id, patch, expect), this.mirrorDoc);
  }
  put(doc: Omit<T, 'version'>): Promise<T> {
    return this.route(() => this.primary.put(doc), () => this.file.put(doc), this.mirrorDoc);
  }
  putIfNewer(doc: T): Promise<boolean> {
    return this.route(() => this.primary.putIfNewer(doc), () => this.file.putIfNewer(doc), () => this.file.putIfNewer(doc));
  }
  delete(id: string): Promise<boolean> {
    return this.route(() => this.primary.delete(id), () => this.file.delete(id), () => this.file.delete(id));
  }
  deleteWhere(where: Where<T>): Promise<number> {
    return this.route(() => this.primary.deleteWhere(where), () => this.file.deleteWhere(where), () => this.file.deleteWhere(where));
  }
}
