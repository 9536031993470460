import type Database from 'better-sqlite3';
import type { ReadModelDatabase } from '../readmodel/database.js';
import { walSyncOf } from '../readmodel/wal-sync.js';

/** The marker of the import in audit.db's audit_imports. */
const SOURCE = 'read-models.db';

/**
 * Moves the audit log of earlier versions, a table `audit_log` in the read-model database, into
 * audit.db, oldest first (its entries get new seqs, below every entry written since).
 *
 * The two files commit separately, so the copy and the drop cannot be one transaction: the copy
 * records its marker in its own transaction, and a start that finds the marker with the old
 * table still there (a crash between the two) only drops the table.
 */
export function importFromReadModels(readDb: ReadModelDatabase, auditDb: Database.Database): void {
  if (!tableExists(readDb, 'audit_log')) return;
  const imported = auditDb.prepare('SELECT 1 FROM audit_imports WHERE source = ?').get(SOURCE) !== undefined;
  if (!imported) {
    const insert = auditDb.prepare('INSERT INTO audit_log (at, key_id, role, tenant_id, action, target, correlation_id, status, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const rows = readDb.prepare('SELECT at, key_id, role, tenant_id, action, target, correlation_id, status, outcome FROM audit_log ORDER BY seq').raw();
    auditDb.transaction(() => {
      let entries = 0;
      for (const row of rows.iterate() as IterableIterator<unknown[]>) {
        insert.run(row);
        entries += 1;
      }
      auditDb.prepare('INSERT INTO audit_imports (source, entries, imported_at) VALUES (?, ?, ?)').run(SOURCE, entries, new Date().toISOString());
    })();
  }
  // Outside the read models' turn batch: the drop must not wait for (nor fail with) handler effects.
  walSyncOf(readDb).outsideBatch(() =>
    readDb.transaction(() => {
      readDb.exec('DROP TABLE audit_log');
      // Without its migration record, a version that still keeps the log there (a rollback) creates the table again instead of failing on it.
      if (tableExists(readDb, 'schema_migrations')) readDb.prepare("DELETE FROM schema_migrations WHERE module = 'audit'").run();
    })(),
  );
}

function tableExists(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}
