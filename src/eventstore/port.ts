/**
 * The event store port. The engine above this file never knows whether it talks to EventStoreDB
 * (production) or the embedded SQLite store (development, tests). Names follow
 * @eventstore/db-client 6.x; behaviour follows EventStoreDB 24.10 (see
 * shared/spec/eventstoredb-semantics.md). Both adapters are proven by test/eventstore/contract.
 */

export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** A position in $all. On the embedded store commit === prepare === the global sequence. */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** An event to append. `id` is a uuid chosen by the writer: it is what makes appends idempotent. */
export interface EventData {
  readonly id: string;
  readonly type: string;
  readonly data: JsonValue;
  readonly metadata?: JsonObject;
}

export interface RecordedEvent {
  readonly id: string;
  readonly type: string;
  readonly streamId: string;
  /** 0-based revision within the stream. */
  readonly revision: bigint;
  readonly position: Position;
  readonly data: JsonValue;
  readonly metadata: JsonObject;
  readonly created: Date;
}

export interface AppendOptions {
  readonly expectedRevision?: ExpectedRevision;
}

/** Another stream an append depends on (see AppendWriteOptions.conditions). */
export interface AppendCondition {
  readonly stream: string;
  /** The stream's last revision when the decision was made: it must still be the last one, and the stream not deleted. */
  readonly revision: bigint;
}

export interface AppendWriteOptions extends AppendOptions {
  /**
   * Streams the appended events were decided on, besides their own: the append writes only if
   * each is still at its revision (and not deleted) when it commits, checked in the same
   * transaction; otherwise it fails with ConditionFailedError and writes nothing. A decision on a
   * cached state is then exactly as good as one on a fresh read, without the read. An idempotent
   * replay (all the events exist already) returns its original result unchecked. Only stores whose
   * `conditionalAppends` is true accept conditions (the embedded store: EventStoreDB has no
   * multi-stream check); the others refuse them with InvalidArgumentError.
   */
  readonly conditions?: readonly AppendCondition[];
}

export interface AppendResult {
  /** Revision of the last event of the stream after the append (of the batch, or the originals on an idempotent re-append). */
  readonly nextExpectedRevision: bigint;
  readonly position: Position;
}

export type Direction = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  /** Inclusive. Default 'start' forwards, 'end' backwards. */
  readonly fromRevision?: 'start' | 'end' | bigint;
  readonly direction?: Direction;
  readonly maxCount?: number;
  /**
   * A stream that does not exist (never written, or soft-deleted): 'throw' StreamNotFoundError
   * (the default, as EventStoreDB) or read it as 'empty', for callers that fold a missing stream
   * as an empty history (no error is built on their hot path). A hard-deleted stream still throws
   * StreamDeletedError.
   */
  readonly notFound?: 'throw' | 'empty';
}

/** EventStoreDB's server-side filter: by event type or stream name, prefixes or one regex. */
export type EventFilter =
  | { readonly on: 'eventType'; readonly prefixes: readonly string[] }
  | { readonly on: 'eventType'; readonly regex: string }
  | { readonly on: 'streamName'; readonly prefixes: readonly string[] }
  | { readonly on: 'streamName'; readonly regex: string };

/** EventStoreDB's excludeSystemEvents(): event type regex ^[^$].* */
export const EXCLUDE_SYSTEM_EVENTS: EventFilter = { on: 'eventType', regex: '^[^$].*' };

export interface ReadAllOptions {
  /** Inclusive for reads (as readAll in EventStoreDB). Default 'start' forwards, 'end' backwards. */
  readonly fromPosition?: 'start' | 'end' | Position;
  readonly direction?: Direction;
  readonly maxCount?: number;
  readonly filter?: EventFilter;
}

export interface SubscribeToAllOptions {
  /** Exclusive: the first event delivered is the one after this position. Default 'end'. */
  readonly fromPosition?: 'start' | 'end' | Position;
  readonly filter?: EventFilter;
}

/** A catch-up subscription: history after the start point, then live events, until unsubscribed. */
export interface CatchUpSubscription extends AsyncIterable<RecordedEvent> {
  /** Resolves once the subscription has delivered all history known when it started. */
  readonly caughtUp: Promise<void>;
  unsubscribe(): Promise<void>;
}

export type ConsumerStrategy = 'RoundRobin' | 'DispatchToSingle' | 'Pinned';

/** EventStoreDB names and defaults (PERSISTENT_SUBSCRIPTION_DEFAULTS). Durations in milliseconds. */
export interface PersistentSubscriptionSettings {
  /** For $all groups a Position; for stream groups a revision. */
  readonly startFrom: 'start' | 'end' | Position | bigint;
  readonly resolveLinkTos: boolean;
  readonly extraStatistics: boolean;
  readonly messageTimeout: number;
  readonly maxRetryCount: number;
  readonly checkPointAfter: number;
  readonly checkPointLowerBound: number;
  readonly checkPointUpperBound: number;
  /** 0 = unbounded. */
  readonly maxSubscriberCount: number;
  readonly liveBufferSize: number;
  readonly readBatchSize: number;
  readonly historyBufferSize: number;
  readonly consumerStrategyName: ConsumerStrategy;
}

