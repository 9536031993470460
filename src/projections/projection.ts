/**
 * A small framework for SQLite read models fed from $all.
 *
 * A projection declares its tables by logical name (`tables`) and creates them with migrations
 * written against physical names (`migrations[].sql(tables)`), so the same projection can build a
 * second, fresh set of tables under another prefix (a rebuild, src/engine/rebuild.ts) while the
 * first keeps serving.
 *
 * The active table set. `projection_registry` holds, per projection, the prefix of the tables that
 * serve reads and take live events. Generation 1 uses the projection name as prefix
 * (`scoring_status_requests`); a rebuild builds `<name>__rebuild_<n>_<table>` and swaps by
 * updating the registry row in one transaction. Readers and the live handler resolve the active
 * prefix every time (one primary-key read), inside their transaction, so nobody ever sees half a
 * swap. The handled-event ids of a table set are recorded under a handled_events group named like
 * its prefix (generation 1: the projection name = the persistent subscription group), so the
 * swap is O(1): the new set's ids come along with it, nothing is rewritten.
 *
 * The live handler (projectionHandler) runs each event under a per-projection in-process gate; a
 * rebuild takes the same gate for its final catch-up and the swap, which pauses the live handler
 * between two events. Run a rebuild in the process that runs the projection's handler.
 */
import type { Statement } from 'better-sqlite3';
import { CorruptEventError } from '../engine/command-handler.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import { BusinessError } from '../engine/failures.js';
import { applyOnce, ensureHandledEvents } from '../engine/idempotent-projection.js';
import type { EventHandler } from '../engine/subscription-runner.js';
import type { RetryPolicy } from '../engine/retry-policy.js';
import { decodeEvent, type DecodedEvent } from '../contracts/events/codec.js';
import type { EventFilter, PersistentSubscriptionSettings, RecordedEvent } from '../eventstore/port.js';
import { migrate, type ReadModelDatabase } from '../readmodel/database.js';
import { ForeignCommitWatch } from '../shared/foreign-commits.js';

/** Logical table name → physical table name of one table set. */
export type TableNames<K extends string = string> = Readonly<Record<K, string>>;

/** A numbered migration of a projection's tables, written against the physical names. */
export interface ProjectionMigration<K extends string = string> {
  readonly version: number;
  sql(tables: TableNames<K>): string;
}

/** What the swap of a rebuilt table set hands to `carryOver`. */
export interface TableSwap<K extends string = string> {
  /** The set serving until now. */
  readonly from: TableNames<K>;
  /** The rebuilt set about to serve. */
  readonly to: TableNames<K>;
  /** handled_events groups of the two sets. */
  readonly fromGroup: string;
  readonly toGroup: string;
}

/** What side effects after a committed event may use. */
export type ProjectionEffectDeps = Pick<EngineDeps, 'store' | 'readDb' | 'clock' | 'logger'>;

export interface Projection<K extends string = string> {
  /** Persistent subscription group, registry key and default table prefix: `^[a-z][a-z0-9_]*$`. */
  readonly name: string;
  /** Event type prefixes for the $all filter (e.g. 'ai.scoring.'). */
  readonly eventTypes: readonly string[];
  /** Logical table names. */
  readonly tables: readonly K[];
  readonly migrations: readonly ProjectionMigration<K>[];
  /** The effect of one event: synchronous SQLite writes only (it runs inside a transaction). */
  apply(db: ReadModelDatabase, event: DecodedEvent, tables: TableNames<K>): void;
  /**
   * Optional: the effect of several events in order, inside one transaction; MUST leave the same
   * state as `apply` on each in turn (a rebuild uses it to replay faster, e.g. by folding in memory
   * and writing each row once).
   */
  applyBatch?(db: ReadModelDatabase, events: readonly DecodedEvent[], tables: TableNames<K>): void;
  /**
   * Optional side effects after the live transaction committed, e.g. appending events recorded in
   * an outbox table. Runs after every delivery, including a redelivery whose apply was skipped,
   * so it must be idempotent (deterministic event ids). Never run by a rebuild's replay.
   */
  afterCommit?(deps: ProjectionEffectDeps, tables: TableNames<K>): Promise<void>;
  /**
   * Optional, in the swap transaction: carry over what a replay cannot know from the serving
   * set to the rebuilt one (e.g. which outbox rows were already emitted).
   */
  carryOver?(db: ReadModelDatabase, swap: TableSwap<K>): void;
}

