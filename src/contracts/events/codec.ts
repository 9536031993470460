/**
 * The boundary between domain events and the event store.
 *
 * Write: `toEventData` / `encodeEvent` validate the payload against the current schema and the
 * envelope against the metadata schema, and throw `InvalidEventError` (with JSON paths) before
 * anything reaches the store: an invalid event is never appended.
 *
 * Read: `decodeEvent` validates a recorded event against the schema of its stored version,
 * upcasts it to the current version and returns `{ ok: true, event }`, or `{ ok: false, error }`
 * with the problems (unknown type, bad metadata, bad payload). It never throws, so one bad event
 * cannot crash a projection or subscription: the reader decides (skip, park, alert).
 */
import type { EventData, JsonObject, JsonValue, Position, RecordedEvent } from '../../eventstore/port.js';
import { Uuid, type FieldError } from '../common.js';
import { isValid, validate } from '../validation.js';
import {
  CURRENT_VERSIONS,
  catalogEntry,
  currentEntry,
  isEventType,
  parseVersionedType,
  versionedType,
  type DomainEvent,
  type EventBody,
  type EventDataOf,
  type EventType,
} from './catalog.js';
import { EventEnvelopeSchema, StoredEventMetadataSchema, buildStoredMetadata, type EventEnvelope, type EventMetadata } from './metadata.js';
import { upcasters } from './upcasters.js';

/** Thrown on write when an event does not match its contract. Paths: `/data/...`, `/metadata/...`, `/id`, `/type`. */
export class InvalidEventError extends Error {
  readonly code = 'INVALID_EVENT';
  constructor(
    readonly eventType: string,
    readonly problems: readonly FieldError[],
  ) {
    super(`Invalid ${eventType} event: ${problems.map((p) => `${p.path || '(root)'} ${p.message}`).join('; ')}`);
    this.name = 'InvalidEventError';
  }
}

const EventIdSchema = Uuid();

/**
 * Problems of `data` as the payload of `type`: a current type (`ai.scoring.completed`) or a
 * stored versioned type (`ai.scoring.completed.v1`). Paths are relative to the payload.
 */
export function validateEventData(type: string, data: unknown): FieldError[] {
  const entry = isEventType(type) ? currentEntry(type) : catalogEntry(type);
  if (entry === undefined) return [{ path: '', message: `unknown event type '${type}'` }];
  return validate(entry.schema, data);
}

/** Deep copy of a validated payload as JSON: drops `undefined` properties. */
function toJsonValue(value: unknown, path: string, eventType: string): JsonValue {
  const copy = jsonCopy(value);
  // Not JSON somewhere: walk again with paths, for the error.
  return copy === NOT_JSON ? toJsonValueWithPaths(value, path, eventType) : copy;
}

const NOT_JSON = Symbol('not JSON');

/** The hot path of toJsonValue: no path strings; NOT_JSON when something is not JSON. */
function jsonCopy(value: unknown): JsonValue | typeof NOT_JSON {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : NOT_JSON;
  if (Array.isArray(value)) {
    const out: JsonValue[] = [];
    for (const item of value as unknown[]) {
      const json = jsonCopy(item);
      if (json === NOT_JSON) return NOT_JSON;
      out.push(json);
    }
    return out;
  }
  if (typeof value === 'object') {
    const out: JsonObject = {};
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (item === undefined) continue;
      const json = jsonCopy(item);
      if (json === NOT_JSON) return NOT_JSON;
      // '__proto__' as an own property, never the prototype setter.
      if (key === '__proto__') Object.defineProperty(out, key, { value: json, enumerable: true, writable: true, configurable: true });
      else out[key] = json;
    }
    return out;
  }
  return NOT_JSON;
}

