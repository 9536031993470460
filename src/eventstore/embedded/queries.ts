import type Database from 'better-sqlite3';
import type { Direction, RecordedEvent } from '../port.js';
import type { SqlFilter } from './filters.js';
import { EVENT_COLUMNS, type EventRow, toRecordedEvent, toRecordedEventWithStream } from './rows.js';

export interface StreamState {
  readonly id: bigint;
  /** -1n when the stream never had an event. */
  readonly lastRevision: bigint;
  readonly truncateBefore: bigint;
  readonly softDeleted: boolean;
  readonly tombstoned: boolean;
}

export interface AllPage {
  readonly events: RecordedEvent[];
  /** Every row up to (forwards) / down to (backwards) this seq has been considered. */
  readonly scannedTo: bigint;
}

type StreamRow = [bigint, bigint, bigint, bigint, bigint];
type Stmt = Database.Statement<unknown[], unknown>;

/**
 * Every SQL statement of the store, prepared once (dynamic filter shapes are cached by key). The
 * connection runs with defaultSafeIntegers: integers come back as bigint.
 */
export class EventQueries {
  private readonly streamByName: Stmt;
  private readonly insertStreamStmt: Stmt;
  private readonly updateStreamStmt: Stmt;
  private readonly insertEventStmt: Stmt;
  private readonly headStmt: Stmt;
  private readonly eventAtStmt: Stmt;
  private readonly eventByIdStmt: Stmt;
  private readonly streamForwards: Stmt;
  private readonly streamBackwards: Stmt;
  private readonly allAfterStmt: Stmt;
  private readonly dataVersionStmt: Stmt;
  private readonly dynamic = new Map<string, Stmt>();

  constructor(private readonly db: Database.Database) {
    this.streamByName = db.prepare('SELECT id, last_revision, truncate_before, soft_deleted, tombstoned FROM streams WHERE name = ?').raw(true);
    this.insertStreamStmt = db.prepare('INSERT INTO streams (name) VALUES (?)');
    this.updateStreamStmt = db.prepare('UPDATE streams SET last_revision = ?, truncate_before = ?, soft_deleted = ?, tombstoned = ? WHERE id = ?');
    this.insertEventStmt = db.prepare('INSERT INTO events (stream_id, revision, id, type, data, metadata, created) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.headStmt = db.prepare('SELECT max(seq) FROM events').pluck(true);
    this.eventAtStmt = db.prepare('SELECT id, seq FROM events WHERE stream_id = ? AND revision = ?').raw(true);
    this.eventByIdStmt = db.prepare('SELECT revision, seq FROM events WHERE stream_id = ? AND id = ?').raw(true);
    this.streamForwards = db
      .prepare(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.stream_id = ? AND e.revision >= ? ORDER BY e.revision LIMIT ?`)
      .raw(true);
    this.streamBackwards = db
      .prepare(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.stream_id = ? AND e.revision <= ? AND e.revision >= ? ORDER BY e.revision DESC LIMIT ?`)
      .raw(true);
    this.allAfterStmt = db
      .prepare(`SELECT ${EVENT_COLUMNS}, s.name FROM events e CROSS JOIN streams s ON s.id = e.stream_id WHERE e.seq > ? ORDER BY e.seq LIMIT ?`)
      .raw(true);
    this.dataVersionStmt = db.prepare('PRAGMA data_version').pluck(true);
  }

  stream(name: string): StreamState | undefined {
    const row = this.streamByName.get(name) as StreamRow | undefined;
    if (row === undefined) return undefined;
    return { id: row[0], lastRevision: row[1], truncateBefore: row[2], softDeleted: row[3] !== 0n, tombstoned: row[4] !== 0n };
  }

  createStream(name: string): StreamState {
    const id = BigInt(this.insertStreamStmt.run(name).lastInsertRowid);
    return { id, lastRevision: -1n, truncateBefore: 0n, softDeleted: false, tombstoned: false };
  }

  updateStream(state: StreamState): void {
    this.updateStreamStmt.run(state.lastRevision, state.truncateBefore, state.softDeleted ? 1 : 0, state.tombstoned ? 1 : 0, state.id);
  }

  /** Returns the new event's seq ($all position). */
  insertEvent(streamId: bigint, revision: bigint, id: string, type: string, data: string, metadata: string, created: number): bigint {
    return BigInt(this.insertEventStmt.run(streamId, revision, id, type, data, metadata, created).lastInsertRowid);
  }

  /** 0n for an empty store. */
  headSeq(): bigint {
    return (this.headStmt.get() as bigint | null) ?? 0n;
  }

  /** Changes whenever ANOTHER connection commits (cheap cross-process change detection). */
  dataVersion(): bigint {
    return this.dataVersionStmt.get() as bigint;
  }

  eventAt(streamId: bigint, revision: bigint): { id: string; seq: bigint } | undefined {
    const row = this.eventAtStmt.get(streamId, revision) as [string, bigint] | undefined;
    return row === undefined ? undefined : { id: row[0], seq: row[1] };
  }

  eventById(streamId: bigint, id: string): { revision: bigint; seq: bigint } | undefined {
    const row = this.eventByIdStmt.get(streamId, id) as [bigint, bigint] | undefined;
    return row === undefined ? undefined : { revision: row[0], seq: row[1] };
  }

  /** Forwards: revisions >= from. Backwards: revisions <= from and >= lowest. */
  readStream(streamId: bigint, streamName: string, direction: Direction, from: bigint, lowest: bigint, limit: number): RecordedEvent[] {
    const rows = (
      direction === 'forwards' ? this.streamForwards.all(streamId, from, limit) : this.streamBackwards.all(streamId, from, lowest, limit)
    ) as EventRow[];
    const events = new Array<RecordedEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) events[i] = toRecordedEvent(rows[i] as EventRow, streamName);
    return events;
  }

  /** Synchronous, unfiltered: events with seq > after, forwards. */
  readAllAfter(after: bigint, limit: number): RecordedEvent[] {
    const rows = this.allAfterStmt.all(after, limit) as EventRow[];
    const events = new Array<RecordedEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) events[i] = toRecordedEventWithStream(rows[i] as EventRow);
    return events;
  }

  /**
   * One page of $all. Forwards: seq in (from, bound]; backwards: seq in [bound, from). At most
   * `limit` matching events; `scannedTo` tells where the next page starts.
   */
  readAll(direction: Direction, from: bigint, bound: bigint, filter: SqlFilter, limit: number): AllPage {
    const forwards = direction === 'forwards';
    const key = `${direction}|${filter.key}`;
    let statement = this.dynamic.get(key);
    if (statement === undefined) {
      const range = forwards ? 'e.seq > ? AND e.seq <= ?' : 'e.seq < ? AND e.seq >= ?';
      statement = this.db
        .prepare(
          `SELECT ${EVENT_COLUMNS}, s.name FROM events e CROSS JOIN streams s ON s.id = e.stream_id` +
            ` WHERE ${range} AND ${filter.sql} ORDER BY e.seq ${forwards ? 'ASC' : 'DESC'} LIMIT ?`,
        )
        .raw(true);
      this.dynamic.set(key, statement);
    }
    const rows = statement.all(from, bound, ...filter.params, limit) as EventRow[];
    const events = new Array<RecordedEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) events[i] = toRecordedEventWithStream(rows[i] as EventRow);
    const last = rows[rows.length - 1];
    const scannedTo = rows.length === limit && last !== undefined ? last[0] : bound;
    return { events, scannedTo };
  }
}
