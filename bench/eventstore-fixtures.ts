import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { EventData, JsonObject, JsonValue } from '../src/eventstore/port.js';

/**
 * What the event store benchmarks write, and the raw better-sqlite3 baseline they compare with.
 * Shared by bench/eventstore.ts and the RSS child (bench/eventstore-rss.ts).
 */

const TYPES = ['ApplicationSubmitted', 'DocumentsReceived', 'ApplicationScored', 'OfferMade'] as const;

/** A realistic domain event: ~300 bytes of data JSON, ~120 bytes of metadata. */
export function benchEvent(i: number): EventData {
  const data: JsonValue = {
    applicationId: `app-${i}`,
    applicant: { name: 'Jane Q. Applicant', income: 84_000 + (i % 1_000), employment: 'permanent', since: '2016-03-01' },
    property: { postcode: 'AB1 2CD', value: 410_000, kind: 'semi-detached' },
    loan: { amount: 300_000 + (i % 5_000), termMonths: 300, currency: 'GBP' },
    score: i % 850,
    factors: ['income', 'ltv', 'dti'],
  };
  const metadata: JsonObject = { correlationId: 'c2f1e0b4-6a4e-4f7e-9a53-2b1f6d1c9e01', causationId: 'a8d4c3b2-1f0e-4d9c-8b7a-6e5d4c3b2a10', actor: 'bench' };
  return { id: randomUUID(), type: TYPES[i % TYPES.length] ?? 'ApplicationSubmitted', data, metadata };
}

export function benchEvents(count: number, offset = 0): EventData[] {
  const events = new Array<EventData>(count);
  for (let i = 0; i < count; i++) events[i] = benchEvent(offset + i);
  return events;
}

/** The embedded store's connection settings (src/eventstore/embedded/sqlite-event-store.ts), so the baseline pays the same fsyncs. */
export function applyStorePragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('journal_size_limit = 67108864');
  db.pragma('cache_size = -32768');
  db.pragma('temp_store = MEMORY');
}

export class WrongExpectedRevision extends Error {}

/** One append of the raw baseline: a stream, the revision it must be at (undefined: any), the events. */
export interface RawAppend {
  readonly stream: string;
  readonly expected: number | undefined;
  readonly events: readonly EventData[];
}

/** [seq, stream, revision, id, type, data, metadata, created]: rows are read in raw (array) mode, the cheapest. */
export type RawRow = readonly [number, string, number, string, string, string, string, number];
const COLUMNS = 'seq, stream, revision, id, type, data, metadata, created';

/**
 * The baseline: the plainest correct event table on raw better-sqlite3 statements. Same pragmas
 * as the store; global seq, (stream, revision) and (stream, id) unique; every append reads the
 * stream's last revision first (the optimistic check any store must make) and fails on a mismatch.
 * Integers come back as numbers (no safe-integer bigints): the best raw can do.
 */
export class RawEventTable {
  readonly db: Database.Database;
  private readonly lastRevisionStmt: Database.Statement<[string], number | null>;
  private readonly insertStmt: Database.Statement<[string, number, string, string, string, string, number]>;
  private readonly pageStmt: Database.Statement<[number, number], RawRow>;
  private readonly headStmt: Database.Statement<[], number | null>;
  private readonly checkpointStmt: Database.Statement<[number, string]>;
  private readonly checkpointRowStmt: Database.Statement<[string]>;
  /** One append, one IMMEDIATE transaction (one WAL fsync). */
  readonly appendOne: (append: RawAppend) => number;
  /** Several appends in one IMMEDIATE transaction (what group commit does). */
  readonly appendMany: (appends: readonly RawAppend[]) => void;

  constructor(path: string) {
    this.db = new Database(path);
    applyStorePragmas(this.db);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        seq      INTEGER PRIMARY KEY,
        stream   TEXT    NOT NULL,
        revision INTEGER NOT NULL,
        id       TEXT    NOT NULL,
        type     TEXT    NOT NULL,
        data     TEXT    NOT NULL,
        metadata TEXT    NOT NULL,
        created  INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS events_by_stream_revision ON events (stream, revision);
      CREATE UNIQUE INDEX IF NOT EXISTS events_by_stream_id ON events (stream, id);
      CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
    `);
    this.lastRevisionStmt = this.db.prepare<[string], number | null>('SELECT max(revision) FROM events WHERE stream = ?').pluck(true);
    this.insertStmt = this.db.prepare('INSERT INTO events (stream, revision, id, type, data, metadata, created) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.pageStmt = this.db.prepare<[number, number], RawRow>(`SELECT ${COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`).raw(true);
    this.headStmt = this.db.prepare<[], number | null>('SELECT max(seq) FROM events').pluck(true);
    this.checkpointStmt = this.db.prepare('UPDATE checkpoints SET seq = ? WHERE name = ?');
    this.checkpointRowStmt = this.db.prepare('INSERT OR IGNORE INTO checkpoints (name, seq) VALUES (?, 0)');
    const one = this.db.transaction((append: RawAppend) => this.write(append));
    const many = this.db.transaction((appends: readonly RawAppend[]) => {
      for (const append of appends) this.write(append);
    });
    this.appendOne = (append) => one.immediate(append);
    this.appendMany = (appends) => many.immediate(appends);
  }

  /** Returns the stream's new last revision. */
  private write(append: RawAppend): number {
    const last = this.lastRevisionStmt.get(append.stream) ?? -1;
    if (append.expected !== undefined && last !== append.expected) throw new WrongExpectedRevision(`${append.stream}: expected ${append.expected}, at ${last}`);
    const created = Date.now();
    let revision = last;
    for (const event of append.events) {
      revision += 1;
      this.insertStmt.run(append.stream, revision, event.id, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata ?? {}), created);
    }
    return revision;
  }

  head(): number {
    return this.headStmt.get() ?? 0;
  }

  /** All rows in position order, streamed (.iterate()). */
  iterateAll(): IterableIterator<RawRow> {
    return this.db.prepare<[], RawRow>(`SELECT ${COLUMNS} FROM events ORDER BY seq`).raw(true).iterate();
  }

  /** Rows with seq > after, in order, at most `limit`. */
  page(after: number, limit: number): RawRow[] {
    return this.pageStmt.all(after, limit);
  }

  /** Creates the checkpoint row of `name` (once, before a consumer starts). */
  createCheckpoint(name: string): void {
    this.checkpointRowStmt.run(name);
  }

  /** A durable checkpoint UPDATE (autocommit: its own transaction, one fsync). */
  checkpoint(name: string, seq: number): void {
    this.checkpointStmt.run(seq, name);
  }

  close(): void {
    this.db.close();
  }
}
