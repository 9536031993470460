import type { DeferredSeal } from '../shared/deferred-seal.js';
import { InvalidArgumentError, MaxAppendSizeExceededError } from './errors.js';
import {
  ALL_STREAM,
  type AppendCondition,
  type ConsumerStrategy,
  type Direction,
  type EventData,
  type EventFilter,
  type ExpectedRevision,
  type PersistentSubscriptionSettings,
  type Position,
  type SubscriptionSource,
} from './port.js';

/**
 * Input checks shared by both adapters, so that bad input fails the same way (InvalidArgumentError,
 * before any I/O) whether or not EventStoreDB would have caught it itself. Pure functions: they
 * throw or return the checked value. The embedded store and the EventStoreDB adapter both import
 * from here (there is no adapter-specific copy).
 */

/** EventStoreDB 24.10's default maximum append size (bytes). */
export const MAX_APPEND_SIZE = 1_048_576;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMPTY_METADATA = '{}';

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Non-empty; '$'-prefixed (system) streams only where `allowSystem` (reads, deletes, subscriptions). */
export function validateStreamName(stream: unknown, allowSystem: boolean, argument = 'stream'): asserts stream is string {
  if (typeof stream !== 'string' || stream.length === 0) throw new InvalidArgumentError('Stream name must be a non-empty string', argument);
  if (!allowSystem && stream.startsWith('$')) throw new InvalidArgumentError(`Stream '${stream}' is a system stream ('$' prefix): not writable through append`, argument);
}

export function validateGroupName(group: unknown): asserts group is string {
  if (typeof group !== 'string' || group.trim().length === 0) {
    throw new InvalidArgumentError('A persistent subscription group name must be a non-empty string', 'group');
  }
}

export function validateExpectedRevision(expected: unknown): asserts expected is ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return;
  if (typeof expected === 'bigint') {
    if (expected < 0n) throw new InvalidArgumentError(`expectedRevision must not be negative (got ${expected})`, 'expectedRevision');
    return;
  }
  throw new InvalidArgumentError(`expectedRevision must be 'any', 'no_stream', 'stream_exists' or a bigint (got ${String(expected)})`, 'expectedRevision');
}

/** AppendWriteOptions.conditions: an array of { stream, revision >= 0n }, none on the appended stream itself (its expectedRevision says that). */
export function validateConditions(stream: string, conditions: unknown): readonly AppendCondition[] {
  if (conditions === undefined) return [];
  if (!Array.isArray(conditions)) throw new InvalidArgumentError('conditions must be an array', 'conditions');
  for (const condition of conditions as unknown[]) {
    const { stream: other, revision } = (typeof condition === 'object' && condition !== null ? condition : {}) as Partial<AppendCondition>;
    validateStreamName(other, true, 'conditions');
    if (other === stream) throw new InvalidArgumentError(`A condition on the appended stream '${stream}' itself: use expectedRevision`, 'conditions');
    if (typeof revision !== 'bigint' || revision < 0n) throw new InvalidArgumentError(`conditions: the revision of '${other}' must be a non-negative bigint`, 'conditions');
  }
  return conditions as readonly AppendCondition[];
}

/** undefined → Infinity; otherwise a non-negative integer (or Infinity). */
export function validateMaxCount(maxCount: unknown, argument = 'maxCount'): number {
  if (maxCount === undefined) return Number.POSITIVE_INFINITY;
  if (typeof maxCount !== 'number' || !(Number.isInteger(maxCount) || maxCount === Number.POSITIVE_INFINITY) || maxCount < 0) {
    throw new InvalidArgumentError(`${argument} must be a non-negative integer (got ${String(maxCount)})`, argument);
  }
  return maxCount;
}

