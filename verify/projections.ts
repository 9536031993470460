/**
 * "Each projection equals a fresh rebuild": a live read model (fed event by event, the way the
 * live handler applies them: decode, applyOnce + apply) against rebuildProjection() of
 * src/engine/rebuild.ts into an empty database, compared table by table as multisets of rows.
 */
import Database from 'better-sqlite3';
import pino from 'pino';
import type { EngineDeps } from '../src/engine/engine-deps.js';
import { applyOnce } from '../src/engine/idempotent-projection.js';
import { rebuildProjection } from '../src/engine/rebuild.js';
import { systemClock } from '../src/engine/request-context.js';
import { decodeEvent } from '../src/contracts/events/codec.js';
import type { AppendResult, EventStore, Position } from '../src/eventstore/port.js';
import { activeTableSet, type Projection } from '../src/projections/projection.js';
import { openReadModelDatabase, type ReadModelDatabase } from '../src/readmodel/database.js';

const silent = pino({ level: 'silent' });

/**
 * Columns that legitimately differ between a live model and a rebuild: wall-clock stamps, and
 * the outbox state of analytics alerts (afterCommit marks them emitted; a rebuild never emits).
 */
const IGNORED_COLUMNS: ReadonlySet<string> = new Set(['updated_at', 'emitted_at', 'handled_at']);
const IGNORED_BY_TABLE: Readonly<Record<string, readonly string[]>> = { alerts: ['status'] };

/**
 * The store as a rebuild may see it from a second process: reads pass through, appends (the
 * analytics projection's afterCommit emits alert events) are dropped. Read-only stores refuse them.
 */
export function withoutAppends(store: EventStore): EventStore {
  const noAppend = async (): Promise<AppendResult> => ({ nextExpectedRevision: -1n, position: { commit: 0n, prepare: 0n } });
  return new Proxy(store, {
    get(target, property) {
      if (property === 'append') return noAppend;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function matches(projection: Projection, type: string): boolean {
  return projection.eventTypes.some((prefix) => type.startsWith(prefix));
}

/** Verifier-side live read models, fed incrementally from a store (kept across engine restarts). */
export class LiveReadModels {
  readonly db: ReadModelDatabase = openReadModelDatabase(':memory:');
  #position: Position | undefined;
  corrupt = 0;

  constructor(readonly projections: readonly Projection[]) {
    for (const projection of projections) activeTableSet(this.db, projection);
  }

  /** Applies every event after the last one fed, as the live handler would (applyOnce + apply). */
  async feed(store: EventStore): Promise<number> {
    let fed = 0;
    const from = this.#position;
    for await (const recorded of store.readAll(from ? { fromPosition: from } : {})) {
      if (from && recorded.position.commit <= from.commit) continue;
      this.#position = recorded.position;
      const wanted = this.projections.filter((projection) => matches(projection, recorded.type));
      if (wanted.length === 0) continue;
      const decoded = decodeEvent(recorded);
      if (!decoded.ok) {
        this.corrupt += 1;
        continue;
      }
      for (const projection of wanted) {
        const { tables, group } = activeTableSet(this.db, projection);
        applyOnce(this.db, group, recorded.id, () => projection.apply(this.db, decoded.event, tables));
      }
      fed += 1;
    }
    return fed;
  }

  close(): void {
    this.db.close();
  }
}

/** A fresh rebuild of `projection` from `store` into an empty database. */
export async function freshRebuild(store: EventStore, projection: Projection): Promise<ReadModelDatabase> {
  const db = openReadModelDatabase(':memory:');
  const deps: Pick<EngineDeps, 'store' | 'readDb' | 'clock' | 'logger'> = { store: withoutAppends(store), readDb: db, clock: systemClock, logger: silent };
  await rebuildProjection(deps, projection, { progressIntervalMs: 60_000 });
  return db;
}

type Row = Record<string, unknown>;

function rowKeys(db: Database.Database, table: string, ignored: readonly string[]): string[] {
  const rows = db.prepare(`SELECT * FROM ${table}`).all() as Row[];
  return rows.map((row) => {
    const kept: Row = {};
    for (const column of Object.keys(row).sort()) {
      if (IGNORED_COLUMNS.has(column) || ignored.includes(column)) continue;
      const value = row[column];
      kept[column] = Buffer.isBuffer(value) ? value.toString('hex') : typeof value === 'bigint' ? value.toString() : value;
    }
    return JSON.stringify(kept);
  });
}

/** Rows in one multiset and not the other, both ways. */
export function multisetDifference(a: readonly string[], b: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const key of a) counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const key of b) counts.set(key, (counts.get(key) ?? 0) - 1);
  let differing = 0;
  for (const count of counts.values()) differing += Math.abs(count);
  return differing;
}

export interface TableComparison {
  readonly table: string;
  readonly rowsLive: number;
  readonly rowsRebuilt: number;
  readonly differing: number;
  /** A few differing rows, for the report. */
  readonly sample: readonly string[];
}

/** Compares the serving tables of `projection` in two read-model databases. */
export function compareProjection(live: ReadModelDatabase, rebuilt: ReadModelDatabase, projection: Projection): TableComparison[] {
  const a = activeTableSet(live, projection).tables as Readonly<Record<string, string>>;
  const b = activeTableSet(rebuilt, projection).tables as Readonly<Record<string, string>>;
  return projection.tables.map((table) => compareTables(live, a[table] ?? '', rebuilt, b[table] ?? '', table));
}

export function compareTables(live: Database.Database, liveTable: string, rebuilt: Database.Database, rebuiltTable: string, logical: string): TableComparison {
  const ignored = IGNORED_BY_TABLE[logical] ?? [];
  const rowsA = rowKeys(live, liveTable, ignored);
  const rowsB = rowKeys(rebuilt, rebuiltTable, ignored);
  const setB = new Set(rowsB);
  const setA = new Set(rowsA);
  const sample = [...rowsA.filter((row) => !setB.has(row)).slice(0, 2).map((row) => `live only: ${row}`), ...rowsB.filter((row) => !setA.has(row)).slice(0, 2).map((row) => `rebuild only: ${row}`)];
  return { table: logical, rowsLive: rowsA.length, rowsRebuilt: rowsB.length, differing: multisetDifference(rowsA, rowsB), sample };
}

/** A consistent copy of a read-model database another process is writing (SQLite online backup). */
export async function snapshotReadModels(path: string, into: string): Promise<ReadModelDatabase> {
  const source = new Database(path, { readonly: true, fileMustExist: true });
  try {
    await source.backup(into);
  } finally {
    source.close();
  }
  return new Database(into);
}
