/**
 * The default e-mail transport: messages are stored in the read-model database (table
 * `email_outbox`) instead of leaving the machine; the admin API lists them. A relay can drain the
 * table later — the row is the hand-over, like a transactional outbox.
 *
 * Idempotent by `idempotencyKey`: the key is the row id and the insert is INSERT OR IGNORE, so the
 * effect and the key are stored in one statement (one transaction): a message sent twice with
 * the same key is stored once and the first row's Message-ID is returned both times.
 */
import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { migrate, type Migration, type ReadModelDatabase } from '../../readmodel/database.js';
import { walSyncOf, type WalSync } from '../../readmodel/wal-sync.js';
import type { Clock } from '../../engine/request-context.js';
import { EmailPermanentError } from './errors.js';
import { messageIdFor, type EmailMessage, type EmailProvider, type EmailTransport, type SentEmail } from './transport.js';

export const EMAIL_OUTBOX_MODULE = 'integrations.email_outbox';

export const EMAIL_OUTBOX_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    sql: `CREATE TABLE IF NOT EXISTS email_outbox (
      id TEXT PRIMARY KEY,
      message_id TEXT NOT NULL,
      tenant_id TEXT,
      to_address TEXT NOT NULL,
      subject TEXT NOT NULL,
      text TEXT NOT NULL,
      tags TEXT NOT NULL,
      correlation_id TEXT,
      sent_at TEXT NOT NULL,
      seq INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS email_outbox_tenant ON email_outbox (tenant_id, seq);
    CREATE INDEX IF NOT EXISTS email_outbox_seq ON email_outbox (seq);`,
  },
]);

export interface OutboxEmail {
  readonly id: string;
  readonly messageId: string;
  readonly tenantId?: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly correlationId?: string;
  readonly sentAt: string;
}

export interface OutboxListOptions {
  readonly tenantId?: string;
  /** Newest first; default 100, at most 1,000. */
  readonly limit?: number;
}

interface OutboxRow {
  id: string;
  message_id: string;
  tenant_id: string | null;
  to_address: string;
  subject: string;
  text: string;
  tags: string;
  correlation_id: string | null;
  sent_at: string;
}

type InsertParams = [string, string, string | null, string, string, string, string, string | null, string];

const EMAIL_RE = /^[^\s@<>]+@[^\s@<>]+$/;

function parseTags(json: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  } catch {
    return {};
  }
}

function toOutboxEmail(row: OutboxRow): OutboxEmail {
  return {
    id: row.id,
    messageId: row.message_id,
    ...(row.tenant_id !== null ? { tenantId: row.tenant_id } : {}),
    to: row.to_address,
    subject: row.subject,
    text: row.text,
    tags: parseTags(row.tags),
    ...(row.correlation_id !== null ? { correlationId: row.correlation_id } : {}),
    sentAt: row.sent_at,
  };
}

export class OutboxEmailTransport implements EmailTransport {
  /** The contract knows smtp | ses | sendgrid; the outbox stands in for the SMTP relay. */
  readonly provider: EmailProvider = 'smtp';
  readonly #insert: Statement<InsertParams>;
  readonly #byId: Statement<[string], OutboxRow>;
  readonly #list: Statement<[number], OutboxRow>;
  readonly #listTenant: Statement<[string, number], OutboxRow>;
  readonly #count: Statement<[], { n: number }>;
  readonly #clock: Clock;
  readonly #wal: WalSync;

  constructor(db: ReadModelDatabase, options: { readonly clock?: Clock } = {}) {
    migrate(db, EMAIL_OUTBOX_MODULE, EMAIL_OUTBOX_MIGRATIONS);
    this.#clock = options.clock ?? (() => new Date());
    this.#wal = walSyncOf(db);
    this.#insert = db.prepare<InsertParams>(
      `INSERT OR IGNORE INTO email_outbox (id, message_id, tenant_id, to_address, subject, text, tags, correlation_id, sent_at, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM email_outbox))`,
    );
    const columns = 'id, message_id, tenant_id, to_address, subject, text, tags, correlation_id, sent_at';
    this.#byId = db.prepare<[string], OutboxRow>(`SELECT ${columns} FROM email_outbox WHERE id = ?`);
    this.#list = db.prepare<[number], OutboxRow>(`SELECT ${columns} FROM email_outbox ORDER BY seq DESC LIMIT ?`);
    this.#listTenant = db.prepare<[string, number], OutboxRow>(`SELECT ${columns} FROM email_outbox WHERE tenant_id = ? ORDER BY seq DESC LIMIT ?`);
    this.#count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM email_outbox');
  }

  /**
   * Stored when it resolves; on disk once the database's WalSync has synced, which the
   * subscription runner awaits before acking the message that caused the e-mail (the only caller:
   * the notifications handler). A power loss before that sync loses the row AND the ack, so the
   * redelivered message sends again under the same id and the row comes back: no fsync of its
   * own on the critical path of a notification.
   */
  send(message: EmailMessage): Promise<SentEmail> {
    try {
      return Promise.resolve(this.#wal.commit(() => this.#store(message)));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }


  #store(message: EmailMessage): SentEmail {
    if (!EMAIL_RE.test(message.to)) throw new EmailPermanentError('EMAIL_RECIPIENT_REJECTED', `Invalid recipient address '${message.to}'`);
    if (message.subject.trim() === '') throw new EmailPermanentError('EMAIL_INVALID_MESSAGE', 'Empty subject');
    const id = message.idempotencyKey ?? randomUUID();
    const messageId = messageIdFor(`${id}.outbox`);
    this.#insert.run(id, messageId, message.tenantId ?? null, message.to, message.subject, message.text, JSON.stringify(message.tags ?? {}), message.correlationId ?? null, this.#clock().toISOString());
    // Stored now or by an earlier send with the same key: either way the stored row is the answer.
    const row = this.#byId.get(id);
    return { messageId: row?.message_id ?? messageId };
  }

  /** Newest first, optionally for one tenant. */
  list(options: OutboxListOptions = {}): OutboxEmail[] {
    const limit = Math.max(1, Math.min(1_000, Math.floor(options.limit ?? 100)));
    const rows = options.tenantId === undefined ? this.#list.all(limit) : this.#listTenant.all(options.tenantId, limit);
    return rows.map(toOutboxEmail);
  }

  get(id: string): OutboxEmail | undefined {
    const row = this.#byId.get(id);
    return row && toOutboxEmail(row);
  }

  count(): number {
    return this.#count.get()?.n ?? 0;
  }
}
