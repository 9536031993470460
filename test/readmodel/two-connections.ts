import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openReadModelDatabase, type ReadModelDatabase } from '../../src/readmodel/database.js';

/** A read-model database in a temporary folder, as the engine opens it, and a second connection to the same file (another process, say). */
export interface TwoConnections {
  readonly db: ReadModelDatabase;
  readonly other: Database.Database;
  close(): void;
}

export function openTwoConnections(prefix: string, prepare?: (db: ReadModelDatabase) => void): TwoConnections {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const db = openReadModelDatabase(join(dir, 'read.db'));
  prepare?.(db);
  const other = new Database(join(dir, 'read.db'));
  return {
    db,
    other,
    close() {
      other.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
