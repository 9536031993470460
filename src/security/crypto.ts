/**
 * The cryptographic primitives of personal-data protection (node:crypto only).
 *
 * - Master key (32 bytes, from MMP_MASTER_KEY) → HKDF-SHA256 sub-keys, one per purpose: wrapping
 *   data keys, the blind index of borrowers, the key-store check value. The master key itself is
 *   never used directly nor kept once the sub-keys are derived.
 * - Data keys (32 random bytes, one per borrower) are stored wrapped: AES-256-GCM under the wrap
 *   key, the key id as additional data (a wrapped key cannot be moved to another id).
 * - The personal values of one event are sealed together (format v2): AES-256-GCM of the JSON
 *   object { pointer: value } under the borrower's data key, with `enc:v2:<keyId>:<event type>` as
 *   additional data. The first personal field holds `enc:v2:<keyId>:<iv>:<ciphertext+tag>`
 *   (base64url), the others `enc:v2:see:<pointer of that field>`. One cipher per event rather
 *   than per field: creating an AES-GCM cipher is most of the cost of sealing a short value, and
 *   POST /scorings seals three (the per-field format cost about a fifth of its throughput).
 *   Each value still goes back only to its own pointer (they are inside the authenticated text).
 * - Format v1, one envelope per field (`enc:v1:<keyId>:<iv>:<ciphertext+tag>`, with
 *   `enc:v1:<keyId>:<JSON pointer>` as additional data), is what earlier versions wrote and read:
 *   it stays readable, and is written only when asked (MMP_PERSONAL_DATA_FORMAT=v1, during a
 *   rolling upgrade).
 */
import { createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { JsonValue } from '../eventstore/port.js';
import { type DeferredSeal, deferSeal, envelopeOf, IV_BYTES, sealAesGcm as seal, TAG_BYTES } from '../shared/deferred-seal.js';

export const KEY_BYTES = 32;
const ALGORITHM = 'aes-256-gcm';
export const ENVELOPE_PREFIX = 'enc:v1:';
const ENVELOPE_RE = /^enc:v1:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{22,})$/;
export const SEALED_PREFIX = 'enc:v2:';
const SEALED_RE = /^enc:v2:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{22,})$/;
/** What the other personal fields of a v2 event hold (never a valid key id: it has a '/'). */
const SEE_PREFIX = 'enc:v2:see:';

export interface DerivedKeys {
  /** Wraps and unwraps data keys. */
  readonly wrap: Buffer;
  /** HMAC key of the blind index (normalised e-mail → key id). */
  readonly blindIndex: Buffer;
  /** A value stored in the key store to recognise its master key (HKDF is one-way: it reveals nothing). */
  readonly check: Buffer;
}

function derive(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `mortgagematchpro/personal-data/${info}`, KEY_BYTES));
}

export function deriveKeys(master: Buffer): DerivedKeys {
  if (master.length !== KEY_BYTES) throw new RangeError(`The master key must be ${KEY_BYTES} bytes (got ${master.length})`);
  return { wrap: derive(master, 'wrap/v1'), blindIndex: derive(master, 'blind-index/v1'), check: derive(master, 'check/v1') };
}

export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** HMAC-SHA256 of `subject` under the blind-index key. */
export function blindIndex(key: Buffer, subject: string): Buffer {
  return createHmac('sha256', key).update(subject, 'utf8').digest();
}

export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** A new key id: 16 random bytes, base64url (22 characters, never a ':'). */
export function newKeyId(): string {
  return randomBytes(16).toString('base64url');
}

/** Throws when the tag does not verify (wrong key, tampered data). */
function open(key: Buffer, iv: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < TAG_BYTES) throw new Error('ciphertext too short');
  const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
}

function wrapAad(keyId: string): Buffer {
  return Buffer.from(`mortgagematchpro/data-key/v1:${keyId}`, 'utf8');
}

/** iv ‖ ciphertext ‖ tag of the data key under the wrap key. */
export function wrapDataKey(wrapKey: Buffer, keyId: string, dataKey: Buffer): Buffer {
  const { iv, sealed } = seal(wrapKey, dataKey, wrapAad(keyId));
  return Buffer.concat([iv, sealed]);
}

