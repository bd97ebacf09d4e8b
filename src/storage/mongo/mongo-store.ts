import mongoose from 'mongoose';
import type { Logger } from '../../config/logger.js';
import type { CollectionSpec, StoredDoc } from '../collection.js';
import { Namespaces } from '../namespaces.js';
import { COLLECTION_KEYS, COLLECTION_SPECS, type Store, type StoreCollections, type StoreState } from '../store.js';
import { MongoCollection } from './mongo-collection.js';

export interface MongoStoreOptions {
  uri: string;
  /** How long to wait for a server before failing an operation (default 2000 ms, not the driver's 30 s). */
  timeoutMs?: number;
  /** Hears the driver's connection errors (at debug: operations and the hybrid store report the outage itself). */
  logger?: Logger;
}

/**
 * MongoDB through mongoose. Commands are never buffered: with the server gone an
 * operation fails within `timeoutMs`, so the hybrid store can fall back quickly.
 * Needs no transactions, so a standalone server works.
 */
export class MongoStore implements Store {
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
  readonly connection: mongoose.Connection;
  private everConnected = false;
  /** Collections opened by namespace (channels' state); their indexes are made at connect, or at once when already connected. */
  readonly namespaces: Namespaces<MongoCollection<StoredDoc>>;
  /** Namespaced collections whose index build failed: built again at the next `connect()`. */
  private readonly unindexed = new Set<MongoCollection<StoredDoc>>();

  private constructor(
    connection: mongoose.Connection,
    private readonly uri: string,
    private readonly connectOptions: mongoose.ConnectOptions,
    private readonly logger?: Logger,
  ) {
    this.connection = connection;
    const isConnected = () => this.connected;
    for (const key of COLLECTION_KEYS) {
      (this as unknown as Record<string, unknown>)[key] = new MongoCollection(connection, COLLECTION_SPECS[key], isConnected);
    }
    this.namespaces = new Namespaces((spec) => {
      const collection = new MongoCollection<StoredDoc>(connection, spec, isConnected);
      // Opened after connecting (a bot created after start-up): build its indexes now; a failure is logged, and retried at the next connect.
      if (this.everConnected) {
        collection.model.createIndexes().catch((error: unknown) => {
          this.unindexed.add(collection);
          this.logger?.warn(`storage: could not create the indexes of ${spec.name} in MongoDB; retrying at the next connect`, { module: 'storage', error });
        });
      }
      return collection;
    });
  }

  namespace(namespace: string, specs: Readonly<Record<string, CollectionSpec>>) {
    return this.namespaces.open(namespace, specs) as ReturnType<Store['namespace']>;
  }

  /** Creates the store without waiting for the server; `connect()` waits. */
  static create(options: MongoStoreOptions): MongoStore {
    const timeout = options.timeoutMs ?? 2000;
    const connectOptions: mongoose.ConnectOptions = {
      serverSelectionTimeoutMS: timeout,
      connectTimeoutMS: timeout,
      socketTimeoutMS: Math.max(timeout * 5, 10_000),
      bufferCommands: false,
      // Store absent fields as absent: a null would collide in partial unique indexes ($exists matches null).
      ignoreUndefined: true,
      autoIndex: false,
      autoCreate: false,
    };
    const connection = mongoose.createConnection();
    // Connection errors surface through operations and `connect()`; without a listener they would crash the process.
    connection.on('error', (error: unknown) => options.logger?.debug('storage: MongoDB connection error', { module: 'storage', error }));
    return new MongoStore(connection, options.uri, connectOptions, options.logger);
  }

  /**
   * Resolves once connected and indexes exist; rejects within the timeout when
   * unreachable. Safe to call again: after a failed first attempt it opens a new
   * connection; after a lost one it waits for the driver's own reconnection.
   */
  async connect(): Promise<void> {
    if (!this.everConnected) {
      if (this.connection.readyState !== mongoose.ConnectionStates.connecting) {
        await this.connection.openUri(this.uri, this.connectOptions);
      } else {
        await this.connection.asPromise();
      }
      await Promise.all([...COLLECTION_KEYS.map((key) => (this[key] as unknown as MongoCollection<never>).model.createIndexes()), ...this.namespaces.all().map((c) => c.model.createIndexes())]);
      this.everConnected = true;
    } else {
      await this.ping();
      for (const collection of [...this.unindexed]) {
        await collection.model.createIndexes();
        this.unindexed.delete(collection);
      }
    }
  }

  get connected(): boolean {
    return this.connection.readyState === mongoose.ConnectionStates.connected;
  }

  async ping(): Promise<void> {
    const db = this.connection.db;
    if (!db) throw new Error('not connected');
    await db.admin().ping();
  }

  state(): StoreState {
    return {
      backend: 'mongodb',
      ready: this.connected,
      fallback: false,
      detail: this.connected ? `MongoDB ${this.connection.host}:${this.connection.port}/${this.connection.name}` : 'MongoDB not connected',
    };
  }

  /** Closes the connection; a failure is the caller's to report (the hybrid logs it and still closes the file store). */
  async close(): Promise<void> {
    await this.connection.close(true);
  }
}
