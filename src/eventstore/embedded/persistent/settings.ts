import { InvalidArgumentError } from '../../errors.js';
import {
  ALL_STREAM,
  type ConsumerStrategy,
  type EventFilter,
  type JsonObject,
  type JsonValue,
  PERSISTENT_SUBSCRIPTION_DEFAULTS,
  type PersistentSubscriptionSettings,
  type Position,
  type RecordedEvent,
  type SubscriptionSource,
} from '../../port.js';

/**
 * Settings, sources and filters of persistent subscription groups: validation (InvalidArgumentError,
 * as EventStoreDB rejects the request), the JSON form kept in `$persistentSubscriptionConfig`, and
 * the $all event filter the group applies while it reads.
 */

export const CONFIG_STREAM = '$persistentSubscriptionConfig';
export const CONFIG_EVENT_TYPE = '$PersistentConfig';
const PS_STREAM_PREFIX = '$persistentsubscription-';

export const CONSUMER_STRATEGIES: readonly ConsumerStrategy[] = ['RoundRobin', 'DispatchToSingle', 'Pinned'];

/** A place in a source: a Position ($all) or a revision (stream); undefined = before the first event ($all). */
export type SourcePoint = Position | bigint | undefined;

/** The point before every event of a stream source. */
export const STREAM_ORIGIN = -1n;

export function groupKey(sourceName: string, group: string): string {
  return `${sourceName}::${group}`;
}

export function validateGroupName(group: unknown): string {
  if (typeof group !== 'string' || group.trim().length === 0) {
    throw new InvalidArgumentError('A persistent subscription group name must be a non-empty string', 'group');
  }
  return group;
}

/** A well-formed source (the filter is validated here; it only exists on $all groups). */
export function validateSource(source: unknown): SubscriptionSource {
  if (typeof source !== 'object' || source === null || !('kind' in source)) {
    throw new InvalidArgumentError('source must be { kind: "all" } or { kind: "stream", stream }', 'source');
  }
  if (source.kind === 'all') {
    const filter = 'filter' in source ? source.filter : undefined;
    if (filter === undefined || filter === null) return { kind: 'all' };
    return { kind: 'all', filter: validateFilter(filter) };
  }
  if (source.kind === 'stream') {
    const stream = 'stream' in source ? source.stream : undefined;
    if (typeof stream !== 'string' || stream.length === 0) throw new InvalidArgumentError('source.stream must be a non-empty stream name', 'source');
    if (stream === ALL_STREAM) throw new InvalidArgumentError("Use { kind: 'all' } for $all groups", 'source');
    return { kind: 'stream', stream };
  }
  throw new InvalidArgumentError(`Unknown source kind ${String(source.kind)}`, 'source');
}