const NAME_RE = /^[a-z][a-z0-9_]{0,47}$/;

export function assertProjection(projection: Projection): void {
  if (!NAME_RE.test(projection.name)) throw new TypeError(`Projection name '${projection.name}' must match ${NAME_RE.source}`);
  if (projection.eventTypes.length === 0 || projection.eventTypes.some((p) => p.length === 0)) throw new TypeError(`Projection '${projection.name}': eventTypes must be non-empty prefixes`);
  for (const table of projection.tables) if (!/^[a-z][a-z0-9_]*$/.test(table)) throw new TypeError(`Projection '${projection.name}': bad table name '${table}'`);
}

/** The $all filter of a projection. */
export function projectionFilter(projection: Projection): EventFilter {
  return { on: 'eventType', prefixes: [...projection.eventTypes] };
}

const namesCache = new WeakMap<object, Map<string, unknown>>();

/** Physical table names under `prefix` (the same frozen object for the same projection and prefix). */
export function tableNames<K extends string>(projection: Projection<K>, prefix: string): TableNames<K> {
  let byPrefix = namesCache.get(projection);
  if (!byPrefix) {
    byPrefix = new Map();
    namesCache.set(projection, byPrefix);
  }
  const cached = byPrefix.get(prefix);
  if (cached) return cached as TableNames<K>;
  const names = {} as Record<K, string>;
  for (const table of projection.tables) names[table] = `${prefix}_${table}`;
  Object.freeze(names);
  byPrefix.set(prefix, names);
  return names;
}

function migrationModule(prefix: string): string {
  return `projection.${prefix}`;
}

/** Creates (or migrates) the tables of `projection` under `prefix`; returns their names. */
export function createProjectionTables<K extends string>(db: ReadModelDatabase, projection: Projection<K>, prefix: string): TableNames<K> {
  const names = tableNames(projection, prefix);
  migrate(
    db,
    migrationModule(prefix),
    projection.migrations.map((m) => ({ version: m.version, sql: m.sql(names) })),
  );
  return names;
}

/** Drops the tables under `prefix`, their migration records and the handled ids of their group. */
export function dropProjectionTables(db: ReadModelDatabase, projection: Projection, prefix: string): void {
  ensureRegistry(db);
  const names = tableNames(projection, prefix);
  db.transaction(() => {
    for (const table of projection.tables) db.exec(`DROP TABLE IF EXISTS ${names[table]}`);
    db.prepare('DELETE FROM schema_migrations WHERE module = ?').run(migrationModule(prefix));
    ensureHandledEvents(db).forget.run(prefix);
  })();
  migrated.get(db)?.delete(prefix);
  forgetStatements(db, Object.values<string>(names));
  preparedByTables.get(db)?.delete(names);
}

// ---------------------------------------------------------------------------------------------
// Registry of active table sets

const REGISTRY_MODULE = 'projections.registry';

export interface RegistryRow {
  readonly projection: string;
  /** Prefix of the serving tables; also their handled_events group. */
  readonly prefix: string;
  readonly generation: number;
  /** The highest generation ever started (rebuilds take the next one). */
  readonly lastGeneration: number;
  /** Prefix of a rebuild in progress (or abandoned by a crash). */
  readonly rebuildingPrefix: string | null;
  /** Prefix of tables swapped out but not dropped yet. */
  readonly retiredPrefix: string | null;
  readonly swappedAt: string | null;
}

interface RegistryRecord {
  projection: string;
  prefix: string;
  generation: number;
  last_generation: number;
  rebuilding_prefix: string | null;
  retired_prefix: string | null;
  swapped_at: string | null;
}

const registryReady = new WeakSet<ReadModelDatabase>();

