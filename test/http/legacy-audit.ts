import type { Migration } from '../../src/readmodel/database.js';

/** The audit table as earlier versions created it in read-models.db (migration module 'audit', version 1). */
export const LEGACY_AUDIT_MIGRATION: Migration = {
  version: 1,
  sql: `CREATE TABLE audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, key_id TEXT, role TEXT, tenant_id TEXT NOT NULL,
          action TEXT NOT NULL, target TEXT NOT NULL, correlation_id TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL);
        CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);`,
};