export function unwrapDataKey(wrapKey: Buffer, keyId: string, wrapped: Buffer): Buffer {
  return open(wrapKey, wrapped.subarray(0, IV_BYTES), wrapped.subarray(IV_BYTES), wrapAad(keyId));
}

function fieldAad(keyId: string, pointer: string): Buffer {
  return Buffer.from(`${ENVELOPE_PREFIX}${keyId}:${pointer}`, 'utf8');
}

/** The v1 envelope string of `value` (any JSON value) at `pointer` under the data key `keyId` (written only with sealFormat v1). */
export function encryptValue(keyId: string, key: Buffer, pointer: string, value: JsonValue): string {
  const { iv, sealed } = seal(key, JSON.stringify(value), fieldAad(keyId, pointer));
  return envelopeOf(`${ENVELOPE_PREFIX}${keyId}:`, iv, sealed);
}

export interface Envelope {
  readonly keyId: string;
  readonly iv: Buffer;
  readonly sealed: Buffer;
}

/** The parts of `value` when it is an envelope string of the format `prefix` / `pattern` names. */
function parseWith(value: unknown, prefix: string, pattern: RegExp): Envelope | undefined {
  if (typeof value !== 'string' || !value.startsWith(prefix)) return undefined;
  const match = pattern.exec(value);
  if (!match) return undefined;
  return { keyId: match[1] as string, iv: Buffer.from(match[2] as string, 'base64url'), sealed: Buffer.from(match[3] as string, 'base64url') };
}

/** The parts of a v1 envelope string, or undefined when `value` is not one. */
export function parseEnvelope(value: unknown): Envelope | undefined {
  return parseWith(value, ENVELOPE_PREFIX, ENVELOPE_RE);
}

/** The value sealed in `envelope` at `pointer`; throws when the key does not open it. */
export function decryptValue(envelope: Envelope, key: Buffer, pointer: string): JsonValue {
  return JSON.parse(open(key, envelope.iv, envelope.sealed, fieldAad(envelope.keyId, pointer)).toString('utf8')) as JsonValue;
}

/** The v2 envelope's text before the iv. */
function sealedPrefix(keyId: string): string {
  return `${SEALED_PREFIX}${keyId}:`;
}

function sealedAadText(keyId: string, type: string): string {
  return `${sealedPrefix(keyId)}${type}`;
}

function sealedAad(keyId: string, type: string): Buffer {
  return Buffer.from(sealedAadText(keyId, type), 'utf8');
}

/** The v2 envelope of an event's personal values ({ pointer: value }) under the data key `keyId`. */
export function sealValues(keyId: string, key: Buffer, type: string, values: Readonly<Record<string, JsonValue>>): string {
  const { iv, sealed } = seal(key, JSON.stringify(values), sealedAad(keyId, type));
  return envelopeOf(sealedPrefix(keyId), iv, sealed);
}

/**
 * sealValues with the AES-GCM left to the thread that commits the event (shared/deferred-seal.ts):
 * the same envelope, sealed there in place of the seal's placeholder.
 */
export function deferSealValues(keyId: string, key: Buffer, type: string, values: Readonly<Record<string, JsonValue>>): DeferredSeal {
  return deferSeal(sealedPrefix(keyId), key, sealedAadText(keyId, type), JSON.stringify(values));
}

/** What a v2 personal field holds when its value is sealed in the field at `pointer`. */
export function seeMarker(pointer: string): string {
  return `${SEE_PREFIX}${pointer}`;
}

export function isSeeMarker(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith(SEE_PREFIX);
}

/** The parts of a v2 envelope string, or undefined when `value` is not one. */
export function parseSealed(value: unknown): Envelope | undefined {
  return parseWith(value, SEALED_PREFIX, SEALED_RE);
}

/** The values sealed in a v2 envelope of an event of type `type`; throws when the key does not open it or it holds no object. */
export function openValues(envelope: Envelope, key: Buffer, type: string): Readonly<Record<string, JsonValue>> {
  const values = JSON.parse(open(key, envelope.iv, envelope.sealed, sealedAad(envelope.keyId, type)).toString('utf8')) as unknown;
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new Error('a sealed envelope that holds no object');
  return values as Record<string, JsonValue>;
}