/** A positive integer (bufferSize and the like). */
export function validatePositiveInteger(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${argument} must be a positive integer (got ${String(value)})`, argument);
  }
  return value;
}

export function validateDirection(direction: unknown): Direction {
  if (direction === undefined) return 'forwards';
  if (direction === 'forwards' || direction === 'backwards') return direction;
  throw new InvalidArgumentError(`direction must be 'forwards' or 'backwards' (got ${String(direction)})`, 'direction');
}

/** ReadStreamOptions.notFound: 'throw' (default) or 'empty'. */
export function validateNotFound(notFound: unknown): 'throw' | 'empty' {
  if (notFound === undefined || notFound === 'throw') return 'throw';
  if (notFound === 'empty') return 'empty';
  throw new InvalidArgumentError(`notFound must be 'throw' or 'empty' (got ${String(notFound)})`, 'notFound');
}

export function validateRevision(revision: unknown, argument: string): 'start' | 'end' | bigint {
  if (revision === 'start' || revision === 'end') return revision;
  if (typeof revision === 'bigint' && revision >= 0n) return revision;
  throw new InvalidArgumentError(`${argument} must be 'start', 'end' or a non-negative bigint (got ${String(revision)})`, argument);
}

/** A plain revision (no 'start'/'end'): stopAt and the like. */
export function validateExactRevision(revision: unknown, argument: string): bigint {
  if (typeof revision === 'bigint' && revision >= 0n) return revision;
  throw new InvalidArgumentError(`${argument} must be a non-negative bigint (got ${String(revision)})`, argument);
}

export function validatePosition(position: unknown, argument: string): 'start' | 'end' | Position {
  if (position === 'start' || position === 'end') return position;
  if (typeof position === 'object' && position !== null) {
    const { commit, prepare } = position as Partial<Position>;
    if (typeof commit === 'bigint' && commit >= 0n && typeof prepare === 'bigint' && prepare >= 0n) return position as Position;
  }
  throw new InvalidArgumentError(`${argument} must be 'start', 'end' or a { commit, prepare } of non-negative bigints`, argument);
}

/** Compile a filter regex as the embedded store does: with the 'u' flag if it allows, else without. */
export function compileFilterRegex(source: string): RegExp {
  try {
    return new RegExp(source, 'u');
  } catch {
    try {
      return new RegExp(source);
    } catch (error) {
      throw new InvalidArgumentError(`filter.regex is not a valid regular expression: ${(error as Error).message}`, 'filter');
    }
  }
}

/** on 'eventType' | 'streamName'; a non-empty array of string prefixes, or a string regex that compiles. */
export function validateFilter(filter: unknown): EventFilter | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter !== 'object' || filter === null) throw new InvalidArgumentError('filter must be an EventFilter', 'filter');
  const { on } = filter as { on?: unknown };
  if (on !== 'eventType' && on !== 'streamName') throw new InvalidArgumentError(`filter.on must be 'eventType' or 'streamName' (got ${String(on)})`, 'filter');
  if ('prefixes' in filter) {
    const prefixes: unknown = filter.prefixes;
    if (!Array.isArray(prefixes) || prefixes.length === 0 || !prefixes.every((p): p is string => typeof p === 'string')) {
      throw new InvalidArgumentError('filter.prefixes must be a non-empty array of strings', 'filter');
    }
    return filter as EventFilter;
  }
  if ('regex' in filter) {
    const regex: unknown = filter.regex;
    if (typeof regex !== 'string') throw new InvalidArgumentError('filter.regex must be a string', 'filter');
    compileFilterRegex(regex);
    return filter as EventFilter;
  }
  throw new InvalidArgumentError('filter needs prefixes or regex', 'filter');
}

/** An event checked and serialised once. */
export interface PreparedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  /** The seal to complete in `data` where the event is committed (shared/deferred-seal.ts). */
  readonly seal?: DeferredSeal;
}

/** The size counted against MaxAppendSize: UTF-8 bytes of data JSON + metadata JSON + type, summed. */
export function appendSize(prepared: readonly PreparedEvent[]): number {
  let size = 0;
  for (const event of prepared) size += Buffer.byteLength(event.data) + Buffer.byteLength(event.metadata) + Buffer.byteLength(event.type);
  return size;
}

/**
 * Check a batch and serialise it: a non-empty array; each event an object with a uuid id (unique in
 * the batch, lower-cased), a non-empty type, JSON-serialisable data and object metadata. Throws
 * InvalidArgumentError, or MaxAppendSizeExceededError when the batch is over `maxAppendSize`
 * (pass Infinity to leave that check to the server).
 */
export function prepareEvents(stream: string, events: unknown, maxAppendSize: number, seals?: readonly (DeferredSeal | undefined)[]): PreparedEvent[] {
  if (!Array.isArray(events)) throw new InvalidArgumentError('events must be an array', 'events');
  if (events.length === 0) throw new InvalidArgumentError('events must not be empty', 'events');
  const prepared: PreparedEvent[] = new Array<PreparedEvent>(events.length);
  const ids = events.length > 1 ? new Set<string>() : undefined;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as Partial<EventData> | null | undefined;
    if (typeof event !== 'object' || event === null) throw new InvalidArgumentError(`events[${i}] must be an object`, 'events');
    const { id, type } = event;
    if (!isUuid(id)) throw new InvalidArgumentError(`events[${i}].id must be a uuid (got ${String(id)})`, 'events.id');
    if (typeof type !== 'string' || type.length === 0) throw new InvalidArgumentError(`events[${i}].type must be a non-empty string`, 'events.type');
    const lowerId = id.toLowerCase();
    if (ids !== undefined) {
      if (ids.has(lowerId)) throw new InvalidArgumentError(`events[${i}].id ${id} appears twice in the batch`, 'events.id');
      ids.add(lowerId);
    }
    const data = serialise(event.data, `events[${i}].data`, 'events.data');
    const metadata = event.metadata === undefined ? EMPTY_METADATA : serialiseMetadata(event.metadata, i);
    const seal = seals?.[i];
    prepared[i] = seal === undefined ? { id: lowerId, type, data, metadata } : { id: lowerId, type, data, metadata, seal };
  }
  const size = appendSize(prepared);
  if (size > maxAppendSize) throw new MaxAppendSizeExceededError(stream, size, maxAppendSize);
  return prepared;
}

function serialiseMetadata(metadata: unknown, index: number): string {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new InvalidArgumentError(`events[${index}].metadata must be a JSON object`, 'events.metadata');
  }
  return serialise(metadata, `events[${index}].metadata`, 'events.metadata');
}

/**
 * JSON.stringify rejects bigint and cycles itself; it silently drops functions and symbols and turns
 * NaN/Infinity into null, so a second walk (safe: no cycles by then) rejects those.
 */
function serialise(value: unknown, label: string, argument: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(`${label} is not JSON-serialisable: ${(error as Error).message}`, argument);
  }
  if (json === undefined) throw new InvalidArgumentError(`${label} is not JSON-serialisable (${typeof value})`, argument);
  const problem = findNonJson(value);
  if (problem !== undefined) throw new InvalidArgumentError(`${label} is not JSON-serialisable: contains ${problem}`, argument);
  return json;
}

function findNonJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? undefined : String(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'bigint':
      return 'a bigint';
    case 'object': {
      if (value === null) return undefined;
      const items: unknown[] = Array.isArray(value) ? value : Object.values(value);
      for (const item of items) {
        const problem = findNonJson(item);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

// ---- persistent subscriptions -------------------------------------------------------------

/** A well-formed source: { kind: 'all', filter? } or { kind: 'stream', stream } (not '$all'). */
export function validateSource(source: unknown): SubscriptionSource {
  if (typeof source !== 'object' || source === null || !('kind' in source)) {
    throw new InvalidArgumentError('source must be { kind: "all" } or { kind: "stream", stream }', 'source');
  }
  if (source.kind === 'all') {
    const filter = 'filter' in source ? source.filter : undefined;
    if (filter === undefined || filter === null) return { kind: 'all' };
    const valid = validateFilter(filter);
    return valid === undefined ? { kind: 'all' } : { kind: 'all', filter: valid };
  }
  if (source.kind === 'stream') {
    const stream = 'stream' in source ? source.stream : undefined;
    if (typeof stream !== 'string' || stream.length === 0) throw new InvalidArgumentError('source.stream must be a non-empty stream name', 'source');
    if (stream === ALL_STREAM) throw new InvalidArgumentError("Use { kind: 'all' } for $all groups", 'source');
    return { kind: 'stream', stream };
  }
  throw new InvalidArgumentError(`Unknown source kind ${String(source.kind)}`, 'source');
}

export const CONSUMER_STRATEGIES: readonly ConsumerStrategy[] = ['RoundRobin', 'DispatchToSingle', 'Pinned'];

const NUMERIC_SETTINGS = [
  'messageTimeout',
  'maxRetryCount',
  'checkPointAfter',
  'checkPointLowerBound',
  'checkPointUpperBound',
  'maxSubscriberCount',
  'liveBufferSize',
  'readBatchSize',
  'historyBufferSize',
] as const;

const KNOWN_SETTINGS = new Set<string>([...NUMERIC_SETTINGS, 'startFrom', 'resolveLinkTos', 'extraStatistics', 'consumerStrategyName']);

/**
 * `base` (the defaults on create, the group's current settings on update) overlaid with `patch`,
 * validated: known keys, non-negative integers, readBatchSize >= 1 and below both buffer sizes
 * (EventStoreDB's rule), a known strategy, booleans, and a startFrom that fits the source
 * (Position for $all, revision for a stream).
 */
export function resolvePersistentSettings(
  kind: SubscriptionSource['kind'],
  base: PersistentSubscriptionSettings,
  patch: Partial<PersistentSubscriptionSettings> | undefined,
): PersistentSubscriptionSettings {
  if (patch !== undefined && (typeof patch !== 'object' || patch === null)) throw new InvalidArgumentError('settings must be an object', 'settings');
  const defined: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch ?? {})) {
    if (!KNOWN_SETTINGS.has(key)) throw new InvalidArgumentError(`Unknown persistent subscription setting '${key}'`, key);
    if (value !== undefined) defined[key] = value;
  }
  const merged = { ...base, ...defined } as PersistentSubscriptionSettings;
  for (const key of NUMERIC_SETTINGS) {
    const value: unknown = merged[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(`${key} must be a non-negative integer (got ${String(value)})`, key);
    }
  }
  if (merged.readBatchSize < 1) throw new InvalidArgumentError('readBatchSize must be at least 1', 'readBatchSize');
  if (merged.readBatchSize >= merged.historyBufferSize) {
    throw new InvalidArgumentError('readBatchSize may not be greater than or equal to historyBufferSize', 'readBatchSize');
  }
  if (merged.readBatchSize >= merged.liveBufferSize) {
    throw new InvalidArgumentError('readBatchSize may not be greater than or equal to liveBufferSize', 'readBatchSize');
  }
  if (!CONSUMER_STRATEGIES.includes(merged.consumerStrategyName)) {
    throw new InvalidArgumentError(`Unknown consumer strategy '${String(merged.consumerStrategyName)}'`, 'consumerStrategyName');
  }
  if (typeof merged.resolveLinkTos !== 'boolean') throw new InvalidArgumentError('resolveLinkTos must be a boolean', 'resolveLinkTos');
  if (typeof merged.extraStatistics !== 'boolean') throw new InvalidArgumentError('extraStatistics must be a boolean', 'extraStatistics');
  validateStartFrom(kind, merged.startFrom);
  return Object.freeze({
    startFrom: merged.startFrom,
    resolveLinkTos: merged.resolveLinkTos,
    extraStatistics: merged.extraStatistics,
    messageTimeout: merged.messageTimeout,
    maxRetryCount: merged.maxRetryCount,
    checkPointAfter: merged.checkPointAfter,
    checkPointLowerBound: merged.checkPointLowerBound,
    checkPointUpperBound: merged.checkPointUpperBound,
    maxSubscriberCount: merged.maxSubscriberCount,
    liveBufferSize: merged.liveBufferSize,
    readBatchSize: merged.readBatchSize,
    historyBufferSize: merged.historyBufferSize,
    consumerStrategyName: merged.consumerStrategyName,
  });
}

function validateStartFrom(kind: SubscriptionSource['kind'], startFrom: unknown): void {
  if (startFrom === 'start' || startFrom === 'end') return;
  if (kind === 'stream') {
    if (typeof startFrom !== 'bigint' || startFrom < 0n) throw new InvalidArgumentError('startFrom of a stream group must be start, end or a revision >= 0', 'startFrom');
    return;
  }
  const { commit, prepare } = (typeof startFrom === 'object' && startFrom !== null ? startFrom : {}) as Partial<Position>;
  if (typeof commit !== 'bigint' || typeof prepare !== 'bigint' || commit < 0n || prepare < 0n) {
    throw new InvalidArgumentError('startFrom of a $all group must be start, end or a Position', 'startFrom');
  }
}
