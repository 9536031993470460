import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type ReadModelDatabase = Database.Database;

/** A numbered migration; applied once, in order, recorded in user_version. */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/**
 * The local SQLite database for everything that is not an event: tenants and API keys, read
 * models, and the ids of handled events. On EventStoreDB it stays local to each app node.
 */
export function openReadModelDatabase(path: string): ReadModelDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // Read models are rebuildable from the store, but a handled-event record must not outlive its effect: FULL keeps both or neither.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  // When the WAL starts over (see shared/wal-checkpoint-worker.ts), a file grown past this is trimmed back.
  db.pragma('journal_size_limit = 16777216');
  db.pragma('foreign_keys = ON');
  return db;
}

/** Applies the migrations of one module, tracked per module so modules migrate independently. */
export function migrate(db: ReadModelDatabase, module: string, migrations: readonly Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (module, version))');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations WHERE module = ?').all(module) as { version: number }[]).map((row) => row.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (module, version, applied_at) VALUES (?, ?, ?)');
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(module, migration.version, new Date().toISOString());
    })();
  }
}
