/**
 * AES-256-GCM sealing, and sealing deferred to where an event is committed.
 *
 * Creating an AES-GCM cipher (key schedule, GHASH tables) is most of what sealing a short value
 * costs, and on the API's event loop that was a twentieth of POST /scorings. A store that commits
 * on another thread (the embedded store's commit worker) can do it there: the encrypting store
 * serialises the event with a placeholder where the envelope goes and hands over what sealing
 * needs (DeferredSeal); the committing thread seals and puts the envelope in place of the
 * placeholder just before the row is written. The plaintext never reaches the store's files: it
 * travels only with the write, in memory, and a write whose placeholder is not found once fails.
 *
 * The placeholder is as long as the envelope will be (the append's size is checked before the
 * hand-off) and unguessable (a random uuid), so no other value of the event can be mistaken for it.
 */
import { createCipheriv, randomFillSync, randomUUID } from 'node:crypto';
import type { AppendResult, AppendWriteOptions, EventData } from '../eventstore/port.js';

const ALGORITHM = 'aes-256-gcm';
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

/** IVs come from a pool of CSPRNG bytes refilled in bulk (a randomBytes call per IV costs more than the cipher). One pool per thread. */
const IV_POOL = Buffer.alloc(IV_BYTES * 512);
let ivOffset = IV_POOL.length;

/** A view into the pool, not a copy: use it before the next newIv() call, which may refill the pool. */
function newIv(): Buffer {
  if (ivOffset + IV_BYTES > IV_POOL.length) {
    randomFillSync(IV_POOL);
    ivOffset = 0;
  }
  const iv = IV_POOL.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

/** `iv` is a view into the IV pool: the caller encodes or copies it at once. A string plaintext is taken as UTF-8. */
export function sealAesGcm(key: Buffer, plaintext: Buffer | string, aad: Buffer): { iv: Buffer; sealed: Buffer } {
  const iv = newIv();
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const encrypted = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
  cipher.final(); // GCM: no output, computes the tag
  return { iv, sealed: Buffer.concat([encrypted, cipher.getAuthTag()]) };
}

/** `<prefix><iv>:<ciphertext+tag>`, base64url: the envelope string of both personal-data formats. */
export function envelopeOf(prefix: string, iv: Buffer, sealed: Buffer): string {
  return `${prefix}${iv.toString('base64url')}:${sealed.toString('base64url')}`;
}

/** What the committing thread needs to seal one event's envelope (plain strings: it crosses threads). */
export interface DeferredSeal {
  /** The string value the event's serialised data holds where the envelope goes. */
  readonly placeholder: string;
  /** The envelope's text before the iv (format and key id). */
  readonly prefix: string;
  /** The data key, base64. */
  readonly key: string;
  /** The additional authenticated data, UTF-8. */
  readonly aad: string;
  /** UTF-8. */
  readonly plaintext: string;
}

/** Unpadded base64 length of `bytes` bytes. */
function base64Length(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

/** A seal of `plaintext`, and the placeholder to put in the event where its envelope goes. */
export function deferSeal(prefix: string, key: Buffer, aad: string, plaintext: string): DeferredSeal {
  const length = prefix.length + base64Length(IV_BYTES) + 1 + base64Length(Buffer.byteLength(plaintext) + TAG_BYTES);
  // Every character JSON-safe as it is (no escapes), so the serialised data holds it verbatim.
  return { placeholder: randomUUID().padEnd(length, '~'), prefix, key: key.toString('base64'), aad, plaintext };
}

/** The envelope `seal` describes, sealed now. */
export function sealNow(seal: DeferredSeal): string {
  const { iv, sealed } = sealAesGcm(Buffer.from(seal.key, 'base64'), seal.plaintext, Buffer.from(seal.aad, 'utf8'));
  return envelopeOf(seal.prefix, iv, sealed);
}

/** `data` (serialised JSON) with the envelope in place of the placeholder; throws unless the placeholder is there exactly once. */
export function completeSeal(data: string, seal: DeferredSeal): string {
  const quoted = `"${seal.placeholder}"`;
  const at = data.indexOf(quoted);
  if (at < 0 || data.includes(quoted, at + quoted.length)) throw new Error('A deferred seal whose placeholder is not in its event exactly once: nothing written');
  const envelope = sealNow(seal);
  if (envelope.length !== seal.placeholder.length) throw new Error('A deferred seal whose envelope is not as long as its placeholder: nothing written');
  return `${data.slice(0, at + 1)}${envelope}${data.slice(at + 1 + seal.placeholder.length)}`;
}

/**
 * A store that completes deferred seals where it commits: `seals[i]` belongs to `events[i]`
 * (undefined: nothing to seal). Everything else as `append`.
 */
export interface DeferredSealingStore {
  appendSealing(stream: string, events: readonly EventData[], seals: readonly (DeferredSeal | undefined)[], options?: AppendWriteOptions): Promise<AppendResult>;
}

export function completesSeals(store: object): store is DeferredSealingStore {
  return typeof (store as Partial<DeferredSealingStore>).appendSealing === 'function';
}
