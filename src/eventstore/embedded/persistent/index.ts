import { randomUUID } from 'node:crypto';
import {
  InvalidArgumentError,
  PersistentSubscriptionDoesNotExistError,
  PersistentSubscriptionDroppedError,
  PersistentSubscriptionExistsError,
  StoreUnavailableError,
} from '../../errors.js';
import {
  type JsonValue,
  type ParkedMessage,
  PERSISTENT_SUBSCRIPTION_DEFAULTS,
  type PersistentSubscription,
  type PersistentSubscriptionInfo,
  type PersistentSubscriptionSettings,
  type Position,
  type ReplayParkedOptions,
  type SubscribePersistentOptions,
  type SubscriptionSource,
  sourceName,
} from '../../port.js';
import type { EmbeddedStoreInternals } from '../internals.js';
import { lastEventOf } from './checkpointer.js';
import { Consumer } from './consumer.js';
import { Group, type GroupEnvironment } from './group.js';
import {
  CONFIG_EVENT_TYPE,
  CONFIG_STREAM,
  definitionFromJson,
  definitionToJson,
  type GroupDefinition,
  groupKey,
  pointBefore,
  resolveSettings,
  type SourcePoint,
  STREAM_ORIGIN,
  validateGroupName,
  validateSource,
} from './settings.js';

export { CONFIG_STREAM } from './settings.js';

const DEFAULT_CONSUMER_BUFFER = 10;

/**
 * The embedded store's persistent subscriptions, mirroring EventStoreDB 24.10 (see
 * shared/spec/eventstoredb-semantics.md). The store core creates one per open store, calls
 * `start()` at the end of open() and `close()` on close, and delegates the port's persistent
 * subscription methods here.
 *
 * State lives in the store itself, as in EventStoreDB: group definitions in
 * `$persistentSubscriptionConfig` (one full-config event per create/update/delete; the last one
 * is read by start()), checkpoints in `$persistentsubscription-{source}::{group}-checkpoint`,
 * parked messages in `...-parked`.
 *
 * Choices where EventStoreDB leaves room (all covered by tests):
 * - close() writes a final checkpoint for every group (EventStoreDB does on shutdown): after a
 *   clean reopen only messages that were in flight / unacked are delivered again; after a crash,
 *   everything after the last periodic checkpoint is (at-least-once either way).
 * - updatePersistentSubscription merges the given settings over the current ones and, like
 *   EventStoreDB, restarts the group: its consumers' iterators throw
 *   PersistentSubscriptionDroppedError (resubscribe), a checkpoint is written first and the new
 *   group resumes from it. A changed startFrom only matters while no checkpoint exists. The filter
 *   of a $all group cannot be changed.
 * - deletePersistentSubscription ends its consumers' iterators with
 *   PersistentSubscriptionDroppedError and hides (via $tb) its checkpoint and parked streams, so a
 *   group created again under the same name starts afresh.
 * - startFrom 'end' is resolved when the group is created (kept in the config), so events appended
 *   between creation and a restart are not skipped even before the first checkpoint.
 * - Status: 'Idle' without consumers (nothing is read then), 'Live' once the reader has caught up
 *   with the source, 'CatchingUp' before.
 * - A replay takes the parked links out of parkedMessageCount/listParkedMessages at once, but the
 *   parked stream's $tb only moves past a link once its replayed message is acked, skipped or parked
 *   again: a close or crash during a replay loses nothing (the links are parked again on reopen).
 * - messageTimeout 0 means messages never time out.
 */
export class EmbeddedPersistentSubscriptions {
  private readonly groups = new Map<string, Group>();
  private readonly env: GroupEnvironment;
  private head: Position | undefined;
  private unlisten: (() => void) | undefined;
  private state: 'new' | 'starting' | 'open' | 'closed' = 'new';
  private readonly ready: Promise<void>;
  private markReady: () => void = () => undefined;
  private admin: Promise<unknown> = Promise.resolve();
  private connections = 0;

  constructor(private readonly internals: EmbeddedStoreInternals) {
    this.env = { internals, head: () => this.head };
    this.ready = new Promise<void>((resolve) => {
      this.markReady = resolve;
    });
  }

