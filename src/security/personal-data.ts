/**
 * Borrowers and forgetting. A borrower is identified by the normalised e-mail of the applicant
 * (NFKC, trimmed, lower-cased): all their scoring requests share one data key, found through the
 * blind index, and they are forgotten by e-mail (crypto-shredding: the key is destroyed, the
 * events stay and read redacted). Every forget is logged as an audit fact (without the e-mail).
 */
import type { Logger } from 'pino';
import type { EventStore } from '../eventstore/port.js';
import type { KeyStore } from './key-store.js';

const keyStores = new WeakMap<EventStore, KeyStore>();

/** Records that `store` encrypts with `keys` (done by EncryptingEventStore). */
export function registerKeyStore(store: EventStore, keys: KeyStore): void {
  keyStores.set(store, keys);
}

/** The key store behind `store` (an EncryptingEventStore, or a wrapper linked with linkPersonalData). */
export function keyStoreOf(store: EventStore): KeyStore | undefined {
  return keyStores.get(store);
}

/** Makes `outer` (a wrapper such as the metrics decorator) answer keyStoreOf like `inner`. */
export function linkPersonalData(outer: EventStore, inner: EventStore): void {
  const keys = keyStores.get(inner);
  if (keys !== undefined) keyStores.set(outer, keys);
}

/** Printable ASCII only: NFKC leaves such a string as it is. */
const ASCII = /^[\x20-\x7e]*$/;

export function normaliseEmail(email: string): string {
  // The NFKC pass (an ICU call) is skipped for the usual all-ASCII address: it would change nothing.
  return (ASCII.test(email) ? email : email.normalize('NFKC')).trim().toLowerCase();
}

/** The key-store subject of a borrower. */
export function emailSubject(email: string): string {
  return `email:${normaliseEmail(email)}`;
}

export interface ForgetResult {
  /** True when a data key was destroyed. */
  readonly forgotten: boolean;
  /** How many data keys were destroyed. */
  readonly keys: number;
}

/** Who asked (for the audit log). */
export type ForgetActor = Readonly<Record<string, string>>;

export interface ForgetOptions {
  readonly logger?: Logger;
  readonly actor?: ForgetActor;
  /** VACUUM the key store afterwards (slower; the row is already zeroed by secure_delete). */
  readonly vacuum?: boolean;
}

export const FORGET_AUDIT_ACTION = 'personal_data.borrower_forgotten';

/** Destroys the data key of the borrower with this e-mail and records the audit fact. */
export function forgetBorrower(keys: KeyStore, email: string, options: ForgetOptions = {}): ForgetResult {
  const subject = emailSubject(email);
  const destroyed = keys.forget(subject, options.vacuum === true ? { vacuum: true } : {});
  options.logger?.info(
    { audit: FORGET_AUDIT_ACTION, subjectIndex: keys.indexOf(subject).toString('hex'), keysDestroyed: destroyed, actor: options.actor ?? {}, at: new Date().toISOString() },
    destroyed > 0 ? 'borrower forgotten: personal data key destroyed' : 'borrower forget requested: no personal data key found',
  );
  return { forgotten: destroyed > 0, keys: destroyed };
}

/** Forgets through the key store behind an engine's store (see EncryptingEventStore). */
export function forgetBorrowerIn(store: EventStore, email: string, options: ForgetOptions = {}): ForgetResult {
  const keys = keyStoreOf(store);
  if (keys === undefined) throw new Error('This event store does not encrypt personal data (no EncryptingEventStore): nothing can be forgotten');
  return forgetBorrower(keys, email, options);
}