function ensureRegistry(db: ReadModelDatabase): void {
  if (registryReady.has(db)) return;
  migrate(db, REGISTRY_MODULE, [
    {
      version: 1,
      sql: `CREATE TABLE IF NOT EXISTS projection_registry (
        projection TEXT PRIMARY KEY,
        prefix TEXT NOT NULL,
        generation INTEGER NOT NULL,
        last_generation INTEGER NOT NULL,
        rebuilding_prefix TEXT,
        retired_prefix TEXT,
        swapped_at TEXT
      )`,
    },
  ]);
  registryReady.add(db);
}

function toRow(record: RegistryRecord): RegistryRow {
  return {
    projection: record.projection,
    prefix: record.prefix,
    generation: record.generation,
    lastGeneration: record.last_generation,
    rebuildingPrefix: record.rebuilding_prefix,
    retiredPrefix: record.retired_prefix,
    swappedAt: record.swapped_at,
  };
}

/**
 * Registry rows read outside a transaction, by projection name: every event a projection handles
 * and every read of its tables resolves the serving set, and the primary-key read was a visible
 * share of the engine's CPU. Writes through updateRegistry drop the rows and keep the cache off
 * until the next event-loop turn (the transaction that wrote may still roll back; it has ended by
 * then: transactions here are synchronous, and a turn batch commits before that turn's end); a
 * commit by another connection (checked on every lookup: one cheap PRAGMA) drops them all.
 * Reads inside the read models' turn batch are cached: the batch is this connection's state, and
 * a batch that fails to commit stops the engine until a restart.
 */
interface RegistryCache {
  readonly foreignCommits: ForeignCommitWatch;
  readonly rows: Map<string, RegistryRow>;
  /** updateRegistry ran in this turn. */
  suspended: boolean;
}

const registryCaches = new WeakMap<ReadModelDatabase, RegistryCache>();

function registryCache(db: ReadModelDatabase): RegistryCache {
  let cache = registryCaches.get(db);
  if (!cache) {
    cache = { foreignCommits: new ForeignCommitWatch(db), rows: new Map(), suspended: false };
    registryCaches.set(db, cache);
  }
  return cache;
}

/** The registry row of a projection, created (generation 1, prefix = name) on first use. */
export function registryRow(db: ReadModelDatabase, projection: Projection): RegistryRow {
  ensureRegistry(db);
  const cache = registryCache(db);
  if (cache.foreignCommits.check()) cache.rows.clear();
  const known = cache.rows.get(projection.name);
  if (known !== undefined) return known;
  const get = cachedStatement(db, 'SELECT * FROM projection_registry WHERE projection = ?');
  let record = get.get(projection.name) as RegistryRecord | undefined;
  if (!record) {
    assertProjection(projection);
    cachedStatement(db, 'INSERT OR IGNORE INTO projection_registry (projection, prefix, generation, last_generation) VALUES (?, ?, 1, 1)').run(projection.name, projection.name);
    record = get.get(projection.name) as RegistryRecord;
  }
  const row = toRow(record);
  if (!cache.suspended) cache.rows.set(projection.name, row);
  return row;
}

export function updateRegistry(db: ReadModelDatabase, name: string, changes: Partial<Pick<RegistryRow, 'prefix' | 'generation' | 'lastGeneration' | 'rebuildingPrefix' | 'retiredPrefix' | 'swappedAt'>>): void {
  const columns: Record<string, string> = {
    prefix: 'prefix',
    generation: 'generation',
    lastGeneration: 'last_generation',
    rebuildingPrefix: 'rebuilding_prefix',
    retiredPrefix: 'retired_prefix',
    swappedAt: 'swapped_at',
  };
  const entries = Object.entries(changes).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return;
  const sql = `UPDATE projection_registry SET ${entries.map(([key]) => `${columns[key] ?? 'invalid_column'} = ?`).join(', ')} WHERE projection = ?`;
  db.prepare(sql).run(...entries.map(([, value]) => value as string | number | null), name);
  const cache = registryCache(db);
  cache.rows.clear();
  if (!cache.suspended) {
    cache.suspended = true;
    setImmediate(() => (cache.suspended = false));
  }
}

