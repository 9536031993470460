import { InvalidArgumentError } from '../../errors.js';
import type { NackAction, PersistentEvent, PersistentSubscription, RecordedEvent } from '../../port.js';
import { Queue } from './queue.js';
import type { SourcePoint } from './settings.js';

/** Anything tracked in order until it is done (see OrderedTracker). */
export interface Trackable {
  done: boolean;
}

/** A message's place in the checkpoint order (kept apart from the message so acked events can be collected). */
export interface Mark extends Trackable {
  /** The source point just before this event: the checkpoint while it is the lowest outstanding. */
  readonly before: SourcePoint;
}

/** A replayed parked link: $tb moves past it once its message is settled. */
export interface ReplayMark extends Trackable {
  readonly revision: bigint;
}

/** One message of a group: an event read from the source (`mark`), or a replayed parked one (`replay`). */
export interface Message {
  readonly event: RecordedEvent;
  retryCount: number;
  readonly mark: Mark | undefined;
  readonly replay: ReplayMark | undefined;
}

/** A message handed to one consumer; inactive once acked, nacked, timed out or taken back. */
export interface Delivery {
  readonly message: Message;
  readonly consumer: Consumer;
  readonly deadline: number;
  readonly retryCount: number;
  active: boolean;
}

/** What a consumer calls back into: its group. */
export interface ConsumerHost {
  ack(consumer: Consumer, ids: readonly string[]): void;
  nack(consumer: Consumer, action: NackAction, reason: string, ids: readonly string[]): void;
  detach(consumer: Consumer): void;
}

const NACK_ACTIONS = new Set<string>(['park', 'retry', 'skip', 'stop']);

interface Waiter {
  resolve(result: IteratorResult<PersistentEvent>): void;
  reject(error: unknown): void;
}

/**
 * One connection to a group: the PersistentSubscription handed to the application. Deliveries
 * wait in `outbox` until the application pulls them; they count against `bufferSize` from the
 * moment they are handed over until acked (as on the wire with EventStoreDB). The iterator ends
 * with `done` on unsubscribe or store close, and throws the failure (group missing, deleted,
 * updated, too many subscribers) once, then ends.
 */
export class Consumer implements PersistentSubscription, AsyncIterator<PersistentEvent> {
  inFlight = 0;
  totalItems = 0;
  readonly connectedAt = performance.now();
  private rateSample = { at: performance.now(), items: 0, rate: 0 };
  private readonly outbox = new Queue<Delivery>();
  private readonly waiters: Waiter[] = [];
  private host: ConsumerHost | undefined;
  private ended = false;
  private failure: unknown;

  constructor(
    readonly name: string,
    readonly bufferSize: number,
  ) {}

  get freeSlots(): number {
    return this.bufferSize - this.inFlight;
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** Items per second over roughly the last second or more (sampled when asked). */
  averageItemsPerSecond(): number {
    const now = performance.now();
    const elapsed = now - this.rateSample.at;
    if (elapsed >= 1_000) {
      this.rateSample = { at: now, items: this.totalItems, rate: ((this.totalItems - this.rateSample.items) * 1_000) / elapsed };
    } else if (this.rateSample.rate === 0 && now - this.connectedAt > 0) {
      return Math.round((this.totalItems * 1_000) / Math.max(now - this.connectedAt, 1_000));
    }
    return Math.round(this.rateSample.rate);
  }

  attach(host: ConsumerHost): void {
    this.host = host;
  }

  deliver(delivery: Delivery): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve({ value: { event: delivery.message.event, retryCount: delivery.retryCount }, done: false });
    else this.outbox.push(delivery);
  }

  /** Ends the iterator: cleanly (`failure` undefined) or with `failure` thrown to the next pull. */
  end(failure?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.host = undefined;
    this.outbox.clear();
    this.failure = failure;
    const waiters = this.waiters.splice(0);
    for (const waiter of waiters) {
      if (this.failure !== undefined) {
        waiter.reject(this.failure);
        this.failure = undefined;
      } else {
        waiter.resolve({ value: undefined, done: true });
      }
    }
  }

  next(): Promise<IteratorResult<PersistentEvent>> {
    for (;;) {
      const delivery = this.outbox.shift();
      if (delivery === undefined) break;
      if (delivery.active) return Promise.resolve({ value: { event: delivery.message.event, retryCount: delivery.retryCount }, done: false });
    }
    if (this.ended) {
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        return Promise.reject(failure instanceof Error ? failure : new Error(String(failure)));
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async return(): Promise<IteratorResult<PersistentEvent>> {
    await this.unsubscribe();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterator<PersistentEvent> {
    return this;
  }

  ack(...eventIds: string[]): Promise<void> {
    this.host?.ack(this, eventIds);
    return Promise.resolve();
  }

  nack(action: NackAction, reason: string, ...eventIds: string[]): Promise<void> {
    if (!NACK_ACTIONS.has(action)) return Promise.reject(new InvalidArgumentError(`Unknown nack action '${String(action)}'`, 'action'));
    this.host?.nack(this, action, typeof reason === 'string' ? reason : String(reason), eventIds);
    return Promise.resolve();
  }

  unsubscribe(): Promise<void> {
    const host = this.host;
    this.end();
    host?.detach(this);
    return Promise.resolve();
  }
}
