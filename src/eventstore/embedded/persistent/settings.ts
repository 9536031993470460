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

/** The group name, validated (shared rules: src/eventstore/validation.ts). */
export function validateGroupName(group: unknown): string {
  assertGroupName(group);
  return group;
}

export { resolveSettings, validateSource };
import { compileFilterRegex, resolvePersistentSettings as resolveSettings, validateGroupName as assertGroupName, validateSource } from '../../validation.js';

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
  const regex = compileFilterRegex(filter.regex);
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