export const PERSISTENT_SUBSCRIPTION_DEFAULTS: PersistentSubscriptionSettings = Object.freeze({
  startFrom: 'end',
  resolveLinkTos: false,
  extraStatistics: false,
  messageTimeout: 30_000,
  maxRetryCount: 10,
  checkPointAfter: 2_000,
  checkPointLowerBound: 10,
  checkPointUpperBound: 1_000,
  maxSubscriberCount: 0,
  liveBufferSize: 500,
  readBatchSize: 20,
  historyBufferSize: 500,
  consumerStrategyName: 'RoundRobin',
});

/** Which events a persistent subscription group reads: all of $all (optionally filtered), or one stream. */
export type SubscriptionSource = { readonly kind: 'all'; readonly filter?: EventFilter } | { readonly kind: 'stream'; readonly stream: string };

export const ALL_STREAM = '$all';

export function sourceName(source: SubscriptionSource): string {
  return source.kind === 'all' ? ALL_STREAM : source.stream;
}

export function parkedStreamName(source: string, group: string): string {
  return `$persistentsubscription-${source}::${group}-parked`;
}

export function checkpointStreamName(source: string, group: string): string {
  return `$persistentsubscription-${source}::${group}-checkpoint`;
}

export interface PersistentEvent {
  readonly event: RecordedEvent;
  /** 0 on first delivery and again after a parked-message replay. */
  readonly retryCount: number;
}

export type NackAction = 'park' | 'retry' | 'skip' | 'stop';

export interface PersistentSubscription extends AsyncIterable<PersistentEvent> {
  ack(...eventIds: string[]): Promise<void>;
  nack(action: NackAction, reason: string, ...eventIds: string[]): Promise<void>;
  /** Un-acked in-flight messages are redelivered to other consumers (or after a resubscribe). */
  unsubscribe(): Promise<void>;
}

export interface SubscribePersistentOptions {
  /** How many un-acked messages this consumer may hold (client default 10). */
  readonly bufferSize?: number;
}

export type PersistentSubscriptionStatus = 'Live' | 'CatchingUp' | 'Idle' | 'Paused';

export interface PersistentSubscriptionConnectionInfo {
  readonly connectionName: string;
  readonly totalItems: number;
  readonly availableSlots: number;
  readonly inFlightMessages: number;
  readonly averageItemsPerSecond: number;
}

export interface PersistentSubscriptionInfo {
  readonly eventSource: string;
  readonly groupName: string;
  readonly status: string;
  readonly settings: PersistentSubscriptionSettings;
  readonly filter?: EventFilter;
  readonly connections: readonly PersistentSubscriptionConnectionInfo[];
  readonly stats: {
    readonly totalItems: number;
    readonly totalInFlightMessages: number;
    readonly parkedMessageCount: number;
    readonly outstandingMessagesCount: number;
    readonly retryBufferCount: number;
    /** $all groups: positions; stream groups: revisions (as bigint in `revision`). */
    readonly lastCheckpointedPosition?: Position;
    readonly lastKnownPosition?: Position;
    readonly lastCheckpointedRevision?: bigint;
    readonly lastKnownRevision?: bigint;
  };
}

export interface ParkedMessage {
  readonly event: RecordedEvent;
  readonly reason: string;
  readonly parkedAt: Date;
}

export interface ReplayParkedOptions {
  /** Replay parked messages up to this parked-stream revision (exclusive); default all. */
  readonly stopAt?: bigint;
}

export interface StoreHealth {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface EventStore {
  readonly kind: 'embedded' | 'eventstoredb';
  /** Whether append accepts AppendWriteOptions.conditions (absent: it does not). */
  readonly conditionalAppends?: boolean;

  append(stream: string, events: readonly EventData[], options?: AppendWriteOptions): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /** Soft delete: reads give StreamNotFound; a later append continues numbering. */
  deleteStream(stream: string, options?: AppendOptions): Promise<void>;
  /** Hard delete: reads and appends fail with StreamDeleted forever. */
  tombstoneStream(stream: string, options?: AppendOptions): Promise<void>;
  /** The position of the last event in $all, or undefined for an empty store. */
  headPosition(): Promise<Position | undefined>;

  subscribeToAll(options?: SubscribeToAllOptions): CatchUpSubscription;

  createPersistentSubscription(source: SubscriptionSource, group: string, settings?: Partial<PersistentSubscriptionSettings>): Promise<void>;
  updatePersistentSubscription(source: SubscriptionSource, group: string, settings: Partial<PersistentSubscriptionSettings>): Promise<void>;
  deletePersistentSubscription(source: SubscriptionSource, group: string): Promise<void>;
  listPersistentSubscriptions(): Promise<PersistentSubscriptionInfo[]>;
  getPersistentSubscriptionInfo(source: SubscriptionSource, group: string): Promise<PersistentSubscriptionInfo>;
  subscribeToPersistentSubscription(source: SubscriptionSource, group: string, options?: SubscribePersistentOptions): PersistentSubscription;
  listParkedMessages(source: SubscriptionSource, group: string, options?: { maxCount?: number }): Promise<ParkedMessage[]>;
  replayParkedMessages(source: SubscriptionSource, group: string, options?: ReplayParkedOptions): Promise<void>;

  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}
