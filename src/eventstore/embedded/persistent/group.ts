import { MaximumSubscribersReachedError, StreamDeletedError, StreamNotFoundError } from '../../errors.js';
import {
  checkpointStreamName,
  type NackAction,
  type ParkedMessage,
  parkedStreamName,
  type PersistentSubscriptionInfo,
  type PersistentSubscriptionSettings,
  type Position,
  type RecordedEvent,
  sourceName,
} from '../../port.js';
import type { EmbeddedStoreInternals } from '../internals.js';
import { Checkpointer, lastEventOf, OrderedTracker } from './checkpointer.js';
import type { Consumer, ConsumerHost, Delivery, Mark, Message, ReplayMark } from './consumer.js';
import { createStrategy, type Strategy } from './consumer-strategies.js';
import { LINK_EVENT_TYPE, ParkedStore, parseLink } from './parked.js';
import { Queue } from './queue.js';
import { allSourcePredicate, type GroupDefinition, type SourcePoint } from './settings.js';

/** Most raw $all events scanned by one read (a filter may reject most of a long $all). */
const SCAN_SLICE = 10_000;
/** Largest single read from the store. */
const MAX_READ = 1_000;
/** Timer period bounds (ms): min(messageTimeout / 4, checkPointAfter, 1 s), at least 10 ms. */
const MAX_TICK = 1_000;
const MIN_TICK = 10;

export interface GroupEnvironment {
  readonly internals: EmbeddedStoreInternals;
  /** The latest $all head the engine has seen. */
  head(): Position | undefined;
}

/**
 * One subscription group's state machine.
 *
 * Messages flow: source → `readBuffer` (bounded by historyBufferSize while catching up,
 * liveBufferSize once live) → a consumer chosen by the strategy (in flight, at most bufferSize per
 * consumer) → ack (done) / nack / timeout / consumer gone → `retryQueue` (served before new events)
 * or the parked stream. `retryQueue` also takes replayed parked messages (retryCount 0).
 *
 * In flight: a Map by event id, in delivery order; all share one messageTimeout, so deadlines are in
 * insertion order and the timer only looks at the expired prefix. Checkpoint: every message read
 * from the source gets a mark in an OrderedTracker; the checkpoint candidate is the point before the
 * first mark not done (or the reader's cursor when none is), so out-of-order acks never move it past
 * a message still in flight, in the retry queue, being parked or not yet read.
 */
