/**
 * Exactly-once effects for SQLite read models fed by at-least-once subscriptions: the effect on
 * the read model and the record of the handled event id commit in ONE transaction, so a
 * redelivered event (after a crash, a message timeout or a replay) is recognised and skipped.
 */
import type { Statement, Transaction } from 'better-sqlite3';
import { migrate, type Migration, type ReadModelDatabase } from '../readmodel/database.js';
import { walSyncOf } from '../readmodel/wal-sync.js';

export const HANDLED_EVENTS_MODULE = 'engine.handled_events';

export const HANDLED_EVENTS_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    sql: `CREATE TABLE IF NOT EXISTS handled_events (
      group_name TEXT NOT NULL,
      event_id TEXT NOT NULL,
      handled_at TEXT NOT NULL,
      PRIMARY KEY (group_name, event_id)
    ) WITHOUT ROWID`,
  },
]);

interface Statements {
  readonly insert: Statement<[string, string, string]>;
  readonly exists: Statement<[string, string]>;
  readonly forget: Statement<[string]>;
  /** The applyOnce transaction, built once per database (better-sqlite3 wraps it in fresh closures on every db.transaction call). */
  readonly applyOnce: Transaction<(group: string, eventId: string, effect: () => void) => boolean>;
}

const prepared = new WeakMap<ReadModelDatabase, Statements>();

/** Creates the handled_events table if missing (numbered migration); idempotent and cached. */
export function ensureHandledEvents(db: ReadModelDatabase): Statements {
  let statements = prepared.get(db);
  if (!statements) {
    migrate(db, HANDLED_EVENTS_MODULE, HANDLED_EVENTS_MIGRATIONS);
    const insert = db.prepare<[string, string, string]>('INSERT OR IGNORE INTO handled_events (group_name, event_id, handled_at) VALUES (?, ?, ?)');
    statements = {
      insert,
      exists: db.prepare<[string, string]>('SELECT 1 FROM handled_events WHERE group_name = ? AND event_id = ?'),
      forget: db.prepare<[string]>('DELETE FROM handled_events WHERE group_name = ?'),
      applyOnce: db.transaction((group: string, eventId: string, effect: () => void): boolean => {
        if (insert.run(group, eventId, new Date().toISOString()).changes === 0) return false;
        const result: unknown = effect();
        if (isThenable(result)) throw new TypeError('applyOnce: the effect must be synchronous (it returned a promise); better-sqlite3 transactions cannot span awaits');
        return true;
      }),
    };
    prepared.set(db, statements);
  }
  return statements;
}

function isThenable(value: unknown): boolean {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs `effect` and records (group, eventId) as handled, in one transaction; returns false (and
 * runs nothing) when the event was already handled by this group. `effect` must be synchronous
 * (better-sqlite3 transactions are): an async effect is rejected and rolled back. If `effect`
 * throws, nothing is recorded and the error propagates. Nested in an outer transaction it
 * becomes a savepoint.
 *
 * The commit does not fsync on the event loop (WalSync): it is durable once
 * `walSyncOf(db).durable()` resolves, which the subscription runner awaits before it acks.
 */
export function applyOnce(db: ReadModelDatabase, group: string, eventId: string, effect: () => void): boolean {
  const transaction = ensureHandledEvents(db).applyOnce;
  return walSyncOf(db).commit(() => transaction.immediate(group, eventId, effect));
}

export function wasHandled(db: ReadModelDatabase, group: string, eventId: string): boolean {
  return ensureHandledEvents(db).exists.get(group, eventId) !== undefined;
}

/** Forgets every handled event of `group` (before rebuilding its read model from the start). */
export function forgetHandled(db: ReadModelDatabase, group: string): number {
  return ensureHandledEvents(db).forget.run(group).changes;
}
