/**
 * The key store: one data key per data subject (a borrower = a normalised e-mail), in its own
 * SQLite database (`keys.db` in the data dir; ':memory:' in tests), apart from the events.
 *
 *   data_keys(key_id, subject_index UNIQUE, wrapped_key, created_at)
 *   meta(name, value)              — 'master_check': recognises the master key
 *
 * - subject_index is a blind index: HMAC-SHA256 of the subject under a key derived from the
 *   master key, so the store never holds an e-mail, yet the same borrower always finds its key.
 * - wrapped_key is the data key wrapped with AES-256-GCM under a key derived from the master key.
 * - Forgetting deletes the row with secure_delete on (the freed page is zeroed) and truncates the
 *   WAL, so the key is gone from the files; ciphertexts under it can never be opened again.
 *
 * Unwrapped keys are cached (bounded LRU). Another process (the CLI) may forget a key while the
 * server runs: lookups check PRAGMA data_version and drop the caches when another connection
 * committed, so a forget elsewhere takes effect from the next event-loop turn on, for reads
 * (`dataKey`) and encryption (`keyFor`) alike: at most one check per turn, see #refreshOncePerTurn.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../config.js';
import { ForeignCommitWatch } from '../shared/foreign-commits.js';
import { blindIndex, deriveKeys, newDataKey, newKeyId, sameBytes, unwrapDataKey, wrapDataKey, type DerivedKeys } from './crypto.js';
import { LruCache } from '../shared/lru.js';

export const DEFAULT_KEY_CACHE_SIZE = 10_000;

/** The master key given does not open this key store: it was created with another one. */
export class MasterKeyMismatchError extends ConfigError {
  constructor(readonly path: string) {
    super([
      `the master key (MMP_MASTER_KEY, or the development master.key) does not match the key store ${path}: it was created with another master key. Start with the original master key; with another one no personal data can be read.`,
    ]);
    this.name = 'MasterKeyMismatchError';
  }
}

export interface KeyStoreOptions {
  /** A file (parent folders are created) or ':memory:'. */
  readonly path: string;
  /** The 32-byte master key. */
  readonly masterKey: Buffer;
  /** Unwrapped data keys kept in memory. Default 10,000. */
  readonly cacheSize?: number;
}

export interface DataKey {
  readonly keyId: string;
  readonly key: Buffer;
}

interface KeyRow {
  key_id: string;
  wrapped_key: Buffer;
}

