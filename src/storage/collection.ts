/**
 * One typed collection of documents. Both backends (SQLite file store and
 * MongoDB) implement exactly this, so the contract suite, the hybrid fallback
 * and every repository work the same on either.
 */
export interface StoredDoc {
  id: string;
  /** Bumped by every update; replays and compare-and-set use it. */
  version: number;
}

export type Scalar = string | number | boolean | null;
export type FieldFilter = Scalar | { in: Scalar[] } | { gte?: Scalar; gt?: Scalar; lte?: Scalar; lt?: Scalar } | { ne: Scalar };
/** Equality and simple range filters on top-level fields; all must match. */
export type Where<T> = { [K in keyof T & string]?: FieldFilter };

export interface FindOptions<T> {
  where?: Where<T>;
  orderBy?: { field: keyof T & string; direction?: 'asc' | 'desc' };
  limit?: number;
  offset?: number;
}

/** Fields to change, or remove (`undefined`) — never `id` or `version`. */
export type Patch<T> = Partial<Omit<T, 'id' | 'version'>>;

export interface Collection<T extends StoredDoc> {
  readonly name: string;
  /** Adds a new document (version 1). Throws ConflictError if the id or a unique key exists. */
  insert(doc: Omit<T, 'version'> & { version?: number }): Promise<T>;
  get(id: string): Promise<T | null>;
  findOne(where: Where<T>): Promise<T | null>;
  find(options?: FindOptions<T>): Promise<T[]>;
  count(where?: Where<T>): Promise<number>;
  /**
   * Compare-and-set: applies `patch` only if the stored document still matches
   * `expect` (e.g. `{status: 'pending'}` or `{version: 3}`), bumping `version`.
   * Returns the updated document, or null if it is missing or no longer matches.
   */
  update(id: string, patch: Patch<T>, expect?: Where<T>): Promise<T | null>;
  /** Creates or replaces the whole document, bumping its version. */
  put(doc: Omit<T, 'version'>): Promise<T>;
  /**
   * Stores `doc` exactly (version included) if absent or older than it.
   * Replays and mirrors use this, so applying the same doc twice is a no-op.
   */
  putIfNewer(doc: T): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  deleteWhere(where: Where<T>): Promise<number>;
}

/** Declares a collection: its name and the fields it is queried or unique by. */
export interface CollectionSpec {
  name: string;
  indexes?: string[][];
  unique?: string[][];
}

/** Checks one document against a `Where`, with the same semantics both backends use. */
export function matches<T>(doc: T, where: Where<T> | undefined): boolean {
  if (!where) return true;
  for (const [field, filter] of Object.entries(where) as Array<[string, FieldFilter | undefined]>) {
    if (filter === undefined) continue;
    const value = (doc as Record<string, unknown>)[field] as Scalar | undefined;
    if (filter === null || typeof filter !== 'object') {
      if ((value ?? null) !== filter) return false;
    } else if ('in' in filter) {
      if (!filter.in.includes(value ?? null)) return false;
    } else if ('ne' in filter) {
      if ((value ?? null) === filter.ne) return false;
    } else {
      if (value === undefined || value === null) return false;
      if (filter.gte !== undefined && filter.gte !== null && !(value >= filter.gte)) return false;
      if (filter.gt !== undefined && filter.gt !== null && !(value > filter.gt)) return false;
      if (filter.lte !== undefined && filter.lte !== null && !(value <= filter.lte)) return false;
      if (filter.lt !== undefined && filter.lt !== null && !(value < filter.lt)) return false;
    }
  }
  return true;
}