function toJsonValueWithPaths(value: unknown, path: string, eventType: string): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidEventError(eventType, [{ path, message: 'must be a finite number' }]);
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => toJsonValueWithPaths(item, `${path}/${i}`, eventType));
  if (typeof value === 'object') {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      Object.defineProperty(out, key, { value: toJsonValueWithPaths(item, `${path}/${key}`, eventType), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  throw new InvalidEventError(eventType, [{ path, message: `is not JSON (${typeof value})` }]);
}

/**
 * The EventData to append for an event of the current version of `type`. Validates everything;
 * throws InvalidEventError. `id` (a uuid) comes from the caller: random for most events,
 * `deterministicEventId(...)` where duplicates must collapse.
 */
export function toEventData<K extends EventType>(type: K, data: EventDataOf<K>, envelope: EventEnvelope, id: string): EventData {
  if (!isEventType(type)) throw new InvalidEventError(String(type), [{ path: '/type', message: `unknown event type '${String(type)}'` }]);
  const entry = currentEntry(type);
  const problems = [...validate(EventIdSchema, id, '/id'), ...validate(EventEnvelopeSchema, envelope, '/metadata'), ...validate(entry.schema, data, '/data')];
  if (problems.length > 0) throw new InvalidEventError(entry.versionedType, problems);
  return {
    id,
    type: entry.versionedType,
    data: toJsonValue(data, '/data', entry.versionedType),
    metadata: buildStoredMetadata(envelope, entry.version),
  };
}

/** `toEventData` for an event body as deciders emit it. */
export function encodeEvent(event: EventBody, envelope: EventEnvelope, id: string): EventData {
  return toEventData(event.type, event.data as EventDataOf<typeof event.type>, envelope, id);
}

/** A decoded event: the current version of the payload plus where and how it was stored. */
export type DecodedEvent = DomainEvent & {
  readonly id: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly position: Position;
  readonly created: Date;
  /** The type as stored, e.g. `ai.scoring.completed.v1`. */
  readonly storedType: string;
  /** The version the payload was written with (metadata.schemaVersion); < version when upcast. */
  readonly storedVersion: number;
};

export interface DecodeFailure {
  readonly streamId: string;
  readonly revision: bigint;
  readonly eventId: string;
  readonly type: string;
  readonly problems: readonly FieldError[];
}

export type DecodeResult = { readonly ok: true; readonly event: DecodedEvent } | { readonly ok: false; readonly error: DecodeFailure };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pickMetadata(metadata: Record<string, unknown>): EventMetadata {
  const picked: EventMetadata = {
    correlationId: metadata['correlationId'] as string,
    causationId: metadata['causationId'] as string,
    tenantId: metadata['tenantId'] as string,
    occurredAt: metadata['occurredAt'] as string,
    schemaVersion: metadata['schemaVersion'] as number,
  };
  if (typeof metadata['userId'] === 'string') picked.userId = metadata['userId'];
  return picked;
}

function decode(recorded: RecordedEvent, fail: (problems: FieldError[]) => DecodeResult): DecodeResult {
  const storedType: unknown = recorded.type;
  if (typeof storedType !== 'string') return fail([{ path: '/type', message: 'must be a string' }]);
  const parsed = parseVersionedType(storedType);
  const entry = catalogEntry(storedType);
  if (entry === undefined) {
    const known = parsed !== undefined && isEventType(parsed.type);
    return fail([
      {
        path: '/type',
        message: known ? `unknown version ${parsed.version} of '${parsed.type}' (current: ${CURRENT_VERSIONS[parsed.type as EventType]})` : `unknown event type '${storedType}'`,
      },
    ]);
  }

  const problems: FieldError[] = [];
  const metadata: unknown = recorded.metadata;
  const metadataProblems = validate(StoredEventMetadataSchema, metadata, '/metadata');
  problems.push(...metadataProblems);
  if (metadataProblems.length === 0 && isRecord(metadata) && metadata['schemaVersion'] !== entry.version) {
    problems.push({ path: '/metadata/schemaVersion', message: `must equal the version of the stored type (${entry.version})` });
  }
  problems.push(...validate(entry.schema, recorded.data, '/data'));
  if (problems.length > 0 || !isRecord(metadata)) return fail(problems);

  // Upcast step by step to the current version; the result must satisfy the current schema.
  let data: unknown = recorded.data;
  for (let version = entry.version; version < entry.currentVersion; version++) {
    const from = versionedType(entry.type, version);
    const upcast = (upcasters as Readonly<Record<string, (data: never) => unknown>>)[from];
    if (upcast === undefined) return fail([{ path: '/type', message: `no upcaster from ${from}` }]);
    data = upcast(data as never);
  }
  const current = currentEntry(entry.type);
  if (entry.version !== current.version) {
    const upcastProblems = validate(current.schema, data, '/data');
    if (upcastProblems.length > 0) return fail(upcastProblems.map((p) => ({ path: p.path, message: `after upcast to v${current.version}: ${p.message}` })));
  }

  const event = {
    type: entry.type,
    version: current.version,
    data,
    metadata: pickMetadata(metadata),
    id: recorded.id,
    streamId: recorded.streamId,
    revision: recorded.revision,
    position: recorded.position,
    created: recorded.created,
    storedType,
    storedVersion: entry.version,
  } as DecodedEvent;
  return { ok: true, event };
}

/**
 * Validates, upcasts and types a recorded event. Never throws: garbage (unknown or malformed
 * types, bad metadata, payloads not matching their schema, even a malformed RecordedEvent) comes
 * back as `{ ok: false, error }` with JSON-path problems.
 */
export function decodeEvent(recorded: RecordedEvent): DecodeResult {
  let streamId = '';
  let revision = -1n;
  let eventId = '';
  let type = '';
  const fail = (problems: FieldError[]): DecodeResult => ({ ok: false, error: { streamId, revision, eventId, type, problems } });
  try {
    if (!isRecord(recorded)) return fail([{ path: '', message: 'not a recorded event' }]);
    streamId = typeof recorded.streamId === 'string' ? recorded.streamId : '';
    revision = typeof recorded.revision === 'bigint' ? recorded.revision : -1n;
    eventId = typeof recorded.id === 'string' ? recorded.id : '';
    type = typeof recorded.type === 'string' ? recorded.type : '';
    return decode(recorded, fail);
  } catch (error) {
    return fail([{ path: '', message: `undecodable: ${error instanceof Error ? error.message : String(error)}` }]);
  }
}

/** True when `value` is a valid envelope (for callers assembling one from HTTP context). */
export function isValidEnvelope(value: unknown): value is EventEnvelope {
  return isValid(EventEnvelopeSchema, value);
}
