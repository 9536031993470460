import Database from 'better-sqlite3';
import { dirname, join } from 'node:path';
import { migrate, type ReadModelDatabase } from '../readmodel/database.js';
import { ENTRY_FIELDS, type PackedEntries } from './audit-protocol.js';

/**
 * Where the audit log lives: `audit.db` next to the read models, in memory when they are. Its own
 * file, so that its commits (an fsync each) can run on a thread of their own without waiting for
 * the read models' write lock, nor holding it.
 */
export function auditDatabasePath(readDb: ReadModelDatabase): string {
  return readDb.memory ? ':memory:' : join(dirname(readDb.name), 'audit.db');
}

/** Opens (and creates, or migrates) the audit database; the connection that reads the log. */
export function openAuditDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // An acknowledged command's audit row survives a power loss (commits run on the writer thread, so this costs the API nothing).
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  migrate(db, 'audit', [
    {
      version: 1,
      sql: `CREATE TABLE audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, key_id TEXT, role TEXT, tenant_id TEXT NOT NULL,
              action TEXT NOT NULL, target TEXT NOT NULL, correlation_id TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL);
            CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);
            -- Imports of earlier logs, written in the transaction that copies them (see audit-import.ts).
            CREATE TABLE audit_imports (source TEXT PRIMARY KEY, entries INTEGER NOT NULL, imported_at TEXT NOT NULL);`,
    },
  ]);
  return db;
}

/** Writes a batch of packed entries in one transaction (on the writer thread, or on the main one when there is none). */
export function batchInserter(db: Database.Database): (entries: PackedEntries) => void {
  const insert = db.prepare('INSERT INTO audit_log (at, key_id, role, tenant_id, action, target, correlation_id, status, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  return db.transaction((entries: PackedEntries) => {
    if (entries.length % ENTRY_FIELDS !== 0) throw new Error(`a batch of ${entries.length} values is not a whole number of entries`);
    for (let i = 0; i < entries.length; i += ENTRY_FIELDS) {
      insert.run(entries[i], entries[i + 1], entries[i + 2], entries[i + 3], entries[i + 4], entries[i + 5], entries[i + 6], entries[i + 7], entries[i + 8]);
    }
  });
}
