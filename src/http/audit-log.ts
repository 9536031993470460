import { Type, type Static } from 'typebox';
import { migrate, type ReadModelDatabase } from '../readmodel/database.js';
import { walSyncOf, type WalSync } from '../readmodel/wal-sync.js';

export const AuditEntrySchema = Type.Object({
  at: Type.String({ format: 'date-time' }),
  keyId: Type.Union([Type.String(), Type.Null()], { description: 'API key id, null when the caller was not authenticated' }),
  role: Type.Union([Type.String(), Type.Null()]),
  tenantId: Type.String(),
  action: Type.String({ description: 'METHOD /route/pattern', examples: ['POST /scorings'] }),
  target: Type.String({ description: 'The URL called' }),
  correlationId: Type.String(),
  status: Type.Integer(),
  outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('refused'), Type.Literal('failed')]),
});
export type AuditEntry = Static<typeof AuditEntrySchema>;

/**
 * Who did what, when, under which correlation id, and how it ended: every command and admin action.
 *
 * Entries are recorded once the response is sent, and written a turn later in one transaction per
 * turn, committed without an fsync on the event loop and made durable right after by the
 * database's WalSync (an fdatasync of the WAL in libuv's pool): the same bytes reach the disk,
 * only without blocking the requests behind them.
 */
export class AuditLog {
  private readonly insert;
  private readonly page;
  private readonly wal: WalSync;

  constructor(private readonly db: ReadModelDatabase) {
    migrate(db, 'audit', [
      {
        version: 1,
        sql: `CREATE TABLE audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, key_id TEXT, role TEXT, tenant_id TEXT NOT NULL,
                action TEXT NOT NULL, target TEXT NOT NULL, correlation_id TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL);
              CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);`,
      },
    ]);
    this.insert = db.prepare('INSERT INTO audit_log (at, key_id, role, tenant_id, action, target, correlation_id, status, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertAll = db.transaction((entries: readonly AuditEntry[]) => {
      for (const e of entries) this.insert.run(e.at, e.keyId, e.role, e.tenantId, e.action, e.target, e.correlationId, e.status, e.outcome);
    });
    this.wal = walSyncOf(db);
    this.page = db.prepare<[string, number, number], { seq: number; at: string; key_id: string | null; role: string | null; tenant_id: string; action: string; target: string; correlation_id: string; status: number; outcome: AuditEntry['outcome'] }>(
      'SELECT * FROM audit_log WHERE tenant_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    );
  }

  private pending: AuditEntry[] = [];
  private readonly insertAll;

  /**
   * Queues the entry; entries of the same event-loop turn are written in one transaction (one
   * fsync), so auditing does not cost each request a sync of its own.
   */
  record(entry: AuditEntry): void {
    this.pending.push(entry);
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.pending.length === 0 || !this.db.open) return;
    const entries = this.pending;
    this.pending = [];
    this.wal.commit(() => this.insertAll(entries));
    void this.#durable();
  }

  /** Writes what is queued and waits until it is on disk (the app is closing); a failure to sync is warned about, not thrown: shutdown goes on. */
  async close(): Promise<void> {
    this.flush();
    await this.#durable();
  }

  #durable(): Promise<void> {
    return this.wal.durable().catch((error: unknown) => process.emitWarning(`Audit log: ${(error as Error).message}`));
  }

  /** Newest first; `before` is the seq cursor of the previous page. */
  list(tenantId: string, limit: number, before?: number): { entries: AuditEntry[]; nextCursor?: number } {
    this.flush();
    const rows = this.page.all(tenantId, before ?? Number.MAX_SAFE_INTEGER, limit);
    const entries = rows.map((row) => ({
      at: row.at,
      keyId: row.key_id,
      role: row.role,
      tenantId: row.tenant_id,
      action: row.action,
      target: row.target,
      correlationId: row.correlation_id,
      status: row.status,
      outcome: row.outcome,
    }));
    const last = rows.at(-1);
    return rows.length === limit && last ? { entries, nextCursor: last.seq } : { entries };
  }
}
