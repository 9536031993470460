/** Opening an event store with personal-data encryption: master key, key store, decorator. */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { EventStore } from '../eventstore/port.js';
import { EncryptingEventStore, type SealFormat } from './encrypting-event-store.js';
import { KeyStore } from './key-store.js';
import { keyStorePathOf, resolveMasterKey } from './master-key.js';
import { forgetBorrower, type ForgetResult } from './personal-data.js';

export interface PersonalDataSettings {
  readonly dataDir: string;
  /** MMP_MASTER_KEY (32 bytes, base64). Required in production. */
  readonly masterKey?: string | undefined;
  /** Default: NODE_ENV === 'production'. */
  readonly production?: boolean | undefined;
  /** Default `<dataDir>/keys.db` (':memory:' with an in-memory data dir). */
  readonly keyStorePath?: string | undefined;
  /** Unwrapped data keys cached in memory. Default 10,000. */
  readonly keyCacheSize?: number | undefined;
  /** The format new events are sealed in. Default v2 (see crypto.ts); v1 while older app nodes still read the store. */
  readonly personalDataFormat?: SealFormat | undefined;
}

function isProduction(settings: Pick<PersonalDataSettings, 'production'>): boolean {
  return settings.production ?? process.env.NODE_ENV === 'production';
}

/** The key store of these settings; throws ConfigError (no master key in production, or the wrong one). */
export function openKeyStore(settings: PersonalDataSettings, logger?: Logger): KeyStore {
  const path = settings.keyStorePath ?? keyStorePathOf(settings.dataDir);
  const masterKey = resolveMasterKey({ masterKey: settings.masterKey, production: isProduction(settings), keyStorePath: path, logger });
  if (masterKey === undefined) throw new Error('no master key');
  try {
    return KeyStore.open({ path, masterKey, ...(settings.keyCacheSize !== undefined ? { cacheSize: settings.keyCacheSize } : {}) });
  } finally {
    masterKey.fill(0);
  }
}

/**
 * Opens the key store first (a configuration problem fails before connecting), then the store
 * with `openInner`, and returns it wrapped in an EncryptingEventStore that owns the key store.
 */
export async function openEncryptedEventStore(settings: PersonalDataSettings, openInner: () => Promise<EventStore>, logger?: Logger): Promise<EncryptingEventStore> {
  const keys = openKeyStore(settings, logger);
  let inner: EventStore;
  try {
    inner = await openInner();
  } catch (error) {
    keys.close();
    throw error;
  }
  return new EncryptingEventStore(inner, { keys, ...(logger ? { logger } : {}), ...(settings.personalDataFormat ? { sealFormat: settings.personalDataFormat } : {}) });
}

export interface ForgetCommandOptions {
  /** Default process.env.MMP_MASTER_KEY. */
  readonly masterKey?: string;
  /** Default NODE_ENV === 'production'. */
  readonly production?: boolean;
  readonly keyStorePath?: string;
  /** Audit log. */
  readonly logger?: Logger;
  readonly vacuum?: boolean;
}

/**
 * The CLI's `forget-borrower <email>`: destroys the borrower's data key in the key store of
 * `dataDir` (safe while the server runs: it notices from its next event-loop turn). Creates
 * nothing when the data dir has no key store yet.
 */
export async function forgetBorrowerCommand(dataDir: string, email: string, options: ForgetCommandOptions = {}): Promise<ForgetResult> {
  if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) throw new Error(`Not an e-mail address: '${email}'`);
  const path = options.keyStorePath ?? keyStorePathOf(dataDir);
  if (path === ':memory:' || !existsSync(path)) {
    options.logger?.warn({ keyStore: path }, 'no key store: there is no personal data key to destroy');
    return { forgotten: false, keys: 0 };
  }
  const masterKey = resolveMasterKey({
    masterKey: options.masterKey ?? process.env.MMP_MASTER_KEY,
    production: isProduction(options),
    keyStorePath: path,
    logger: options.logger,
    create: false,
  });
  if (masterKey === undefined) throw new Error(`No master key for the key store ${path}: set MMP_MASTER_KEY`);
  let keys: KeyStore;
  try {
    keys = KeyStore.open({ path, masterKey });
  } finally {
    masterKey.fill(0);
  }
  try {
    return forgetBorrower(keys, email, {
      actor: { via: 'cli' },
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.vacuum !== undefined ? { vacuum: options.vacuum } : {}),
    });
  } finally {
    keys.close();
  }
}
