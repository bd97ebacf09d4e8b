import type Database from 'better-sqlite3';
import { ConflictError, ValidationError } from '../../core/errors.js';
import type { Collection, CollectionSpec, FieldFilter, FindOptions, Patch, Scalar, StoredDoc, Where } from '../collection.js';
import { matches } from '../collection.js';
import type { GroupCommit } from './group-commit.js';
import type { WriteUnits } from '../write-unit.js';

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

function field(name: string): string {
  if (!FIELD.test(name)) throw new Error(`invalid field name '${name}'`);
  return name === 'id' ? 'id' : name === 'version' ? 'version' : `json_extract(doc, '$.${name}')`;
}

/** better-sqlite3 binds no booleans; JSON booleans read back from json_extract as 1/0. */
function bind(value: Scalar): string | number | null {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

function whereSql<T>(where: Where<T> | undefined): { sql: string; params: Array<string | number | null> } {
  const parts: string[] = [];
  const params: Array<string | number | null> = [];
  for (const [name, filter] of Object.entries(where ?? {}) as Array<[string, FieldFilter | undefined]>) {
    if (filter === undefined) continue;
    const col = field(name);
    if (filter === null) parts.push(`${col} IS NULL`);
    else if (typeof filter !== 'object') {
      parts.push(`${col} = ?`);
      params.push(bind(filter));
    } else if ('in' in filter) {
      const values = filter.in.filter((v) => v !== null);
      const alts: string[] = [];
      if (values.length > 0) {
        alts.push(`${col} IN (${values.map(() => '?').join(', ')})`);
        params.push(...values.map(bind));
      }
      if (filter.in.includes(null)) alts.push(`${col} IS NULL`);
      parts.push(alts.length > 0 ? `(${alts.join(' OR ')})` : '0');
    } else if ('ne' in filter) {
      parts.push(`${col} IS NOT ?`);
      params.push(bind(filter.ne));
    } else {
      parts.push(`${col} IS NOT NULL`);
      for (const [op, sym] of [['gte', '>='], ['gt', '>'], ['lte', '<='], ['lt', '<']] as const) {
        const v = filter[op];
        if (v !== undefined && v !== null) {
          parts.push(`${col} ${sym} ?`);
          params.push(bind(v));
        }
      }
    }
  }
  return { sql: parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/** One collection as a table `(id, version, doc JSON)` with expression indexes on queried fields. */
export class SqliteCollection<T extends StoredDoc> implements Collection<T> {
  readonly name: string;
  private readonly table: string;
  private readonly stmts;
  private readonly prepared = new Map<string, Database.Statement>();
  /** Fields with a unique index of their own: ordering by them is already total. */
  private readonly uniqueFields: Set<string>;

  constructor(
    private readonly db: Database.Database,
    spec: CollectionSpec,
    /** The store's group commit (one per connection): writes of one turn of the event loop share one transaction and one fsync. */
    private readonly commit: GroupCommit,
    /** Called inside the write's transaction, e.g. to journal it for a later replay. */
    private readonly onWrite?: (collection: string, id: string) => void,
    /** Whether `onWrite` adds a statement of its own now (a journal row): then a write is two statements and needs a savepoint. */
    private readonly journaling: () => boolean = () => false,
    /** The store's write units: a write made inside one resolves when applied (write-unit.ts). */
    private readonly units?: WriteUnits,
  ) {
    this.name = spec.name;
    this.table = `"${spec.name}"`;
    db.exec(`CREATE TABLE IF NOT EXISTS ${this.table} (id TEXT PRIMARY KEY, version INTEGER NOT NULL, doc TEXT NOT NULL)`);
    const wanted = new Set<string>();
    // `id` ends every index so `ORDER BY field, id` (stable paging) is served by the index, not a sort.
    for (const fields of spec.indexes ?? []) {
      const index = `${spec.name}_${fields.join('_')}_id`;
      wanted.add(index);
      db.exec(`CREATE INDEX IF NOT EXISTS "${index}" ON ${this.table} (${fields.map(field).join(', ')}, id)`);
    }
    this.uniqueFields = new Set((spec.unique ?? []).filter((u) => u.length === 1).map((u) => u[0]));
    for (const fields of spec.unique ?? []) {
      const index = `${spec.name}_u_${fields.join('_')}`;
      wanted.add(index);
      db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS "${index}" ON ${this.table} (${fields.map(field).join(', ')})`);
    }
    // An index an earlier version declared and this one does not would cost every write for nothing.
    // (`sql IS NULL`: SQLite's own index for the primary key.)
    const existing = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`).all(spec.name) as Array<{ name: string }>;
    for (const { name } of existing) if (!wanted.has(name)) db.exec(`DROP INDEX "${name.replaceAll('"', '""')}"`);
    this.stmts = {
      get: db.prepare(`SELECT doc FROM ${this.table} WHERE id = ?`),
      insert: db.prepare(`INSERT INTO ${this.table} (id, version, doc) VALUES (?, ?, ?)`),
      replace: db.prepare(`UPDATE ${this.table} SET version = ?, doc = ? WHERE id = ?`),
      putIfNewer: db.prepare(
        `INSERT INTO ${this.table} (id, version, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET version = excluded.version, doc = excluded.doc WHERE excluded.version > ${this.table}.version`,
      ),
      delete: db.prepare(`DELETE FROM ${this.table} WHERE id = ?`),
    };
  }

  /** Statements for dynamic queries, prepared once per distinct SQL text. */
  private prepare(sql: string): Database.Statement {
    let stmt = this.prepared.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (this.prepared.size < 200) this.prepared.set(sql, stmt);
    }
    return stmt;
  }

  private read(id: string): T | null {
    const row = this.stmts.get.get(id) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as T) : null;
  }

  /**
   * Runs a write in the store's current batch; resolves once it is durable (group-commit.ts).
   * `oneStatement`: `fn` changes the database with a single statement (after any reads), so a
   * failure undoes nothing else and no savepoint is needed, unless the journal adds its own row.
   */
  private write<R>(fn: () => R, oneStatement = false): Promise<R> {
    const options = { savepoint: !oneStatement || this.journaling() };
    const unit = this.units?.current();
    if (!unit) return this.commit.run(fn, options);
    // In a write unit: answered once applied; the unit waits for the disk once, for all its writes.
    try {
      const { result, durable } = this.commit.apply(fn, options);
      unit.track(durable);
      return Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private conflict(error: unknown, id: string): never {
    const code = (error as { code?: string }).code;
    if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new ConflictError(`${this.name}: a document with id '${id}' or the same unique key already exists`, { collection: this.name, id });
    }
    throw error;
  }

  async insert(input: Omit<T, 'version'> & { version?: number }): Promise<T> {
    const doc = { ...input, version: input.version ?? 1 } as T;
    try {
      await this.write(() => {
        this.stmts.insert.run(doc.id, doc.version, JSON.stringify(doc));
        this.onWrite?.(this.name, doc.id);
      }, true);
    } catch (error) {
      this.conflict(error, doc.id);
    }
    return doc;
  }

  async get(id: string): Promise<T | null> {
    return this.read(id);
  }

  async findOne(where: Where<T>): Promise<T | null> {
    return (await this.find({ where, limit: 1 }))[0] ?? null;
  }

  async find(options: FindOptions<T> = {}): Promise<T[]> {
    const { sql, params } = whereSql(options.where);
    const dir = options.orderBy?.direction === 'desc' ? 'DESC' : 'ASC';
    const tieBreak = options.orderBy && !this.uniqueFields.has(options.orderBy.field) ? `, id ${dir}` : '';
    const order = options.orderBy ? `ORDER BY ${field(options.orderBy.field)} ${dir}${tieBreak}` : 'ORDER BY id';
    // Written into the SQL as integers: anything else (1e20 prints as "1e+20", which SQLite refuses) is the caller's mistake.
    for (const [name, value] of [['limit', options.limit], ['offset', options.offset]] as const) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) throw new ValidationError('Invalid paging', [{ path: name, message: `expected a whole number from 0 to ${Number.MAX_SAFE_INTEGER}` }]);
    }
    const limit = options.limit !== undefined ? `LIMIT ${options.limit}` : options.offset ? 'LIMIT -1' : '';
    const offset = options.offset ? `OFFSET ${options.offset}` : '';
    const rows = this.prepare(`SELECT doc FROM ${this.table} ${sql} ${order} ${limit} ${offset}`).all(...params) as Array<{ doc: string }>;
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  async count(where?: Where<T>): Promise<number> {
    const { sql, params } = whereSql(where);
    return (this.prepare(`SELECT count(*) AS n FROM ${this.table} ${sql}`).get(...params) as { n: number }).n;
  }

  async update(id: string, patch: Patch<T>, expect?: Where<T>): Promise<T | null> {
    try {
      return await this.write(() => {
        const current = this.read(id);
        if (!current || !matches(current, expect)) return null;
        const next = { ...current, ...patch, id, version: current.version + 1 } as T;
        for (const [k, v] of Object.entries(patch)) if (v === undefined) delete (next as Record<string, unknown>)[k];
        this.stmts.replace.run(next.version, JSON.stringify(next), id);
        this.onWrite?.(this.name, id);
        return next;
      }, true);
    } catch (error) {
      this.conflict(error, id);
    }
  }

  async put(input: Omit<T, 'version'>): Promise<T> {
    try {
      return await this.write(() => {
        const current = this.read(input.id);
        const doc = { ...input, version: (current?.version ?? 0) + 1 } as T;
        if (current) this.stmts.replace.run(doc.version, JSON.stringify(doc), doc.id);
        else this.stmts.insert.run(doc.id, doc.version, JSON.stringify(doc));
        this.onWrite?.(this.name, doc.id);
        return doc;
      }, true);
    } catch (error) {
      this.conflict(error, input.id);
    }
  }

  async putIfNewer(doc: T): Promise<boolean> {
    return this.write(() => this.stmts.putIfNewer.run(doc.id, doc.version, JSON.stringify(doc)).changes > 0, true);
  }

  async delete(id: string): Promise<boolean> {
    return this.write(() => {
      const changed = this.stmts.delete.run(id).changes > 0;
      if (changed) this.onWrite?.(this.name, id);
      return changed;
    }, true);
  }

  async deleteWhere(where: Where<T>): Promise<number> {
    const { sql, params } = whereSql(where);
    return this.write(() => {
      if (!this.onWrite) return this.db.prepare(`DELETE FROM ${this.table} ${sql}`).run(...params).changes;
      const ids = (this.db.prepare(`SELECT id FROM ${this.table} ${sql}`).all(...params) as Array<{ id: string }>).map((r) => r.id);
      for (const id of ids) {
        this.stmts.delete.run(id);
        this.onWrite?.(this.name, id);
      }
      return ids.length;
    });
  }
}
