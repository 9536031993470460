/**
 * Ids minted here. New ids are UUIDv7 (RFC 9562): a 48-bit millisecond timestamp, then random
 * bits, monotonic within one process. They sort in creation order, so every B-tree keyed by them
 * grows at its right edge: the event store's stream-name index (`scoring-<id>`), the read
 * models' tables keyed by scoring or event id. Random (v4) ids scattered each insert over the
 * whole index: past 200,000 scorings a commit of 25 appends rewrote about 20 index pages spread
 * over the file, the WAL grew by two pages per event, and the checkpoint that restarts the WAL
 * held the write lock for 8 to 21 ms, several times a second. What a v7 id gives away is when
 * it was minted, which the resources it names record anyway.
 *
 * Deterministic ids. An event whose id is derived from its business key (e.g. the usage of one
 * scoring) gets the same id every time it is decided again, so the event store's idempotent
 * append recognises a retried write (EventStoreDB semantics: a re-append at the same expected
 * revision with the same ids succeeds without writing; with `any` the recent-ids cache dedupes).
 */
import { v5, v7 } from 'uuid';

/** A new time-ordered id (UUIDv7, see above) for an aggregate, an event or a correlation. */
export function newId(): string {
  return v7();
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Namespaces for `deterministicEventId` (fixed random uuids: never change them). */
export const ID_NAMESPACES = Object.freeze({
  /** billing.usage.recorded, key `{tenantId}/{scoringId}`. */
  usage: '8f5b0d6e-3c1a-4e59-9f0b-6a2d7c4e1b90',
  /** ai.cost.threshold_exceeded, key `{tenantId}/{period}/{thresholdPercent}/{scoringId}`. */
  costThreshold: 'c41e7a2b-95d8-4f3e-8b6a-0d1f2e3c4b5a',
  /** billing.payment.succeeded / failed, key `{paymentId}/succeeded` or `{paymentId}/failed/{attempt}`. */
  payment: '2a7d9c14-6e0b-4b83-a5f1-9c8e7d6b5a43',
});

/**
 * A name-based uuid (RFC 4122 version 5: SHA-1 of namespace bytes + UTF-8 key), the same for the
 * same (namespace, key) on every machine. `namespace` must be a uuid.
 */
export function deterministicEventId(namespace: string, key: string): string {
  if (!UUID_RE.test(namespace)) throw new TypeError(`Namespace must be a uuid: ${namespace}`);
  // The key as UTF-8 bytes (Buffer's encoding, lone surrogates included), not as a string: the
  // package's own string encoding throws on a lone surrogate, and stored ids must not change.
  return v5(Buffer.from(key, 'utf8'), namespace);
}

/**
 * JSON with object keys sorted, for comparing values by content (idempotency fingerprints).
 * `undefined` properties are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