  /** Loads every group definition with its checkpoint and parked-stream bounds, and starts following appends. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    try {
      this.head = await this.internals.headPosition();
      this.unlisten = this.internals.onAppended((head) => this.onAppended(head));
      const definitions = await this.readConfig();
      const groups = definitions.map((definition) => new Group(this.env, definition));
      await Promise.all(groups.map((group) => group.load()));
      for (const group of groups) this.groups.set(groupKey(group.sourceName, group.group), group);
      if (this.state === 'starting') this.state = 'open';
    } finally {
      this.markReady();
    }
  }

  /** Stops every group: timers stop, consumers' iterators end (done), a final checkpoint is written. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasStarting = this.state === 'starting';
    this.state = 'closed';
    if (wasStarting) await this.ready;
    this.unlisten?.();
    this.unlisten = undefined;
    await this.admin;
    const groups = [...this.groups.values()];
    this.groups.clear();
    await Promise.all(groups.map((group) => group.shutdown({ checkpoint: true }).catch(() => undefined)));
  }

  async createPersistentSubscription(source: SubscriptionSource, group: string, settings?: Partial<PersistentSubscriptionSettings>): Promise<void> {
    const src = validateSource(source);
    const name = validateGroupName(group);
    const resolved = resolveSettings(src.kind, PERSISTENT_SUBSCRIPTION_DEFAULTS, settings);
    await this.whenOpen();
    return this.exclusive(async () => {
      const key = groupKey(sourceName(src), name);
      if (this.groups.has(key)) throw new PersistentSubscriptionExistsError(sourceName(src), name);
      const definition: GroupDefinition = { source: src, group: name, settings: resolved, origin: await this.resolveOrigin(src, resolved.startFrom) };
      const created = new Group(this.env, definition);
      // Leftovers of an earlier group of this name (deleted, or lost before its config was written).
      await created.erase();
      await this.writeConfig([...this.definitions(), definition]);
      this.groups.set(key, created);
    });
  }

  async updatePersistentSubscription(source: SubscriptionSource, group: string, settings: Partial<PersistentSubscriptionSettings>): Promise<void> {
    const src = validateSource(source);
    const name = validateGroupName(group);
    await this.whenOpen();
    return this.exclusive(async () => {
      const key = groupKey(sourceName(src), name);
      const current = this.groups.get(key);
      if (current === undefined) throw new PersistentSubscriptionDoesNotExistError(sourceName(src), name);
      const resolved = resolveSettings(src.kind, current.settings, settings);
      const old = current.definition;
      const origin = sameStartFrom(resolved.startFrom, old.settings.startFrom) ? old.origin : await this.resolveOrigin(old.source, resolved.startFrom);
      const definition: GroupDefinition = { ...old, settings: resolved, origin };
      await this.writeConfig(this.definitions().map((d) => (d === old ? definition : d)));
      await current.shutdown({ failure: new PersistentSubscriptionDroppedError(sourceName(src), name, 'the subscription group was updated'), checkpoint: true });
      const restarted = new Group(this.env, definition);
      await restarted.load();
      this.groups.set(key, restarted);
    });
  }

  async deletePersistentSubscription(source: SubscriptionSource, group: string): Promise<void> {
    const src = validateSource(source);
    const name = validateGroupName(group);
    await this.whenOpen();
    return this.exclusive(async () => {
      const key = groupKey(sourceName(src), name);
      const current = this.groups.get(key);
      if (current === undefined) throw new PersistentSubscriptionDoesNotExistError(sourceName(src), name);
      await this.writeConfig(this.definitions().filter((d) => d !== current.definition));
      this.groups.delete(key);
      await current.shutdown({ failure: new PersistentSubscriptionDroppedError(sourceName(src), name, 'the subscription group was deleted'), checkpoint: false });
      await current.erase();
    });
  }

  async listPersistentSubscriptions(): Promise<PersistentSubscriptionInfo[]> {
    await this.whenOpen();
    return Promise.all([...this.groups.values()].map((group) => group.info()));
  }

  async getPersistentSubscriptionInfo(source: SubscriptionSource, group: string): Promise<PersistentSubscriptionInfo> {
    return (await this.find(source, group)).info();
  }

  /** Invalid arguments throw at once (InvalidArgumentError); a missing group, too many subscribers or a closed store surface from the iterator. */
  subscribeToPersistentSubscription(source: SubscriptionSource, group: string, options?: SubscribePersistentOptions): PersistentSubscription {
    const bufferSize = options?.bufferSize ?? DEFAULT_CONSUMER_BUFFER;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1) throw new InvalidArgumentError(`bufferSize must be a positive integer (got ${String(bufferSize)})`, 'bufferSize');
    const src = validateSource(source);
    const name = validateGroupName(group);
    const key = groupKey(sourceName(src), name);
    this.connections += 1;
    const consumer = new Consumer(`embedded-${this.connections}`, bufferSize);
    let waited = false;
    const connect = (): void => {
      if (!consumer.isOpen) return;
      if (this.state !== 'open') {
        consumer.end(new StoreUnavailableError('The event store is closed'));
        return;
      }
      const target = this.groups.get(key);
      if (target === undefined) {
        consumer.end(new PersistentSubscriptionDoesNotExistError(sourceName(src), name));
      } else if (target.isClosed) {
        if (waited) {
          consumer.end(new PersistentSubscriptionDroppedError(sourceName(src), name, 'the subscription group failed to restart'));
          return;
        }
        // Being restarted by an update: connect to its successor.
        waited = true;
        void this.admin.then(connect);
      } else {
        try {
          target.addConsumer(consumer);
        } catch (error) {
          consumer.end(error);
        }
      }
    };
    if (this.state === 'starting') void this.ready.then(connect);
    else connect();
    return consumer;
  }

  async listParkedMessages(source: SubscriptionSource, group: string, options?: { maxCount?: number }): Promise<ParkedMessage[]> {
    const maxCount = options?.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(maxCount) || maxCount < 0) throw new InvalidArgumentError(`maxCount must be a non-negative integer (got ${String(maxCount)})`, 'maxCount');
    return (await this.find(source, group)).listParked(maxCount);
  }

  async replayParkedMessages(source: SubscriptionSource, group: string, options?: ReplayParkedOptions): Promise<void> {
    const stopAt = options?.stopAt;
    if (stopAt !== undefined && (typeof stopAt !== 'bigint' || stopAt < 0n)) throw new InvalidArgumentError('stopAt must be a non-negative bigint', 'stopAt');
    const target = await this.find(source, group);
    await this.exclusive(() => target.replayParked(stopAt));
  }

  // ---- internals ----------------------------------------------------------------------------

  private onAppended(head: Position): void {
    this.head = head;
    for (const group of this.groups.values()) group.wake();
  }

  private async whenOpen(): Promise<void> {
    if (this.state === 'starting') await this.ready;
    if (this.state !== 'open') throw new StoreUnavailableError(this.state === 'new' ? 'Persistent subscriptions are not started' : 'The event store is closed');
  }

  private async find(source: SubscriptionSource, group: string): Promise<Group> {
    const src = validateSource(source);
    const name = validateGroupName(group);
    await this.whenOpen();
    const found = this.groups.get(groupKey(sourceName(src), name));
    if (found === undefined) throw new PersistentSubscriptionDoesNotExistError(sourceName(src), name);
    return found;
  }

  /** Admin operations run one at a time (each rewrites the whole config). */
  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.admin.then(operation);
    this.admin = run.catch(() => undefined);
    return run;
  }

  private definitions(): GroupDefinition[] {
    return [...this.groups.values()].map((group) => group.definition);
  }

  private async resolveOrigin(source: SubscriptionSource, startFrom: PersistentSubscriptionSettings['startFrom']): Promise<SourcePoint> {
    if (source.kind === 'all') {
      if (startFrom === 'start') return undefined;
      if (startFrom === 'end') return this.internals.headPosition();
      return typeof startFrom === 'object' ? pointBefore(startFrom) : undefined;
    }
    if (startFrom === 'start') return STREAM_ORIGIN;
    if (startFrom === 'end') return (await lastEventOf(this.internals, source.stream))?.revision ?? STREAM_ORIGIN;
    return typeof startFrom === 'bigint' ? startFrom - 1n : STREAM_ORIGIN;
  }

  private async readConfig(): Promise<GroupDefinition[]> {
    const event = await lastEventOf(this.internals, CONFIG_STREAM);
    const data = event?.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data) || !Array.isArray(data.entries)) return [];
    const definitions: GroupDefinition[] = [];
    for (const entry of data.entries) {
      const definition = definitionFromJson(entry);
      if (definition !== undefined) definitions.push(definition);
    }
    return definitions;
  }

  private async writeConfig(definitions: readonly GroupDefinition[]): Promise<void> {
    const data: JsonValue = { version: 1, updated: new Date().toISOString(), entries: definitions.map(definitionToJson) };
    await this.internals.appendSystem(CONFIG_STREAM, [{ id: randomUUID(), type: CONFIG_EVENT_TYPE, data }], 'any');
  }
}

function sameStartFrom(a: PersistentSubscriptionSettings['startFrom'], b: PersistentSubscriptionSettings['startFrom']): boolean {
  if (typeof a === 'object' && typeof b === 'object') return a.commit === b.commit && a.prepare === b.prepare;
  return a === b;
}
