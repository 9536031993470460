import * as esdb from '@eventstore/db-client';
import { InvalidArgumentError, StoreUnavailableError, StreamNotFoundError, WrongExpectedVersionError } from '../errors.js';
import {
  PERSISTENT_SUBSCRIPTION_DEFAULTS,
  parkedStreamName,
  sourceName,
  type AppendOptions,
  type AppendWriteOptions,
  type AppendResult,
  type CatchUpSubscription,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  type ParkedMessage,
  type PersistentSubscription,
  type PersistentSubscriptionInfo,
  type PersistentSubscriptionSettings,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type ReplayParkedOptions,
  type StoreHealth,
  type SubscribeToAllOptions,
  type SubscribePersistentOptions,
  type SubscriptionSource,
} from '../port.js';
import {
  appendSize,
  prepareEvents,
  validateDirection,
  validateExactRevision,
  validateExpectedRevision,
  validateFilter,
  validateGroupName,
  validateMaxCount,
  validateNotFound,
  validatePosition,
  validatePositiveInteger,
  validateRevision,
  validateSource,
  validateStreamName,
  validateConditions,
  resolvePersistentSettings,
} from '../validation.js';
import { mapError, type ErrorContext } from './errors.js';
import {
  filterPredicate,
  fromClientInfo,
  fromResolved,
  toClientAllSettings,
  toClientDirection,
  toClientEvent,
  toClientExpectedRevision,
  toClientFilter,
  toClientReadPosition,
  toClientReadRevision,
  toClientStreamSettings,
  type ClientResolved,
} from './mapping.js';
import { EsdbCatchUpSubscription, EsdbPersistentSubscription } from './subscriptions.js';

/**
 * The EventStoreDB adapter: a thin mapping of the port onto @eventstore/db-client 6.2.1.
 * Semantics are the server's; the adapter only validates input (shared with the embedded store),
 * converts shapes and maps errors (errors.ts). Where the client lacks something the port has,
 * the method says how it is bridged.
 */
