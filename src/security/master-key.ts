/**
 * Where the master key comes from: MMP_MASTER_KEY (32 bytes, base64) — required in production.
 * In development, without it, a generated key is persisted next to the key store (`master.key`,
 * mode 0600) with a warning on every start: losing that file makes the personal data unreadable.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../config.js';
import { KEY_BYTES, newDataKey } from './crypto.js';

export const MASTER_KEY_ENV = 'MMP_MASTER_KEY';
export const DEV_MASTER_KEY_FILE = 'master.key';
export const KEY_STORE_FILE = 'keys.db';

const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** The 32 bytes of a base64 (or base64url) master key; throws ConfigError otherwise. */
export function parseMasterKey(text: string, source = MASTER_KEY_ENV): Buffer {
  const trimmed = text.trim();
  const bytes = BASE64_RE.test(trimmed) ? Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64') : Buffer.alloc(0);
  if (bytes.length !== KEY_BYTES) {
    throw new ConfigError([`${source} must be ${KEY_BYTES} random bytes in base64 (e.g. \`openssl rand -base64 32\`), got ${bytes.length > 0 ? `${bytes.length} bytes` : 'something else'}`]);
  }
  return bytes;
}

export function masterKeyRequiredError(): ConfigError {
  return new ConfigError([`${MASTER_KEY_ENV} is required when NODE_ENV=production: 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`); it wraps the keys of the borrowers' personal data`]);
}

/** The key store file of a data dir (':memory:' stays in memory). */
export function keyStorePathOf(dataDir: string): string {
  return dataDir === ':memory:' ? ':memory:' : join(dataDir, KEY_STORE_FILE);
}

/** The development master key file next to a key store. */
export function devMasterKeyPath(keyStorePath: string): string {
  return join(dirname(keyStorePath), DEV_MASTER_KEY_FILE);
}

export interface MasterKeySettings {
  /** MMP_MASTER_KEY (base64). */
  readonly masterKey?: string | undefined;
  readonly production?: boolean | undefined;
  /** The key store file, or ':memory:' (then a missing master key is generated in memory). */
  readonly keyStorePath: string;
  readonly logger?: Logger | undefined;
  /** False: never generate a development key (a missing one yields undefined). Default true. */
  readonly create?: boolean;
}

/** The master key, per the rules in the header. Undefined only with `create: false` and no key anywhere. */
export function resolveMasterKey(settings: MasterKeySettings): Buffer | undefined {
  if (settings.masterKey !== undefined && settings.masterKey.trim() !== '') return parseMasterKey(settings.masterKey);
  if (settings.production === true) throw masterKeyRequiredError();
  if (settings.keyStorePath === ':memory:') return settings.create === false ? undefined : newDataKey();
  const file = devMasterKeyPath(settings.keyStorePath);
  if (existsSync(file)) {
    settings.logger?.warn({ file }, `${MASTER_KEY_ENV} is not set: using the development master key in ${file}. Set ${MASTER_KEY_ENV} in production (and keep it safe: without it the personal data cannot be read).`);
    return parseMasterKey(readFileSync(file, 'utf8'), file);
  }
  if (settings.create === false) return undefined;
  mkdirSync(dirname(file), { recursive: true });
  const key = newDataKey();
  try {
    writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return parseMasterKey(readFileSync(file, 'utf8'), file);
    throw error;
  }
  settings.logger?.warn({ file }, `${MASTER_KEY_ENV} is not set: generated a development master key in ${file}. Set ${MASTER_KEY_ENV} in production (and keep it safe: without it the personal data cannot be read).`);
  return key;
}