export class Group implements ConsumerHost {
  readonly sourceName: string;
  readonly settings: PersistentSubscriptionSettings;
  private readonly consumers: Consumer[] = [];
  private readonly strategy: Strategy<Consumer>;
  private readonly readBuffer = new Queue<Message>();
  private readonly retryQueue = new Queue<Message>();
  private readonly inFlight = new Map<string, Delivery>();
  /** Messages whose event id is already in flight (two events with one id): released when that one settles. */
  private readonly held = new Map<string, Message[]>();
  private readonly marks = new OrderedTracker<Mark>();
  private readonly replayMarks = new OrderedTracker<ReplayMark>();
  private readonly checkpointer: Checkpointer;
  private readonly parked: ParkedStore;
  private readonly accepts: ((event: RecordedEvent) => boolean) | undefined;
  private cursor: SourcePoint;
  /** The reader saw the end of the source and nothing was appended since. */
  private atEnd = false;
  /** The reader caught up with the source (Live) rather than reading history (CatchingUp). */
  private live = false;
  private appendsSeen = 0;
  private reading = false;
  private readScheduled = false;
  private pumpScheduled = false;
  private pumping = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private lastTimeCheck = performance.now();
  private totalItems = 0;
  private replayEnd = 0n;
  private replayChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly env: GroupEnvironment,
    readonly definition: GroupDefinition,
  ) {
    this.sourceName = sourceName(definition.source);
    this.settings = definition.settings;
    this.strategy = createStrategy<Consumer>(definition.settings.consumerStrategyName);
    this.checkpointer = new Checkpointer(env.internals, checkpointStreamName(this.sourceName, definition.group), definition.source.kind);
    this.parked = new ParkedStore(env.internals, parkedStreamName(this.sourceName, definition.group));
    this.accepts = definition.source.kind === 'all' ? allSourcePredicate(definition.source.filter) : undefined;
    this.cursor = definition.origin;
  }

  get group(): string {
    return this.definition.group;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  /** Reads the checkpoint (reading resumes right after it) and the parked-stream bounds. */
  async load(): Promise<void> {
    const checkpoint = await this.checkpointer.load();
    if (checkpoint !== undefined) this.cursor = checkpoint;
    await this.parked.load();
  }

  // ---- consumers ----------------------------------------------------------------------------

  addConsumer(consumer: Consumer): void {
    const max = this.settings.maxSubscriberCount;
    if (max > 0 && this.consumers.length >= max) throw new MaximumSubscribersReachedError(this.sourceName, this.group);
    this.consumers.push(consumer);
    this.strategy.added(consumer);
    consumer.attach(this);
    this.startTimer();
    this.pump();
  }

  detach(consumer: Consumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index < 0) return;
    this.consumers.splice(index, 1);
    this.strategy.removed(consumer);
    if (this.closed) return;
    const lost: Delivery[] = [];
    for (const delivery of this.inFlight.values()) if (delivery.consumer === consumer) lost.push(delivery);
    for (const delivery of lost) {
      this.take(delivery);
      this.retryOrPark(delivery.message);
    }
    this.settled();
  }

  ack(_consumer: Consumer, ids: readonly string[]): void {
    if (this.closed) return;
    for (const id of ids) {
      const delivery = this.lookup(id);
      if (delivery === undefined) continue;
      this.take(delivery);
      this.complete(delivery.message);
    }
    this.settled();
  }

  nack(_consumer: Consumer, action: NackAction, reason: string, ids: readonly string[]): void {
    if (this.closed || action === 'stop') return;
    for (const id of ids) {
      const delivery = this.lookup(id);
      if (delivery === undefined) continue;
      this.take(delivery);
      if (action === 'skip') this.complete(delivery.message);
      else if (action === 'retry') this.retryOrPark(delivery.message);
      else this.park(delivery.message, `Client explicitly NAK'ed message.\n${reason}`);
    }
    this.settled();
  }

  /** Something was appended to the store: the source may have grown. */
  wake(): void {
    this.appendsSeen += 1;
    this.atEnd = false;
    if (this.consumers.length === 0 || this.closed || this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  // ---- dispatch -----------------------------------------------------------------------------

  private lookup(id: unknown): Delivery | undefined {
    if (typeof id !== 'string') return undefined;
    return this.inFlight.get(id) ?? this.inFlight.get(id.toLowerCase());
  }

  /**
   * Hands out what can be handed out, then schedules a read if the buffer runs low. Reads always
   * run from a macrotask (setImmediate): a consumer acking in a tight loop is driven by microtasks
   * only, so this is what lets timers, I/O and the store's commits run between buffers of events.
   */
  private pump(): void {
    if (this.closed || this.pumping) return;
    this.pumping = true;
    try {
      this.dispatch();
    } finally {
      this.pumping = false;
    }
    if (this.wantsRead()) this.scheduleRead();
  }

  private scheduleRead(): void {
    if (this.readScheduled) return;
    this.readScheduled = true;
    setImmediate(() => {
      this.readScheduled = false;
      if (!this.wantsRead()) return;
      if (this.definition.source.kind === 'stream') {
        void this.readStream();
        return;
      }
      try {
        this.readAll();
      } catch {
        // The store failed or closed under the read: try again on the next append or ack.
        return;
      }
      this.pump();
    });
  }

  private bufferLimit(): number {
    return this.live ? this.settings.liveBufferSize : this.settings.historyBufferSize;
  }

  private wantsRead(): boolean {
    if (this.closed || this.atEnd || this.reading || this.consumers.length === 0) return false;
    const length = this.readBuffer.length;
    return length === 0 || this.bufferLimit() - length >= this.settings.readBatchSize;
  }

  private dispatch(): void {
    if (this.consumers.length === 0) return;
    const timeout = this.settings.messageTimeout > 0 ? this.settings.messageTimeout : Number.POSITIVE_INFINITY;
    const deadline = performance.now() + timeout;
    for (;;) {
      const queue = this.retryQueue.length > 0 ? this.retryQueue : this.readBuffer;
      const message = queue.peek();
      if (message === undefined) return;
      const id = message.event.id;
      if (this.inFlight.has(id)) {
        queue.shift();
        const waiting = this.held.get(id);
        if (waiting === undefined) this.held.set(id, [message]);
        else waiting.push(message);
        continue;
      }
      const consumer = this.strategy.pick(this.consumers, message.event.streamId);
      if (consumer === undefined) return;
      queue.shift();
      const delivery: Delivery = { message, consumer, deadline, retryCount: message.retryCount, active: true };
      this.inFlight.set(id, delivery);
      consumer.inFlight += 1;
      consumer.totalItems += 1;
      this.totalItems += 1;
      consumer.deliver(delivery);
    }
  }

  /** Takes a delivery back from its consumer. */
  private take(delivery: Delivery): void {
    delivery.active = false;
    const id = delivery.message.event.id;
    this.inFlight.delete(id);
    delivery.consumer.inFlight -= 1;
    const waiting = this.held.get(id);
    if (waiting !== undefined) {
      const next = waiting.shift();
      if (waiting.length === 0) this.held.delete(id);
      if (next !== undefined) this.retryQueue.push(next);
    }
  }

  /** The message is finished with (acked, skipped or parked). */
  private complete(message: Message): void {
    if (message.mark !== undefined) message.mark.done = true;
    if (message.replay !== undefined) {
      message.replay.done = true;
      this.replayProgress();
    }
    this.checkpointer.completedSinceWrite += 1;
  }

  private settled(): void {
    if (this.closed) return;
    this.maybeCheckpoint(false);
    this.pump();
  }

  private retryOrPark(message: Message): void {
    if (message.retryCount >= this.settings.maxRetryCount) {
      this.park(message, `Reached retry count of ${this.settings.maxRetryCount}`);
    } else {
      message.retryCount += 1;
      this.retryQueue.push(message);
    }
  }

  private park(message: Message, reason: string): void {
    this.parked.park(message.event, reason).then(
      () => {
        this.complete(message);
        this.settled();
      },
      () => {
        // Not parked (the store is closing): the message stays outstanding, so the checkpoint
        // stays before it and it is delivered again after a restart.
      },
    );
  }

  // ---- reading ------------------------------------------------------------------------------

  private enqueue(event: RecordedEvent, before: SourcePoint): void {
    const mark: Mark = { before, done: false };
    this.marks.add(mark);
    this.readBuffer.push({ event, retryCount: 0, mark, replay: undefined });
  }

  /** One synchronous read of $all: until the buffer is full, the end is reached or SCAN_SLICE events were examined. */
  private readAll(): void {
    const accepts = this.accepts ?? (() => true);
    let scanned = 0;
    for (;;) {
      let room = this.bufferLimit() - this.readBuffer.length;
      if (room <= 0) {
        this.live = false;
        return;
      }
      const want = Math.min(Math.max(room, this.settings.readBatchSize), MAX_READ);
      const batch = this.env.internals.readAllAfter(this.cursor as Position | undefined, want);
      let examined = 0;
      for (const event of batch) {
        if (room <= 0) break;
        examined += 1;
        const before = this.cursor;
        this.cursor = event.position;
        if (!accepts(event)) continue;
        this.enqueue(event, before);
        room -= 1;
      }
      scanned += examined;
      if (examined === batch.length && batch.length < want) {
        this.atEnd = true;
        this.live = true;
        return;
      }
      if (room <= 0 || scanned >= SCAN_SLICE) return;
    }
  }

  /** Reads pages of the stream until the buffer is full or the end is reached (at most one buffer's worth). */
  private async readStream(): Promise<void> {
    const { stream } = this.definition.source as { stream: string };
    this.reading = true;
    try {
      let budget = this.bufferLimit();
      while (!this.closed && this.consumers.length > 0 && !this.atEnd && budget > 0) {
        const length = this.readBuffer.length;
        const room = this.bufferLimit() - length;
        if (length > 0 && room < this.settings.readBatchSize) {
          this.live = false;
          break;
        }
        const want = Math.max(1, Math.min(room, budget, MAX_READ));
        const seen = this.appendsSeen;
        const events = await this.readStreamPage(stream, (this.cursor as bigint) + 1n, want);
        if (this.closed) return;
        budget -= want;
        for (const event of events) {
          const before = this.cursor;
          this.cursor = event.revision;
          this.enqueue(this.settings.resolveLinkTos ? await this.resolveLink(event) : event, before);
        }
        if (events.length < want) {
          if (this.appendsSeen === seen) this.atEnd = true;
          this.live = true;
        }
        this.dispatch();
      }
    } catch {
      // The store failed or closed under the read: try again on the next append or ack.
    } finally {
      this.reading = false;
    }
    this.pump();
  }

  private async readStreamPage(stream: string, from: bigint, maxCount: number): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    try {
      for await (const event of this.env.internals.readStream(stream, { fromRevision: from, maxCount })) events.push(event);
    } catch (error) {
      if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return events;
      throw error;
    }
    return events;
  }

  /** With resolveLinkTos, a `$>` link in a stream source is delivered as the event it points to. */
  private async resolveLink(event: RecordedEvent): Promise<RecordedEvent> {
    if (!this.settings.resolveLinkTos || event.type !== LINK_EVENT_TYPE) return event;
    const target = parseLink(event.data);
    if (target === undefined) return event;
    const [resolved] = await this.readStreamPage(target.streamId, target.revision, 1);
    return resolved !== undefined && resolved.revision === target.revision ? resolved : event;
  }

  // ---- timer, checkpoints -------------------------------------------------------------------

  private startTimer(): void {
    if (this.timer !== undefined || this.closed) return;
    const { messageTimeout, checkPointAfter } = this.settings;
    let period = MAX_TICK;
    if (messageTimeout > 0) period = Math.min(period, messageTimeout / 4);
    if (checkPointAfter > 0) period = Math.min(period, checkPointAfter);
    this.timer = setInterval(() => this.tick(), Math.max(MIN_TICK, Math.floor(period)));
    this.timer.unref();
  }

  private tick(): void {
    if (this.closed) return;
    const now = performance.now();
    if (this.inFlight.size > 0) {
      const expired: Delivery[] = [];
      for (const delivery of this.inFlight.values()) {
        if (delivery.deadline > now) break;
        expired.push(delivery);
      }
      for (const delivery of expired) {
        this.take(delivery);
        this.retryOrPark(delivery.message);
      }
    }
    if (now - this.lastTimeCheck >= this.settings.checkPointAfter) {
      this.lastTimeCheck = now;
      this.maybeCheckpoint(true);
    }
    this.pump();
  }

  /** The point just before the lowest message still outstanding, or the reader's cursor when none is. */
  private checkpointCandidate(): SourcePoint {
    const lowest = this.marks.lowest();
    return lowest === undefined ? this.cursor : lowest.before;
  }

  private maybeCheckpoint(timeCheck: boolean): void {
    const threshold = timeCheck ? this.settings.checkPointLowerBound : this.settings.checkPointUpperBound;
    if (this.checkpointer.busy || this.checkpointer.completedSinceWrite < threshold) return;
    const candidate = this.checkpointCandidate();
    if (this.checkpointer.due(candidate, threshold)) void this.checkpointer.write(candidate);
  }

  // ---- parked -------------------------------------------------------------------------------

  private replayProgress(): void {
    const lowest = this.replayMarks.lowest();
    this.parked.replayed(lowest === undefined ? this.replayEnd : lowest.revision);
  }

  /** Queues the parked messages up to `stopAt` (exclusive) ahead of new events, with retryCount 0. */
  replayParked(stopAt: bigint | undefined): Promise<void> {
    const run = this.replayChain.then(async () => {
      if (this.closed) return;
      const entries = await this.parked.takeForReplay(stopAt);
      if (this.closed) return;
      for (const entry of entries) {
        const mark: ReplayMark = { revision: entry.revision, done: entry.event === undefined };
        this.replayMarks.add(mark);
        if (entry.event !== undefined) this.retryQueue.push({ event: entry.event, retryCount: 0, mark: undefined, replay: mark });
        if (entry.revision + 1n > this.replayEnd) this.replayEnd = entry.revision + 1n;
      }
      this.replayProgress();
      this.pump();
    });
    this.replayChain = run.catch(() => undefined);
    return run;
  }

  listParked(maxCount: number): Promise<ParkedMessage[]> {
    return this.parked.list(maxCount);
  }

  // ---- info, shutdown -----------------------------------------------------------------------

  async info(): Promise<PersistentSubscriptionInfo> {
    const connections = this.consumers.map((consumer) => {
      return {
        connectionName: consumer.name,
        totalItems: consumer.totalItems,
        availableSlots: Math.max(0, consumer.freeSlots),
        inFlightMessages: consumer.inFlight,
        averageItemsPerSecond: consumer.averageItemsPerSecond(),
      };
    });
    const base = {
      totalItems: this.totalItems,
      totalInFlightMessages: this.inFlight.size,
      parkedMessageCount: this.parked.count,
      outstandingMessagesCount: this.inFlight.size,
      retryBufferCount: this.retryQueue.length,
    };
    const status = this.closed ? 'Paused' : this.consumers.length === 0 ? 'Idle' : this.live ? 'Live' : 'CatchingUp';
    const checkpoint = this.checkpointer.lastCheckpoint;
    if (this.definition.source.kind === 'all') {
      const lastKnownPosition = this.env.head();
      const info: PersistentSubscriptionInfo = {
        eventSource: this.sourceName,
        groupName: this.group,
        status,
        settings: this.settings,
        connections,
        stats: {
          ...base,
          ...(typeof checkpoint === 'object' ? { lastCheckpointedPosition: checkpoint } : {}),
          ...(lastKnownPosition !== undefined ? { lastKnownPosition } : {}),
        },
      };
      return this.definition.source.filter === undefined ? info : { ...info, filter: this.definition.source.filter };
    }
    const last = await lastEventOf(this.env.internals, this.definition.source.stream);
    const cursor = typeof this.cursor === 'bigint' && this.cursor >= 0n ? this.cursor : undefined;
    const lastKnownRevision = last === undefined ? cursor : cursor !== undefined && cursor > last.revision ? cursor : last.revision;
    return {
      eventSource: this.sourceName,
      groupName: this.group,
      status,
      settings: this.settings,
      connections,
      stats: {
        ...base,
        ...(typeof checkpoint === 'bigint' ? { lastCheckpointedRevision: checkpoint } : {}),
        ...(lastKnownRevision !== undefined ? { lastKnownRevision } : {}),
      },
    };
  }

  /**
   * Stops the group: consumers end (cleanly, or with `failure`), in-flight and buffered messages are
   * dropped (they are after the checkpoint, so a later load delivers them again), parks in progress
   * finish, and with `checkpoint` a final checkpoint is written.
   */
  async shutdown(options: { failure?: Error; checkpoint: boolean }): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const consumer of this.consumers.splice(0)) {
      this.strategy.removed(consumer);
      consumer.end(options.failure);
    }
    for (const delivery of this.inFlight.values()) delivery.active = false;
    this.inFlight.clear();
    this.held.clear();
    this.readBuffer.clear();
    this.retryQueue.clear();
    await this.replayChain;
    await this.parked.settle();
    await this.checkpointer.settle();
    if (options.checkpoint) await this.checkpointer.write(this.checkpointCandidate());
  }

  /** Hides the group's checkpoints and parked links (it was deleted). */
  async erase(): Promise<void> {
    await this.checkpointer.erase();
    await this.parked.erase();
  }
}