export class KeyStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #keys: DerivedKeys;
  /** keyId → unwrapped data key. */
  readonly #dataKeys: LruCache<string, Buffer>;
  /** blind index (hex) → keyId. */
  readonly #subjects: LruCache<string, string>;
  /** subject → its data key: the hot path of encryption (no HMAC, no lookup) for a borrower seen recently. */
  readonly #bySubject: LruCache<string, DataKey>;
  readonly #foreignCommits: ForeignCommitWatch;
  readonly #byIndex: Database.Statement<[Buffer], KeyRow>;
  readonly #byId: Database.Statement<[string], KeyRow>;
  readonly #insert: Database.Statement<[string, Buffer, Buffer, string]>;
  readonly #delete: Database.Statement<[Buffer]>;
  #closed = false;

  private constructor(db: Database.Database, path: string, keys: DerivedKeys, cacheSize: number) {
    this.#db = db;
    this.path = path;
    this.#keys = keys;
    this.#dataKeys = new LruCache(cacheSize);
    this.#subjects = new LruCache(cacheSize);
    this.#bySubject = new LruCache(cacheSize);
    this.#foreignCommits = new ForeignCommitWatch(db);
    this.#byIndex = db.prepare<[Buffer], KeyRow>('SELECT key_id, wrapped_key FROM data_keys WHERE subject_index = ?');
    this.#byId = db.prepare<[string], KeyRow>('SELECT key_id, wrapped_key FROM data_keys WHERE key_id = ?');
    this.#insert = db.prepare<[string, Buffer, Buffer, string]>('INSERT OR IGNORE INTO data_keys (key_id, subject_index, wrapped_key, created_at) VALUES (?, ?, ?, ?)');
    this.#delete = db.prepare<[Buffer]>('DELETE FROM data_keys WHERE subject_index = ?');
  }

  /** Opens (or creates) the store; throws MasterKeyMismatchError when it belongs to another master key. */
  static open(options: KeyStoreOptions): KeyStore {
    const keys = deriveKeys(options.masterKey);
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    try {
      db.pragma('secure_delete = ON');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS data_keys (
          key_id TEXT PRIMARY KEY,
          subject_index BLOB NOT NULL UNIQUE,
          wrapped_key BLOB NOT NULL,
          created_at TEXT NOT NULL
        );`);
      db.prepare("INSERT OR IGNORE INTO meta (name, value) VALUES ('master_check', ?)").run(keys.check);
      const stored = db.prepare<[], Buffer>("SELECT value FROM meta WHERE name = 'master_check'").pluck().get();
      if (stored === undefined || !sameBytes(stored, keys.check)) throw new MasterKeyMismatchError(options.path);
    } catch (error) {
      db.close();
      throw error;
    }
    return new KeyStore(db, options.path, keys, options.cacheSize ?? DEFAULT_KEY_CACHE_SIZE);
  }

  /** The blind index of a subject (e.g. `email:jane@example.com`). */
  indexOf(subject: string): Buffer {
    return blindIndex(this.#keys.blindIndex, subject);
  }

  /** The data key of `subject`, created on first use. */
  keyFor(subject: string): DataKey {
    this.#refreshOncePerTurn();
    const known = this.#bySubject.get(subject);
    if (known !== undefined) return known;
    const index = this.indexOf(subject);
    const indexHex = index.toString('hex');
    const cachedId = this.#subjects.get(indexHex);
    if (cachedId !== undefined) {
      const key = this.#dataKeys.get(cachedId);
      if (key !== undefined) return this.#remember(subject, { keyId: cachedId, key });
    }
    let row = this.#byIndex.get(index);
    if (row === undefined) {
      const keyId = newKeyId();
      const key = newDataKey();
      this.#insert.run(keyId, index, wrapDataKey(this.#keys.wrap, keyId, key), new Date().toISOString());
      row = this.#byIndex.get(index); // another process may have won the race: use its key
      if (row === undefined) throw new Error('the key store lost a data key it just wrote');
    }
    const key = this.#unwrap(row);
    this.#subjects.set(indexHex, row.key_id);
    return this.#remember(subject, { keyId: row.key_id, key });
  }

  /** The data key `keyId`, or undefined when it does not exist (destroyed, or never here). */
  dataKey(keyId: string): Buffer | undefined {
    this.#refreshOncePerTurn();
    const cached = this.#dataKeys.get(keyId);
    if (cached !== undefined) return cached;
    const row = this.#byId.get(keyId);
    return row === undefined ? undefined : this.#unwrap(row);
  }

  /** Destroys the data key of `subject`; returns how many keys were destroyed (0 or 1). */
  forget(subject: string, options: { readonly vacuum?: boolean } = {}): number {
    const index = this.indexOf(subject);
    const row = this.#byIndex.get(index);
    const destroyed = this.#delete.run(index).changes;
    this.#subjects.delete(index.toString('hex'));
    this.#bySubject.get(subject)?.key.fill(0);
    this.#bySubject.delete(subject);
    if (row !== undefined) {
      this.#dataKeys.get(row.key_id)?.fill(0);
      this.#dataKeys.delete(row.key_id);
    }
    if (options.vacuum === true) this.#db.exec('VACUUM');
    // The deleted page was zeroed (secure_delete); move it into the main file and empty the WAL.
    if (this.path !== ':memory:') this.#db.pragma('wal_checkpoint(TRUNCATE)');
    return destroyed;
  }

  /** How many data keys the store holds. */
  count(): number {
    return this.#db.prepare<[], number>('SELECT count(*) FROM data_keys').pluck().get() ?? 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dataKeys.clear();
    this.#subjects.clear();
    this.#bySubject.clear();
    this.#db.close();
  }

  #remember(subject: string, dataKey: DataKey): DataKey {
    this.#bySubject.set(subject, dataKey);
    return dataKey;
  }

  #unwrap(row: KeyRow): Buffer {
    const key = unwrapDataKey(this.#keys.wrap, row.key_id, row.wrapped_key);
    this.#dataKeys.set(row.key_id, key);
    return key;
  }

  /**
   * Drops the caches when another connection committed (a forget by the CLI, say), checking
   * PRAGMA data_version at most once per event-loop turn. Every event read or sealed asks for its
   * key, and the check cost as much as opening the envelope (a tenth of a rebuild's time). One
   * check per turn still sees a forget committed elsewhere before the next turn reads or seals;
   * an event read or sealed in the same turn as the forget could have been just before it as
   * well (the two race either way). Per turn rather than per microtask: each request runs in its
   * own I/O callback, so a microtask would end the "turn" after every request.
   */
  #refreshOncePerTurn(): void {
    if (this.#foreignCommits.checkOncePerTurn()) this.#dropCaches();
  }

  #dropCaches(): void {
    this.#dataKeys.clear();
    this.#subjects.clear();
    this.#bySubject.clear();
  }
}
