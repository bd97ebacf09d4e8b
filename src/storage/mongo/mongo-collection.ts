import type { Connection, Model } from 'mongoose';
import { Schema } from 'mongoose';
import { CodedError, ConflictError, ErrorCode } from '../../core/errors.js';
import type { Collection, CollectionSpec, FieldFilter, FindOptions, Patch, StoredDoc, Where } from '../collection.js';

/** Errors that mean "MongoDB cannot be reached", as opposed to a bad query. */
const UNAVAILABLE = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongooseServerSelectionError',
]);

export function isUnavailable(error: unknown): boolean {
  if (error instanceof CodedError) return error.code === ErrorCode.StoreUnavailable;
  return UNAVAILABLE.has((error as { name?: string })?.name ?? '');
}

function toFilter<T>(where: Where<T> | undefined): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(where ?? {}) as Array<[string, FieldFilter | undefined]>) {
    if (f === undefined) continue;
    const key = name === 'id' ? '_id' : name;
    if (f === null || typeof f !== 'object') filter[key] = f;
    else if ('in' in f) filter[key] = { $in: f.in };
    else if ('ne' in f) filter[key] = { $ne: f.ne };
    else {
      const range: Record<string, unknown> = { $ne: null };
      if (f.gte !== undefined) range.$gte = f.gte;
      if (f.gt !== undefined) range.$gt = f.gt;
      if (f.lte !== undefined) range.$lte = f.lte;
      if (f.lt !== undefined) range.$lt = f.lt;
      filter[key] = range;
    }
  }
  return filter;
}

function fromMongo<T>(raw: Record<string, unknown> | null): T | null {
  if (!raw) return null;
  const { _id, ...rest } = raw;
  return { id: _id, ...rest } as T;
}

function toMongo(doc: StoredDoc): Record<string, unknown> {
  const { id, ...rest } = doc;
  return { _id: id, ...rest };
}

/**
 * One collection as a mongoose model (schemaless apart from `_id`, `version` and
 * the declared indexes). Compare-and-set is a single `findOneAndUpdate` whose
 * filter carries the expected fields, so it is atomic on a standalone server.
 */
export class MongoCollection<T extends StoredDoc> implements Collection<T> {
  readonly name: string;
  // The schema is open (strict: false); documents are typed by the Collection<T> surface instead.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly model: Model<any>;
  private readonly uniqueFields: Set<string>;

  constructor(
    connection: Connection,
    spec: CollectionSpec,
    /** Fail fast instead of waiting for a server while the connection is down. */
    private readonly isConnected: () => boolean = () => true,
  ) {
    this.name = spec.name;
    const schema = new Schema({ _id: String, version: Number }, { strict: false, versionKey: false, collection: spec.name, id: false });
    // `_id` ends every index so sorts with the `_id` tie-break are served by the index.
    for (const fields of spec.indexes ?? []) schema.index({ ...Object.fromEntries(fields.map((f) => [f, 1])), _id: 1 });
    this.uniqueFields = new Set((spec.unique ?? []).filter((u) => u.length === 1).map((u) => u[0]));
    for (const fields of spec.unique ?? []) {
      schema.index(Object.fromEntries(fields.map((f) => [f, 1])), {
        unique: true,
        partialFilterExpression: Object.fromEntries(fields.map((f) => [f, { $exists: true }])),
      });
    }
    this.model = connection.model(spec.name, schema);
  }

  private async run<R>(id: string, fn: () => Promise<R>): Promise<R> {
    if (!this.isConnected()) throw new CodedError(ErrorCode.StoreUnavailable, 'MongoDB is not connected');
    try {
      return await fn();
    } catch (error) {
      if ((error as { code?: number }).code === 11000) {
        throw new ConflictError(`${this.name}: a document with id '${id}' or the same unique key already exists`, { collection: this.name, id });
      }
      if (isUnavailable(error)) throw new CodedError(ErrorCode.StoreUnavailable, `MongoDB is unreachable: ${(error as Error).message}`, undefined, { cause: error });
      throw error;
    }
  }