export class EventStoreDbStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  /** EventStoreDB checks one stream per append: see AppendWriteOptions.conditions. */
  readonly conditionalAppends = false;
  #closed = false;
  #serverSendsCaughtUp: Promise<boolean> | undefined;

  private constructor(private readonly client: esdb.EventStoreDBClient) {}

  /** e.g. `esdb://localhost:2113?tls=false`. Connects lazily: the first call reaches the server. */
  static connect(connectionString: string): EventStoreDbStore {
    return new EventStoreDbStore(esdb.EventStoreDBClient.connectionString(connectionString));
  }

  #open(): void {
    if (this.#closed) throw new StoreUnavailableError('The EventStoreDB store is closed');
  }

  async #call<T>(ctx: ErrorContext, action: () => Promise<T>): Promise<T> {
    this.#open();
    try {
      return await action();
    } catch (error) {
      throw mapError(error, ctx);
    }
  }

  /** Iterate a client read, mapping errors; cancel the gRPC call when the consumer stops early. */
  async *#iterate(read: esdb.StreamingRead<ClientResolved>, ctx: ErrorContext): AsyncGenerator<RecordedEvent> {
    let finished = false;
    try {
      for await (const resolved of read) {
        const event = fromResolved(resolved);
        if (event !== undefined) yield event;
      }
      finished = true;
    } catch (error) {
      finished = true;
      throw mapError(error, ctx);
    } finally {
      if (!finished) await read.cancel().catch(() => undefined);
    }
  }

  // ---- streams ---------------------------------------------------------------------------------

  async append(stream: string, events: readonly EventData[], options: AppendWriteOptions = {}): Promise<AppendResult> {
    validateStreamName(stream, false);
    // EventStoreDB checks one stream per append: a condition on another could not be honoured.
    if (validateConditions(stream, options.conditions).length > 0) throw new InvalidArgumentError('EventStoreDB cannot check conditions on other streams (conditionalAppends is false)', 'conditions');
    // The size limit is the server's to enforce (its own setting); we only measure for the error.
    const prepared = prepareEvents(stream, events, Number.POSITIVE_INFINITY);
    const expected = options.expectedRevision ?? 'any';
    validateExpectedRevision(expected);
    const ctx: ErrorContext = { stream, expectedRevision: expected, appendSize: appendSize(prepared) };
    const result = await this.#call(ctx, () =>
      this.client.appendToStream(stream, events.map(toClientEvent), { expectedRevision: toClientExpectedRevision(expected) }),
    );
    // Only reachable with `throwOnAppendFailure=false` in the connection string.
    if (!result.success) {
      throw new WrongExpectedVersionError(stream, expected, result.nextExpectedRevision < 0n ? 'no_stream' : result.nextExpectedRevision);
    }
    // The server reports no position for an idempotent re-append (nothing was written): take the
    // position of the original last event of the batch instead.
    const reported = result.position !== undefined && result.position.commit >= 0n ? result.position : undefined;
    const position = reported ?? (await this.#positionOf(stream, result.nextExpectedRevision));
    return { nextExpectedRevision: result.nextExpectedRevision, position };
  }

  async #positionOf(stream: string, revision: bigint): Promise<Position> {
    if (revision >= 0n) {
      for await (const event of this.readStream(stream, { fromRevision: revision, maxCount: 1 })) return event.position;
    }
    return { commit: 0n, prepare: 0n };
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncGenerator<RecordedEvent> {
    validateStreamName(stream, true);
    const direction = validateDirection(options.direction);
    const fromRevision = validateRevision(options.fromRevision ?? (direction === 'forwards' ? 'start' : 'end'), 'fromRevision');
    const maxCount = validateMaxCount(options.maxCount);
    const notFound = validateNotFound(options.notFound);
    this.#open();
    if (maxCount === 0) return;
    const read = this.client.readStream(stream, {
      fromRevision: toClientReadRevision(fromRevision),
      direction: toClientDirection(direction),
      ...(Number.isFinite(maxCount) ? { maxCount } : {}),
    });
    if (notFound === 'throw') {
      yield* this.#iterate(read, { stream });
      return;
    }
    try {
      yield* this.#iterate(read, { stream });
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
  }

  /**
   * Client 6.2.1's readAll takes no filter, so the port's filter is applied here while streaming,
   * and maxCount counts the events that pass it.
   */
  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    const direction = validateDirection(options.direction);
    const fromPosition = validatePosition(options.fromPosition ?? (direction === 'forwards' ? 'start' : 'end'), 'fromPosition');
    const maxCount = validateMaxCount(options.maxCount);
    const filter = validateFilter(options.filter);
    this.#open();
    if (maxCount === 0) return;
    const read = this.client.readAll({
      fromPosition: toClientReadPosition(fromPosition),
      direction: toClientDirection(direction),
      ...(Number.isFinite(maxCount) && filter === undefined ? { maxCount } : {}),
    });
    if (filter === undefined) {
      yield* this.#iterate(read, {});
      return;
    }
    const matches = filterPredicate(filter);
    let count = 0;
    for await (const event of this.#iterate(read, {})) {
      if (!matches(event)) continue;
      yield event;
      count += 1;
      if (count >= maxCount) return;
    }
  }

  async deleteStream(stream: string, options: AppendOptions = {}): Promise<void> {
    validateStreamName(stream, true);
    const expected = options.expectedRevision ?? 'any';
    validateExpectedRevision(expected);
    const revision = await this.#deleteRevision(stream, expected);
    await this.#call({ stream, expectedRevision: expected }, () => this.client.deleteStream(stream, { expectedRevision: revision }));
  }

  async tombstoneStream(stream: string, options: AppendOptions = {}): Promise<void> {
    validateStreamName(stream, true);
    const expected = options.expectedRevision ?? 'any';
    validateExpectedRevision(expected);
    const revision = await this.#deleteRevision(stream, expected);
    await this.#call({ stream, expectedRevision: expected }, () => this.client.tombstoneStream(stream, { expectedRevision: revision }));
  }

  /**
   * Client 6.2.1's delete/tombstone options accept ANY, NO_STREAM or a revision, not STREAM_EXISTS
   * (the server would). Bridge: read the stream's last revision and expect exactly that. Unlike the
   * server, this also fails if another writer appends between the read and the delete.
   */
  async #deleteRevision(stream: string, expected: ExpectedRevision): Promise<esdb.ExpectedRevision> {
    if (expected !== 'stream_exists') return expected === 'any' ? esdb.ANY : expected === 'no_stream' ? esdb.NO_STREAM : expected;
    try {
      for await (const event of this.readStream(stream, { direction: 'backwards', maxCount: 1 })) return event.revision;
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    throw new WrongExpectedVersionError(stream, 'stream_exists', 'no_stream');
  }

  /** The position of the last event in $all (system events included): readAll backwards, 1 event. */
  async headPosition(): Promise<Position | undefined> {
    for await (const event of this.readAll({ direction: 'backwards', maxCount: 1 })) return event.position;
    return undefined;
  }

  // ---- catch-up subscriptions ------------------------------------------------------------------

  subscribeToAll(options: SubscribeToAllOptions = {}): CatchUpSubscription {
    const fromPosition = validatePosition(options.fromPosition ?? 'end', 'fromPosition');
    const filter = validateFilter(options.filter);
    this.#open();
    const sub = this.client.subscribeToAll({
      fromPosition: toClientReadPosition(fromPosition),
      ...(filter !== undefined ? { filter: toClientFilter(filter) } : {}),
    });
    return new EsdbCatchUpSubscription(sub, this.#caughtUpSupported(), { stream: '$all' });
  }

  /**
   * Whether the server sends 'caughtUp' (23.10+). The version is only known to the client's
   * protected `capabilities` (the server-features call it makes anyway), so read it from there.
   */
  #caughtUpSupported(): Promise<boolean> {
    this.#serverSendsCaughtUp ??= (async () => {
      const client = this.client as unknown as { readonly capabilities: Promise<{ readonly serverVersion: string }> };
      const match = /^(\d+)\.(\d+)/.exec((await client.capabilities).serverVersion);
      if (match === null) return false;
      const [major, minor] = [Number(match[1]), Number(match[2])];
      return major > 23 || (major === 23 && minor >= 10);
    })();
    this.#serverSendsCaughtUp.catch(() => {
      this.#serverSendsCaughtUp = undefined; // ask again next time
    });
    return this.#serverSendsCaughtUp;
  }

  // ---- persistent subscriptions ----------------------------------------------------------------

  /** Validates source and group; the error context for the call. */
  #group(source: SubscriptionSource, group: string): ErrorContext {
    validateSource(source);
    validateGroupName(group);
    return { source: sourceName(source), group };
  }

  async createPersistentSubscription(source: SubscriptionSource, group: string, patch: Partial<PersistentSubscriptionSettings> = {}): Promise<void> {
    const ctx = this.#group(source, group);
    const settings = resolvePersistentSettings(source.kind, PERSISTENT_SUBSCRIPTION_DEFAULTS, patch);
    if (source.kind === 'all') {
      const filter = source.filter !== undefined ? { filter: toClientFilter(source.filter) } : {};
      await this.#call(ctx, () => this.client.createPersistentSubscriptionToAll(group, toClientAllSettings(settings), filter));
    } else {
      await this.#call(ctx, () => this.client.createPersistentSubscriptionToStream(source.stream, group, toClientStreamSettings(settings)));
    }
  }

  /**
   * The server replaces the whole configuration on update; the port changes only the given
   * settings. Bridge: read the group's current settings, overlay `patch`, send the result. A $all
   * group's filter cannot be changed (the server does not support it).
   */
  async updatePersistentSubscription(source: SubscriptionSource, group: string, patch: Partial<PersistentSubscriptionSettings>): Promise<void> {
    const ctx = this.#group(source, group);
    const current = await this.getPersistentSubscriptionInfo(source, group);
    const settings = resolvePersistentSettings(source.kind, current.settings, patch);
    if (source.kind === 'all') {
      await this.#call(ctx, () => this.client.updatePersistentSubscriptionToAll(group, toClientAllSettings(settings)));
    } else {
      await this.#call(ctx, () => this.client.updatePersistentSubscriptionToStream(source.stream, group, toClientStreamSettings(settings)));
    }
  }

  async deletePersistentSubscription(source: SubscriptionSource, group: string): Promise<void> {
    const ctx = this.#group(source, group);
    await this.#call(ctx, () =>
      source.kind === 'all' ? this.client.deletePersistentSubscriptionToAll(group) : this.client.deletePersistentSubscriptionToStream(source.stream, group),
    );
  }

  async listPersistentSubscriptions(): Promise<PersistentSubscriptionInfo[]> {
    const infos = await this.#call({}, () => this.client.listAllPersistentSubscriptions());
    return infos.map(fromClientInfo);
  }

  async getPersistentSubscriptionInfo(source: SubscriptionSource, group: string): Promise<PersistentSubscriptionInfo> {
    const ctx = this.#group(source, group);
    const info = await this.#call<esdb.PersistentSubscriptionToAllInfo | esdb.PersistentSubscriptionToStreamInfo>(ctx, () =>
      source.kind === 'all'
        ? this.client.getPersistentSubscriptionToAllInfo(group)
        : this.client.getPersistentSubscriptionToStreamInfo(source.stream, group),
    );
    return fromClientInfo(info);
  }

  subscribeToPersistentSubscription(source: SubscriptionSource, group: string, options: SubscribePersistentOptions = {}): PersistentSubscription {
    const ctx = this.#group(source, group);
    if (options.bufferSize !== undefined) validatePositiveInteger(options.bufferSize, 'bufferSize');
    this.#open();
    const clientOptions = options.bufferSize !== undefined ? { bufferSize: options.bufferSize } : {};
    const sub =
      source.kind === 'all'
        ? this.client.subscribeToPersistentSubscriptionToAll(group, clientOptions)
        : this.client.subscribeToPersistentSubscriptionToStream(source.stream, group, clientOptions);
    return new EsdbPersistentSubscription(sub, ctx);
  }

  /**
   * Reads the parked stream `$persistentsubscription-{source}::{group}-parked`, resolving its links:
   * the event is the original, the reason the link's metadata `Reason`, parkedAt its `Added`.
   * A group that never parked anything has no parked stream: that is an empty list.
   */
  async listParkedMessages(source: SubscriptionSource, group: string, options: { maxCount?: number } = {}): Promise<ParkedMessage[]> {
    const ctx = this.#group(source, group);
    const maxCount = validateMaxCount(options.maxCount);
    this.#open();
    if (maxCount === 0) return [];
    const stream = parkedStreamName(sourceName(source), group);
    const read = this.client.readStream(stream, {
      fromRevision: esdb.START,
      resolveLinkTos: true,
      ...(Number.isFinite(maxCount) ? { maxCount } : {}),
    });
    const parked: ParkedMessage[] = [];
    try {
      for await (const resolved of read) {
        if (resolved.event === undefined) continue; // the parked event has since been deleted
        const link = resolved.link;
        const metadata = link?.metadata;
        const fields = typeof metadata === 'object' && metadata !== null && !(metadata instanceof Uint8Array) && !Array.isArray(metadata) ? metadata : {};
        const added = typeof fields['Added'] === 'string' ? new Date(fields['Added']) : undefined;
        const event = fromResolved({ event: resolved.event, commitPosition: resolved.commitPosition });
        if (event === undefined) continue;
        parked.push({
          event,
          reason: typeof fields['Reason'] === 'string' ? fields['Reason'] : '',
          parkedAt: added !== undefined && !Number.isNaN(added.getTime()) ? added : (link?.created ?? event.created),
        });
      }
    } catch (error) {
      if (error instanceof esdb.StreamNotFoundError) return [];
      throw mapError(error, { ...ctx, stream });
    }
    return parked;
  }

  async replayParkedMessages(source: SubscriptionSource, group: string, options: ReplayParkedOptions = {}): Promise<void> {
    const ctx = this.#group(source, group);
    if (options.stopAt !== undefined) validateExactRevision(options.stopAt, 'stopAt');
    const replayOptions = options.stopAt !== undefined ? { stopAt: options.stopAt } : {};
    await this.#call(ctx, () =>
      source.kind === 'all'
        ? this.client.replayParkedMessagesToAll(group, replayOptions)
        : this.client.replayParkedMessagesToStream(source.stream, group, replayOptions),
    );
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** A cheap read: the last event of $all. */
  async health(): Promise<StoreHealth> {
    try {
      await this.headPosition();
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.dispose();
  }
}
