import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { migrate, type ReadModelDatabase } from '../readmodel/database.js';
import { walSyncOf } from '../readmodel/wal-sync.js';
import { newId } from '../contracts/ids.js';

export type Role = 'user' | 'admin';

export interface Principal {
  readonly keyId: string;
  readonly tenantId: string;
  readonly role: Role;
}

export interface IssuedKey extends Principal {
  /** The secret, shown once: only its hash is stored. */
  readonly apiKey: string;
}

export interface Tenant {
  readonly tenantId: string;
  readonly name: string;
  readonly createdAt: string;
}

const KEY_PREFIX = 'mmp_';
const AUTH_CACHE_MS = 30_000;
const AUTH_CACHE_ENTRIES = 10_000;

// API keys are 256-bit random secrets, so a fast hash is enough (no password stretching needed);
// the key id in the clear lets us find the row without comparing every hash.
function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export class TenantDirectory {
  private readonly findKey;
  private readonly insertKey;
  private readonly insertTenant;
  private readonly countTenants;
  private readonly findTenant;

  constructor(private readonly db: ReadModelDatabase) {
    migrate(db, 'tenancy', [
      {
        version: 1,
        sql: `CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
              CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id), role TEXT NOT NULL CHECK (role IN ('user','admin')),
                                     secret_hash BLOB NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);`,
      },
    ]);
    this.findKey = db.prepare<[string], { key_id: string; tenant_id: string; role: Role; secret_hash: Buffer; revoked_at: string | null }>(
      'SELECT key_id, tenant_id, role, secret_hash, revoked_at FROM api_keys WHERE key_id = ?',
    );
    this.insertKey = db.prepare('INSERT INTO api_keys (key_id, tenant_id, role, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)');
    this.insertTenant = db.prepare('INSERT INTO tenants (tenant_id, name, created_at) VALUES (?, ?, ?)');
    this.countTenants = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM tenants');
    this.findTenant = db.prepare<[string], { tenant_id: string; name: string; created_at: string }>('SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id = ?');
  }

  hasTenants(): boolean {
    return (this.countTenants.get()?.n ?? 0) > 0;
  }

  createTenant(name: string, tenantId: string = newId()): Tenant {
    const createdAt = new Date().toISOString();
    // Answered at once (the key is printed or returned): committed and durable before that, outside any turn batch.
    walSyncOf(this.db).outsideBatch(() => this.insertTenant.run(tenantId, name, createdAt));
    return { tenantId, name, createdAt };
  }

  tenant(tenantId: string): Tenant | undefined {
    const row = this.findTenant.get(tenantId);
    return row && { tenantId: row.tenant_id, name: row.name, createdAt: row.created_at };
  }

  issueKey(tenantId: string, role: Role): IssuedKey {
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    walSyncOf(this.db).outsideBatch(() => this.insertKey.run(keyId, tenantId, role, hashSecret(secret), new Date().toISOString()));
    return { keyId, tenantId, role, apiKey: `${KEY_PREFIX}${keyId}_${secret}` };
  }

  /**
   * Keys seen recently, with when to check them again: the hot path of every request skips the
   * hash and the lookup. Bounded; a revocation takes effect within AUTH_CACHE_MS.
   */
  private readonly recent = new Map<string, { principal: Principal; until: number }>();

  /** The principal behind a presented key, or undefined for a malformed, unknown or revoked one. */
  authenticate(presented: string): Principal | undefined {
    const hit = this.recent.get(presented);
    const now = Date.now();
    if (hit && hit.until > now) return hit.principal;
    const principal = this.lookup(presented);
    if (principal) {
      if (this.recent.size >= AUTH_CACHE_ENTRIES) this.recent.delete(this.recent.keys().next().value as string);
      this.recent.set(presented, { principal, until: now + AUTH_CACHE_MS });
    } else {
      this.recent.delete(presented);
    }
    return principal;
  }

  private lookup(presented: string): Principal | undefined {
    const match = /^mmp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(presented);
    if (!match) return undefined;
    const [, keyId, secret] = match as unknown as [string, string, string];
    const row = this.findKey.get(keyId);
    if (!row || row.revoked_at !== null) return undefined;
    const candidate = hashSecret(secret);
    if (!timingSafeEqual(candidate, row.secret_hash)) return undefined;
    return { keyId: row.key_id, tenantId: row.tenant_id, role: row.role };
  }
}
