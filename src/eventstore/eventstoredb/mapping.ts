import * as esdb from '@eventstore/db-client';
import { InvalidArgumentError } from '../errors.js';
import { compileFilterRegex } from '../validation.js';
import {
  ALL_STREAM,
  PERSISTENT_SUBSCRIPTION_DEFAULTS,
  type ConsumerStrategy,
  type Direction,
  type ExpectedRevision,
  type NackAction,
  type EventData,
  type EventFilter,
  type JsonObject,
  type JsonValue,
  type PersistentSubscriptionInfo,
  type PersistentSubscriptionSettings,
  type Position,
  type RecordedEvent,
} from '../port.js';

/** Pure conversions between the port's shapes and @eventstore/db-client 6.2.1's. */

// ---- events ------------------------------------------------------------------------------------

export function toClientEvent(event: EventData): esdb.EventData {
  // The port's JsonValue also allows top-level numbers, booleans and null; the client's JSONType
  // does not, but it only JSON.stringify-s the value, so every JsonValue round-trips.
  return esdb.jsonEvent({ id: event.id, type: event.type, data: event.data as esdb.JSONType, metadata: event.metadata ?? {} });
}

const NO_POSITION: Position = Object.freeze({ commit: 0n, prepare: 0n });

type ClientRecorded = NonNullable<esdb.ResolvedEvent['event']> | NonNullable<esdb.AllStreamResolvedEvent['event']>;
/** What every client read/subscription yields: an event and/or the link that points to it. */
export interface ClientResolved {
  readonly event?: ClientRecorded | undefined;
  readonly link?: ClientRecorded | undefined;
  readonly commitPosition?: bigint | undefined;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function toRecordedEvent(recorded: ClientRecorded, commitPosition?: bigint): RecordedEvent {
  // JSON events arrive parsed (or as the raw string if the bytes are not JSON); binary events
  // (system events such as `$>` links) as bytes, which we expose as UTF-8 text.
  const data: JsonValue = recorded.isJson ? (recorded.data as JsonValue) : Buffer.from(recorded.data).toString('utf8');
  return {
    id: recorded.id,
    type: recorded.type,
    streamId: recorded.streamId,
    revision: recorded.revision,
    // Events read from a stream carry a position on servers >= 22.6 only.
    position: recorded.position ?? (commitPosition !== undefined ? { commit: commitPosition, prepare: commitPosition } : NO_POSITION),
    data,
    metadata: isJsonObject(recorded.metadata) ? recorded.metadata : {},
    created: recorded.created,
  };
}

/** The event a resolved event stands for: the target of a resolved link, else the record itself. */
export function fromResolved(resolved: ClientResolved): RecordedEvent | undefined {
  const recorded = resolved.event ?? resolved.link;
  return recorded === undefined ? undefined : toRecordedEvent(recorded, resolved.commitPosition);
}

// ---- filters -----------------------------------------------------------------------------------

export function toClientFilter(filter: EventFilter): esdb.Filter {
  const make = filter.on === 'eventType' ? esdb.eventTypeFilter : esdb.streamNameFilter;
  return 'regex' in filter ? make({ regex: filter.regex }) : make({ prefixes: [...filter.prefixes] });
}

/** The same predicate as the server-side filter (.NET Regex.IsMatch is unanchored, like RegExp.test). */
export function filterPredicate(filter: EventFilter): (event: RecordedEvent) => boolean {
  const field = (event: RecordedEvent): string => (filter.on === 'eventType' ? event.type : event.streamId);
  if ('regex' in filter) {
    const regex = compileFilterRegex(filter.regex);
    return (event) => regex.test(field(event));
  }
  const prefixes = filter.prefixes;
  return (event) => prefixes.some((prefix) => field(event).startsWith(prefix));
}

// ---- persistent subscription settings ----------------------------------------------------------

type Kind = 'all' | 'stream';

function toClientStartFrom(startFrom: PersistentSubscriptionSettings['startFrom'], kind: 'all'): esdb.PersistentSubscriptionToAllSettings['startFrom'];
function toClientStartFrom(startFrom: PersistentSubscriptionSettings['startFrom'], kind: 'stream'): esdb.PersistentSubscriptionToStreamSettings['startFrom'];
function toClientStartFrom(startFrom: PersistentSubscriptionSettings['startFrom'], kind: Kind): esdb.ReadPosition | esdb.ReadRevision {
  if (startFrom === 'start') return esdb.START;
  if (startFrom === 'end') return esdb.END;
  if (kind === 'all' && typeof startFrom === 'object') return { commit: startFrom.commit, prepare: startFrom.prepare };
  if (kind === 'stream' && typeof startFrom === 'bigint') return startFrom;
  throw new InvalidArgumentError(`startFrom must be 'start', 'end' or a ${kind === 'all' ? 'position' : 'revision'} for a ${kind} subscription`, 'startFrom');
}

function toClientCommon(settings: Partial<PersistentSubscriptionSettings>): Partial<esdb.PersistentSubscriptionToAllSettings> {
  const { startFrom: _startFrom, maxSubscriberCount, ...rest } = settings;
  return {
    ...rest,
    ...(maxSubscriberCount !== undefined ? { maxSubscriberCount: maxSubscriberCount === 0 ? esdb.UNBOUNDED : maxSubscriberCount } : {}),
  };
}

/** Port settings (partial, over the EventStoreDB defaults) → client settings for a $all group. */
export function toClientAllSettings(settings: Partial<PersistentSubscriptionSettings> = {}): esdb.PersistentSubscriptionToAllSettings {
  return esdb.persistentSubscriptionToAllSettingsFromDefaults({
    ...toClientCommon(settings),
    startFrom: toClientStartFrom(settings.startFrom ?? PERSISTENT_SUBSCRIPTION_DEFAULTS.startFrom, 'all'),
  });
}

/** Port settings (partial, over the EventStoreDB defaults) → client settings for a stream group. */
export function toClientStreamSettings(settings: Partial<PersistentSubscriptionSettings> = {}): esdb.PersistentSubscriptionToStreamSettings {
  const { startFrom: _startFrom, ...common } = toClientCommon(settings);
  return esdb.persistentSubscriptionToStreamSettingsFromDefaults({
    ...common,
    startFrom: toClientStartFrom(settings.startFrom ?? PERSISTENT_SUBSCRIPTION_DEFAULTS.startFrom, 'stream'),
  });
}

function toConsumerStrategy(name: string): ConsumerStrategy {
  switch (name) {
    case esdb.ROUND_ROBIN:
    case esdb.DISPATCH_TO_SINGLE:
    case esdb.PINNED:
      return name;
    case 'PinnedByCorrelation':
      return 'Pinned';
    default:
      return 'RoundRobin';
  }
}

function fromClientSettings(settings: esdb.PersistentSubscriptionToAllSettings | esdb.PersistentSubscriptionToStreamSettings): PersistentSubscriptionSettings {
  const { startFrom, maxSubscriberCount, consumerStrategyName, ...rest } = settings;
  return {
    ...rest,
    // The client reports a stream group's startFrom 0n as START, and an unparsable one as undefined.
    startFrom: startFrom ?? 'end',
    maxSubscriberCount: maxSubscriberCount === esdb.UNBOUNDED ? 0 : maxSubscriberCount,
    consumerStrategyName: toConsumerStrategy(consumerStrategyName),
  };
}

type ClientInfo = esdb.PersistentSubscriptionToAllInfo | esdb.PersistentSubscriptionToStreamInfo;

function isAllInfo(info: ClientInfo): info is esdb.PersistentSubscriptionToAllInfo {
  return info.eventSource === ALL_STREAM;
}

/** Client info → port info. The server does not report a $all group's filter, so `filter` stays unset. */
export function fromClientInfo(info: ClientInfo): PersistentSubscriptionInfo {
  const { stats } = info;
  const common = {
    totalItems: Number(stats.totalItems),
    totalInFlightMessages: stats.totalInFlightMessages,
    parkedMessageCount: Number(stats.parkedMessageCount),
    outstandingMessagesCount: stats.outstandingMessagesCount,
    retryBufferCount: stats.retryBufferCount,
  };
  const positions = isAllInfo(info)
    ? { lastCheckpointedPosition: info.stats.lastCheckpointedEventPosition, lastKnownPosition: info.stats.lastKnownEventPosition }
    : { lastCheckpointedRevision: info.stats.lastCheckpointedEventRevision, lastKnownRevision: info.stats.lastKnownEventRevision };
  return {
    eventSource: info.eventSource,
    groupName: info.groupName,
    status: info.status,
    settings: fromClientSettings(info.settings),
    connections: info.connections.map((connection) => ({
      connectionName: connection.connectionName,
      totalItems: Number(connection.totalItems),
      availableSlots: connection.availableSlots,
      inFlightMessages: connection.inFlightMessages,
      averageItemsPerSecond: connection.averageItemsPerSecond,
    })),
    stats: { ...common, ...positions },
  };
}

// ---- small enums -------------------------------------------------------------------------------

export function toClientNackAction(action: NackAction): esdb.PersistentAction {
  switch (action) {
    case 'park':
      return esdb.PARK;
    case 'retry':
      return esdb.RETRY;
    case 'skip':
      return esdb.SKIP;
    case 'stop':
      return esdb.STOP;
  }
}

/** For appends. deleteStream/tombstoneStream in client 6.2.1 do not accept STREAM_EXISTS (see the store). */
export function toClientExpectedRevision(expected: ExpectedRevision): esdb.AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return esdb.ANY;
    case 'no_stream':
      return esdb.NO_STREAM;
    case 'stream_exists':
      return esdb.STREAM_EXISTS;
    default:
      return expected;
  }
}

export function toClientReadPosition(position: 'start' | 'end' | Position): esdb.ReadPosition {
  if (position === 'start') return esdb.START;
  if (position === 'end') return esdb.END;
  return { commit: position.commit, prepare: position.prepare };
}

export function toClientReadRevision(revision: 'start' | 'end' | bigint): esdb.ReadRevision {
  if (revision === 'start') return esdb.START;
  if (revision === 'end') return esdb.END;
  return revision;
}

export function toClientDirection(direction: Direction): esdb.Direction {
  return direction === 'backwards' ? esdb.BACKWARDS : esdb.FORWARDS;
}