const migrated = new WeakMap<ReadModelDatabase, Set<string>>();

/** The active table set of a projection (and its handled_events group), migrated. Cheap: one PK read. */
export function activeTableSet<K extends string>(db: ReadModelDatabase, projection: Projection<K>): { readonly tables: TableNames<K>; readonly group: string; readonly generation: number } {
  const row = registryRow(db, projection);
  let done = migrated.get(db);
  if (!done) {
    done = new Set();
    migrated.set(db, done);
  }
  if (!done.has(row.prefix)) {
    createProjectionTables(db, projection, row.prefix);
    done.add(row.prefix);
  }
  return { tables: tableNames(projection, row.prefix), group: row.prefix, generation: row.generation };
}

/** The serving tables of a projection (what query functions read). */
export function activeTables<K extends string>(db: ReadModelDatabase, projection: Projection<K>): TableNames<K> {
  return activeTableSet(db, projection).tables;
}

// ---------------------------------------------------------------------------------------------
// Statement cache: projections build SQL from table names, prepared once per text.

const statements = new WeakMap<ReadModelDatabase, Map<string, Statement>>();

export function cachedStatement(db: ReadModelDatabase, sql: string): Statement {
  let cache = statements.get(db);
  if (!cache) {
    cache = new Map();
    statements.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}

function forgetStatements(db: ReadModelDatabase, tables: readonly string[]): void {
  const cache = statements.get(db);
  if (!cache) return;
  for (const sql of cache.keys()) if (tables.some((table) => sql.includes(table))) cache.delete(sql);
}

// ---------------------------------------------------------------------------------------------
// The gate: live handling and a rebuild's swap never interleave (in this process).

/** A FIFO async mutex. */
export class ProjectionGate {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await fn();
    } finally {
      release();
    }
  }
}

const gates = new WeakMap<ReadModelDatabase, Map<string, ProjectionGate>>();

export function projectionGate(db: ReadModelDatabase, name: string): ProjectionGate {
  let byName = gates.get(db);
  if (!byName) {
    byName = new Map();
    gates.set(db, byName);
  }
  let gate = byName.get(name);
  if (!gate) {
    gate = new ProjectionGate();
    byName.set(name, gate);
  }
  return gate;
}

// ---------------------------------------------------------------------------------------------
// Applying events

const preparedByTables = new WeakMap<ReadModelDatabase, WeakMap<object, Map<string, Statement>>>();

/**
 * The statement `key` of a table set, prepared once: `sql` runs only on the first call. Cheaper than
 * cachedStatement on hot paths (no long SQL string is built or hashed per call).
 */
export function prepared<K extends string>(db: ReadModelDatabase, tables: TableNames<K>, key: string, sql: (tables: TableNames<K>) => string): Statement {
  let byTables = preparedByTables.get(db);
  if (!byTables) {
    byTables = new WeakMap();
    preparedByTables.set(db, byTables);
  }
  let byKey = byTables.get(tables);
  if (!byKey) {
    byKey = new Map();
    byTables.set(tables, byKey);
  }
  let statement = byKey.get(key);
  if (!statement) {
    statement = db.prepare(sql(tables));
    byKey.set(key, statement);
  }
  return statement;
}

/** Decodes a recorded event for a projection; a corrupt one is a BusinessError (parked at once, never retried). */
export function decodeForProjection(recorded: RecordedEvent): DecodedEvent {
  const decoded = decodeEvent(recorded);
  if (decoded.ok) return decoded.event;
  const corrupt = new CorruptEventError(decoded.error);
  throw new BusinessError('CORRUPT_EVENT', corrupt.message, { cause: corrupt });
}

/**
 * Applies decoded events to one table set in ONE transaction, WITHOUT recording their ids: the
 * caller has deduplicated them and records the ids itself (a rebuild: see ReplayedIds in
 * src/engine/rebuild.ts, which writes them in key order, in bulk, before the swap).
 */