  async insert(input: Omit<T, 'version'> & { version?: number }): Promise<T> {
    const doc = { ...input, version: input.version ?? 1 } as T;
    await this.run(doc.id, () => this.model.collection.insertOne(toMongo(doc) as never));
    return doc;
  }

  async get(id: string): Promise<T | null> {
    return this.run(id, async () => fromMongo<T>(await this.model.collection.findOne({ _id: id as never })));
  }

  async findOne(where: Where<T>): Promise<T | null> {
    return (await this.find({ where, limit: 1 }))[0] ?? null;
  }

  async find(options: FindOptions<T> = {}): Promise<T[]> {
    return this.run('', async () => {
      const dir = options.orderBy?.direction === 'desc' ? -1 : 1;
      const by = options.orderBy;
      const sort: Record<string, 1 | -1> = by ? { [by.field === 'id' ? '_id' : by.field]: dir, ...(this.uniqueFields.has(by.field) ? {} : { _id: dir }) } : { _id: 1 };
      let cursor = this.model.collection.find(toFilter(options.where)).sort(sort);
      if (options.offset) cursor = cursor.skip(options.offset);
      if (options.limit !== undefined) cursor = cursor.limit(options.limit);
      return (await cursor.toArray()).map((d) => fromMongo<T>(d as Record<string, unknown>) as T);
    });
  }

  async count(where?: Where<T>): Promise<number> {
    return this.run('', () => this.model.collection.countDocuments(toFilter(where)));
  }

  async update(id: string, patch: Patch<T>, expect?: Where<T>): Promise<T | null> {
    const $set: Record<string, unknown> = {};
    const $unset: Record<string, ''> = {};
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'id' || k === 'version') continue;
      if (v === undefined) $unset[k] = '';
      else $set[k] = v;
    }
    const update: Record<string, unknown> = { $inc: { version: 1 } };
    if (Object.keys($set).length > 0) update.$set = $set;
    if (Object.keys($unset).length > 0) update.$unset = $unset;
    return this.run(id, async () =>
      fromMongo<T>(
        (await this.model.collection.findOneAndUpdate({ ...toFilter(expect), _id: id as never }, update, { returnDocument: 'after' })) as Record<string, unknown> | null,
      ),
    );
  }

  async put(input: Omit<T, 'version'>): Promise<T> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.get(input.id);
      const doc = { ...input, version: (current?.version ?? 0) + 1 } as T;
      if (!current) {
        try {
          return await this.insert(doc);
        } catch (error) {
          if (error instanceof ConflictError) continue;
          throw error;
        }
      }
      const replaced = await this.run(input.id, () =>
        this.model.collection.replaceOne({ _id: input.id as never, version: current.version }, toMongo(doc)),
      );
      if (replaced.modifiedCount === 1) return doc;
    }
    throw new ConflictError(`${this.name}: '${input.id}' kept changing while being replaced`);
  }

  async putIfNewer(doc: T): Promise<boolean> {
    try {
      const { _id, ...fields } = toMongo(doc);
      const result = await this.run(doc.id, () =>
        this.model.collection.replaceOne({ _id: _id as never, version: { $lt: doc.version } }, fields, { upsert: true }),
      );
      return result.modifiedCount + result.upsertedCount > 0;
    } catch (error) {
      // The upsert collides with the same _id when the stored version is newer or equal.
      if (error instanceof ConflictError) return false;
      throw error;
    }
  }

  async delete(id: string): Promise<boolean> {
    return this.run(id, async () => (await this.model.collection.deleteOne({ _id: id as never })).deletedCount === 1);
  }

  async deleteWhere(where: Where<T>): Promise<number> {
    return this.run('', async () => (await this.model.collection.deleteMany(toFilter(where))).deletedCount);
  }
}
