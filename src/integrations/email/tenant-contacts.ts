/**
 * Where a tenant's notifications go: one contact e-mail per tenant (its loan officers' shared
 * address), in this module's own table `tenant_contacts`. Tenants without one get the fallback
 * `{tenantId}@tenants.mortgagematchpro.local`. The scoring request's applicant e-mail is the
 * BORROWER's and is never used for notifications.
 */
import type { Statement } from 'better-sqlite3';
import { migrate, type ReadModelDatabase } from '../../readmodel/database.js';
import { walSyncOf } from '../../readmodel/wal-sync.js';
import { EmailPermanentError } from './errors.js';

export const TENANT_CONTACTS_MODULE = 'integrations.tenant_contacts';
export const FALLBACK_CONTACT_DOMAIN = 'tenants.mortgagematchpro.local';

const EMAIL_RE = /^[^\s@<>]{1,64}@[^\s@<>]{1,189}$/;

export function fallbackContactEmail(tenantId: string): string {
  return `${tenantId}@${FALLBACK_CONTACT_DOMAIN}`;
}

export class TenantContacts {
  readonly #upsert: Statement<[string, string, string]>;
  readonly #find: Statement<[string], { email: string }>;

  readonly #db: ReadModelDatabase;

  constructor(db: ReadModelDatabase) {
    this.#db = db;
    migrate(db, TENANT_CONTACTS_MODULE, [
      { version: 1, sql: 'CREATE TABLE IF NOT EXISTS tenant_contacts (tenant_id TEXT PRIMARY KEY, email TEXT NOT NULL, updated_at TEXT NOT NULL)' },
    ]);
    this.#upsert = db.prepare<[string, string, string]>(
      'INSERT INTO tenant_contacts (tenant_id, email, updated_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at',
    );
    this.#find = db.prepare<[string], { email: string }>('SELECT email FROM tenant_contacts WHERE tenant_id = ?');
  }

  setContactEmail(tenantId: string, email: string): void {
    if (!EMAIL_RE.test(email)) throw new EmailPermanentError('EMAIL_RECIPIENT_REJECTED', `Invalid contact e-mail '${email}'`);
    walSyncOf(this.#db).outsideBatch(() => this.#upsert.run(tenantId, email, new Date().toISOString()));
  }

  /** The configured address, or the fallback. */
  contactEmail(tenantId: string): string {
    return this.#find.get(tenantId)?.email ?? fallbackContactEmail(tenantId);
  }
}
