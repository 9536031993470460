import type Database from 'better-sqlite3';

/**
 * Numbered schema migrations. Each runs once, in order, inside the same IMMEDIATE transaction as
 * its record in `schema_migrations`; `PRAGMA user_version` mirrors the highest applied number so a
 * read-only opener can check compatibility without touching the table.
 *
 * Never edit a released migration: append a new one.
 */
interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'streams and events',
    sql: `
      -- One row per stream name: the expected-revision checks are a single indexed lookup.
      -- last_revision = -1: no event was ever written. soft_deleted = 1: $tb is "max" (reads give
      -- StreamNotFound) until the next append, which sets truncate_before = last_revision + 1.
      CREATE TABLE streams (
        id              INTEGER PRIMARY KEY,
        name            TEXT    NOT NULL UNIQUE,
        last_revision   INTEGER NOT NULL DEFAULT -1,
        truncate_before INTEGER NOT NULL DEFAULT 0,
        soft_deleted    INTEGER NOT NULL DEFAULT 0,
        tombstoned      INTEGER NOT NULL DEFAULT 0
      );

      -- seq is the $all position (commit = prepare = seq). Rows are never deleted, so the rowid
      -- alias only ever grows (a rolled-back savepoint may leave a gap, never a reuse of a committed value).
      CREATE TABLE events (
        seq       INTEGER PRIMARY KEY,
        stream_id INTEGER NOT NULL,
        revision  INTEGER NOT NULL,
        id        TEXT    NOT NULL,
        type      TEXT    NOT NULL,
        data      TEXT    NOT NULL,
        metadata  TEXT    NOT NULL,
        created   INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX events_by_stream_revision ON events (stream_id, revision);
      -- Event ids are unique per stream: the basis of idempotent appends.
      CREATE UNIQUE INDEX events_by_stream_id ON events (stream_id, id);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

function userVersion(db: Database.Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

/** Apply every migration newer than the database. Safe against a concurrent opener (IMMEDIATE lock). */
export function migrate(db: Database.Database): void {
  if (userVersion(db) >= SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const current = userVersion(db);
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
      db.pragma(`user_version = ${migration.version}`);
    }
  }).immediate();
}

/** For read-only connections: the schema must already be there, and not newer than this code. */
export function checkSchema(db: Database.Database): void {
  const version = userVersion(db);
  if (version < SCHEMA_VERSION) throw new Error(`Event store schema version ${version} is older than ${SCHEMA_VERSION}; open it read-write once to migrate`);
}