export function applyEvents<K extends string>(db: ReadModelDatabase, projection: Projection<K>, tables: TableNames<K>, events: readonly DecodedEvent[]): void {
  if (events.length === 0) return;
  db.transaction(() => {
    if (projection.applyBatch) projection.applyBatch(db, events, tables);
    else for (const event of events) projection.apply(db, event, tables);
  }).immediate();
}

/** Ids per statement of recordHandled / handledAmong (one JSON array parameter each). */
const IDS_PER_STATEMENT = 5_000;

const handledStatements = new WeakMap<ReadModelDatabase, { readonly record: Statement; readonly among: Statement }>();

function bulkHandledStatements(db: ReadModelDatabase): { readonly record: Statement; readonly among: Statement } {
  let statements = handledStatements.get(db);
  if (!statements) {
    ensureHandledEvents(db);
    statements = {
      record: db.prepare('INSERT OR IGNORE INTO handled_events (group_name, event_id, handled_at) SELECT ?, value, ? FROM json_each(?)'),
      among: db.prepare('SELECT value AS id FROM json_each(?) WHERE EXISTS (SELECT 1 FROM handled_events h WHERE h.group_name = ? AND h.event_id = value)'),
    };
    handledStatements.set(db, statements);
  }
  return statements;
}

/**
 * Records `ids` as handled under `group`, in bulk: one transaction, a JSON array of ids per
 * statement. Give them in key order (sorted strings): B-tree pages are then filled one after the
 * other instead of each id dirtying a random page.
 */
export function recordHandled(db: ReadModelDatabase, group: string, ids: Iterable<string>): void {
  const { record } = bulkHandledStatements(db);
  const at = new Date().toISOString();
  db.transaction(() => {
    let chunk: string[] = [];
    for (const id of ids) {
      chunk.push(id);
      if (chunk.length < IDS_PER_STATEMENT) continue;
      record.run(group, at, JSON.stringify(chunk));
      chunk = [];
    }
    if (chunk.length > 0) record.run(group, at, JSON.stringify(chunk));
  }).immediate();
}

/** The ids among `ids` already recorded as handled under `group` (one index probe each, in SQLite). */
export function handledAmong(db: ReadModelDatabase, group: string, ids: readonly string[]): Set<string> {
  const found = new Set<string>();
  if (ids.length === 0) return found;
  const { among } = bulkHandledStatements(db);
  const sorted = [...ids].sort();
  for (let i = 0; i < sorted.length; i += IDS_PER_STATEMENT) {
    for (const row of among.all(JSON.stringify(sorted.slice(i, i + IDS_PER_STATEMENT)), group) as { id: string }[]) found.add(row.id);
  }
  return found;
}

export interface ProjectionHandlerOptions {
  /** Overrides of the group settings (defaults: startFrom 'start', Pinned). */
  readonly settings?: Partial<PersistentSubscriptionSettings>;
  readonly retryPolicy?: Partial<RetryPolicy>;
  readonly bufferSize?: number;
}

/**
 * The live handler of a projection: group = projection name, Pinned, from the start of $all
 * (filtered on the projection's event types). Each event: decode (corrupt → BusinessError →
 * parked), then apply to the active table set with applyOnce, so the effect and the handled id
 * commit together (exact under redelivery), then `afterCommit` (idempotent side effects).
 */
export function projectionHandler<K extends string>(deps: ProjectionEffectDeps, projection: Projection<K>, options: ProjectionHandlerOptions = {}): EventHandler {
  assertProjection(projection);
  const db = deps.readDb;
  const gate = projectionGate(db, projection.name);
  return {
    name: projection.name,
    source: { kind: 'all', filter: projectionFilter(projection) },
    settings: { startFrom: 'start', consumerStrategyName: 'Pinned', ...options.settings },
    ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}),
    ...(options.bufferSize !== undefined ? { bufferSize: options.bufferSize } : {}),
    async handle(recorded: RecordedEvent): Promise<void> {
      const event = decodeForProjection(recorded);
      await gate.run(async () => {
        const { tables, group } = activeTableSet(db, projection);
        applyOnce(db, group, recorded.id, () => projection.apply(db, event, tables));
        if (projection.afterCommit) await projection.afterCommit(deps, tables);
      });
    },
  };
}