function validateFilter(filter: unknown): EventFilter {
  if (typeof filter !== 'object' || filter === null || !('on' in filter)) throw new InvalidArgumentError('filter must be an EventFilter', 'filter');
  const on = filter.on;
  if (on !== 'eventType' && on !== 'streamName') throw new InvalidArgumentError(`filter.on must be 'eventType' or 'streamName'`, 'filter');
  if ('prefixes' in filter) {
    const prefixes: unknown = filter.prefixes;
    if (!Array.isArray(prefixes) || prefixes.length === 0 || !prefixes.every((p): p is string => typeof p === 'string')) {
      throw new InvalidArgumentError('filter.prefixes must be a non-empty array of strings', 'filter');
    }
    return on === 'eventType' ? { on, prefixes: [...prefixes] } : { on, prefixes: [...prefixes] };
  }
  if ('regex' in filter) {
    const regex: unknown = filter.regex;
    if (typeof regex !== 'string') throw new InvalidArgumentError('filter.regex must be a string', 'filter');
    compileRegex(regex);
    return on === 'eventType' ? { on, regex } : { on, regex };
  }
  throw new InvalidArgumentError('filter needs prefixes or regex', 'filter');
}

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
 * `base` (defaults on create, the current settings on update) overlaid with `patch`, validated:
 * non-negative integers, readBatchSize >= 1 and below both buffer sizes (EventStoreDB's rule), a
 * known strategy, and a startFrom that fits the source (Position for $all, revision for a stream).
 */
export function resolveSettings(
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

export { PERSISTENT_SUBSCRIPTION_DEFAULTS };

function validateStartFrom(kind: SubscriptionSource['kind'], startFrom: unknown): void {
  if (startFrom === 'start' || startFrom === 'end') return;
  if (kind === 'stream') {
    if (typeof startFrom !== 'bigint' || startFrom < 0n) throw new InvalidArgumentError('startFrom of a stream group must be start, end or a revision >= 0', 'startFrom');
    return;
  }
  if (!isPosition(startFrom) || startFrom.commit < 0n || startFrom.prepare < 0n) {
    throw new InvalidArgumentError('startFrom of a $all group must be start, end or a Position', 'startFrom');
  }
}

function isPosition(value: unknown): value is Position {
  return typeof value === 'object' && value !== null && 'commit' in value && 'prepare' in value && typeof value.commit === 'bigint' && typeof value.prepare === 'bigint';
}

// ---- points -------------------------------------------------------------------------------

/** a > b, for points of the same source kind (undefined / -1n are before everything). */
export function pointAfter(a: SourcePoint, b: SourcePoint): boolean {
  if (a === undefined) return false;
  if (b === undefined) return true;
  if (typeof a === 'bigint' || typeof b === 'bigint') return typeof a === 'bigint' && typeof b === 'bigint' && a > b;
  return a.commit > b.commit || (a.commit === b.commit && a.prepare > b.prepare);
}

/** Whether a point is a real place a checkpoint can record (not "before the first event"). */
export function isCheckpointable(point: SourcePoint): boolean {
  return point !== undefined && (typeof point !== 'bigint' || point >= 0n);
}

/** The $all point just before `position` (so a read "after" it starts at `position`). */
export function pointBefore(position: Position): Position | undefined {
  if (position.commit <= 0n) return undefined;
  return { commit: position.commit - 1n, prepare: position.prepare > 0n ? position.prepare - 1n : 0n };
}

// ---- $all filtering -----------------------------------------------------------------------

const regexCache = new Map<string, RegExp>();

function compileRegex(source: string): RegExp {
  let compiled = regexCache.get(source);
  if (compiled === undefined) {
    try {
      compiled = new RegExp(source, 'u');
    } catch {
      try {
        compiled = new RegExp(source);
      } catch (error) {
        throw new InvalidArgumentError(`filter.regex is not a valid regular expression: ${(error as Error).message}`, 'filter');
      }
    }
    if (regexCache.size > 1_000) regexCache.clear();
    regexCache.set(source, compiled);
  }
  return compiled;
}

/** Streams of the subscription engine itself: never delivered to a $all group, whatever its filter. */
export function isEngineStream(streamId: string): boolean {
  return streamId.startsWith(PS_STREAM_PREFIX) || streamId === CONFIG_STREAM;
}

/**
 * The predicate a $all group applies to each event: without a filter, system events (a '$' type or
 * a '$' stream) are skipped; with one, exactly what the filter matches is delivered (so a filter can
 * opt into system events). The engine's own streams are always skipped.
 */
export function allSourcePredicate(filter: EventFilter | undefined): (event: RecordedEvent) => boolean {
  if (filter === undefined) {
    return (e) => !e.type.startsWith('$') && !e.streamId.startsWith('$');
  }
  const field = filter.on === 'eventType' ? (e: RecordedEvent) => e.type : (e: RecordedEvent) => e.streamId;
  if ('prefixes' in filter) {
    const prefixes = filter.prefixes;
    return (e) => {
      if (isEngineStream(e.streamId)) return false;
      const value = field(e);
      for (const prefix of prefixes) if (value.startsWith(prefix)) return true;
      return false;
    };
  }
  const regex = compileRegex(filter.regex);
  return (e) => !isEngineStream(e.streamId) && regex.test(field(e));
}

// ---- JSON form ----------------------------------------------------------------------------

export interface GroupDefinition {
  readonly source: SubscriptionSource;
  readonly group: string;
  readonly settings: PersistentSubscriptionSettings;
  /** Where reading starts (exclusive) while the group has no checkpoint: startFrom resolved at create/update. */
  readonly origin: SourcePoint;
}

function pointToJson(point: SourcePoint | Position): JsonValue {
  if (point === undefined) return null;
  if (typeof point === 'bigint') return { revision: point.toString() };
  return { commit: point.commit.toString(), prepare: point.prepare.toString() };
}

function startFromToJson(startFrom: PersistentSubscriptionSettings['startFrom']): JsonValue {
  if (startFrom === 'start' || startFrom === 'end') return startFrom;
  return pointToJson(startFrom);
}

export function definitionToJson(def: GroupDefinition): JsonObject {
  const settings: JsonObject = {};
  for (const [key, value] of Object.entries(def.settings)) {
    settings[key] = key === 'startFrom' ? startFromToJson(def.settings.startFrom) : (value as JsonValue);
  }
  const out: JsonObject = {
    kind: def.source.kind,
    source: def.source.kind === 'all' ? ALL_STREAM : def.source.stream,
    group: def.group,
    settings,
    origin: pointToJson(def.origin),
  };
  if (def.source.kind === 'all' && def.source.filter !== undefined) out.filter = filterToJson(def.source.filter);
  return out;
}

function filterToJson(filter: EventFilter): JsonObject {
  return 'prefixes' in filter ? { on: filter.on, prefixes: [...filter.prefixes] } : { on: filter.on, regex: filter.regex };
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pointFromJson(value: JsonValue | undefined): SourcePoint {
  if (!isObject(value)) return undefined;
  if (typeof value.revision === 'string') return BigInt(value.revision);
  if (typeof value.commit === 'string' && typeof value.prepare === 'string') return { commit: BigInt(value.commit), prepare: BigInt(value.prepare) };
  return undefined;
}

/** Parses one entry of a config event; undefined (skipped) when it is not one this engine wrote. */
export function definitionFromJson(value: JsonValue | undefined): GroupDefinition | undefined {
  if (!isObject(value)) return undefined;
  const { kind, source, group, settings, origin, filter } = value;
  if (typeof group !== 'string' || typeof source !== 'string' || !isObject(settings)) return undefined;
  try {
    const subscriptionSource: SubscriptionSource =
      kind === 'all' ? (isObject(filter) ? validateSource({ kind: 'all', filter }) : { kind: 'all' }) : validateSource({ kind: 'stream', stream: source });
    const patch: Record<string, unknown> = { ...settings };
    const startFrom = settings.startFrom;
    patch.startFrom = startFrom === 'start' || startFrom === 'end' ? startFrom : pointFromJson(startFrom);
    const resolved = resolveSettings(subscriptionSource.kind, PERSISTENT_SUBSCRIPTION_DEFAULTS, patch as Partial<PersistentSubscriptionSettings>);
    const parsedOrigin = pointFromJson(origin);
    return {
      source: subscriptionSource,
      group,
      settings: resolved,
      origin: subscriptionSource.kind === 'stream' && parsedOrigin === undefined ? STREAM_ORIGIN : parsedOrigin,
    };
  } catch {
    return undefined;
  }
}
