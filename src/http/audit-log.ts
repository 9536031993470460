import type Database from 'better-sqlite3';
import { Type, type Static } from 'typebox';
import type { ReadModelDatabase } from '../readmodel/database.js';
import { auditDatabasePath, batchInserter, openAuditDatabase } from './audit-database.js';
import { importFromReadModels } from './audit-import.js';
import { ENTRY_FIELDS, packEntry } from './audit-protocol.js';
import { type AuditSink, AuditWriter } from './audit-writer.js';

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

type PageRow = { seq: number; at: string; key_id: string | null; role: string | null; tenant_id: string; action: string; target: string; correlation_id: string; status: number; outcome: AuditEntry['outcome'] };

/** The audit log must never turn a request into an error: what goes wrong with it is warned about. */
function warn(message: string): void {
  process.emitWarning(`Audit log: ${message}`);
}

/**
 * Who did what, when, under which correlation id, and how it ended: every command and admin action.
 *
 * Entries are recorded once the response is sent, and those of one event-loop turn are written
 * together a turn later, in audit.db (see audit-database.ts). With a file, a writer thread commits
 * them (AuditWriter: the fsync of each commit stays off the event loop); in memory, or when that
 * thread cannot run, the main connection commits them itself.
 */
export class AuditLog {
  readonly #db: Database.Database;
  readonly #page: Database.Statement<[string, number, number], PageRow>;
  /** Writes on the main connection: the in-memory log's, and the fallback of the writer thread. */
  readonly #inline: AuditSink;
  #sink: AuditSink;
  /** The entries of this turn, packed. */
  #pending: (string | number | null)[] = [];
  /** Settles once every batch written so far has (a failed one is warned about, never rejected). */
  #written: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #closed = false;
  readonly #flushTurn = (): void => this.#flush();

  private constructor(db: Database.Database) {
    this.#db = db;
    this.#page = db.prepare<[string, number, number], PageRow>('SELECT * FROM audit_log WHERE tenant_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?');
    const insert = batchInserter(db);
    this.#inline = { write: async (entries) => insert(entries), close: async () => {} };
    this.#sink = this.#inline;
  }

  /** Opens the audit log next to the read models, moving an earlier version's log out of them first. */
  static async open(readDb: ReadModelDatabase): Promise<AuditLog> {
    const path = auditDatabasePath(readDb);
    const log = new AuditLog(openAuditDatabase(path));
    try {
      importFromReadModels(readDb, log.#db);
    } catch (error) {
      warn(`the entries of the previous version could not be moved out of the read-model database (${(error as Error).message}); the next start tries again`);
    }
    if (log.#db.memory) return log;
    try {
      log.#sink = await AuditWriter.start(path, (error) => log.#writerStopped(error));
    } catch (error) {
      warn(`the writer thread cannot start (${(error as Error).message}); entries are committed on the main thread`);
    }
    return log;
  }

  /** Queues the entry; the entries of one event-loop turn are committed together (one fsync). */
  record(entry: AuditEntry): void {
    if (this.#closed) return;
    packEntry(this.#pending, entry);
    if (this.#pending.length === ENTRY_FIELDS) setImmediate(this.#flushTurn);
  }

  #flush(): void {
    if (this.#pending.length === 0 || this.#closed) return;
    const entries = this.#pending;
    this.#pending = [];
    const written = this.#sink.write(entries).catch((error: unknown) => {
      const count = entries.length / ENTRY_FIELDS;
      warn(`${count} ${count === 1 ? 'entry was' : 'entries were'} not written: ${(error as Error).message}`);
    });
    this.#written = this.#written.then(() => written);
  }

  #writerStopped(error: Error): void {
    if (this.#closed) return;
    warn(`${error.message}; entries are committed on the main thread from now on`);
    this.#sink = this.#inline;
  }

  /** Newest first; `before` is the seq cursor of the previous page. Sees every entry recorded before the call. */
  async list(tenantId: string, limit: number, before?: number): Promise<{ entries: AuditEntry[]; nextCursor?: number }> {
    this.#flush();
    await this.#written;
    const rows = this.#page.all(tenantId, before ?? Number.MAX_SAFE_INTEGER, limit);
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

  /** Commits what is queued, then closes (the app is closing); a failure is warned about, not thrown: shutdown goes on. */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    // Responses still finishing record entries meanwhile.
    do {
      this.#flush();
      await this.#written;
    } while (this.#pending.length > 0);
    this.#closed = true;
    // The reader first: the writer's connection is then the last one, and the checkpoint SQLite runs when it closes runs on its thread.
    this.#db.close();
    await this.#sink.close().catch((error: unknown) => warn((error as Error).message));
  }
}
