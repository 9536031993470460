/**
 * A TEST DOUBLE for unit-testing the subscription runner's decisions (ack, retry, park, pause,
 * shutdown) without an event store. It is not a store: it delivers only what a test pushes and
 * records acks and nacks. The runner's integration tests use the embedded store.
 */
import type {
  EventStore,
  NackAction,
  ParkedMessage,
  PersistentEvent,
  PersistentSubscription,
  PersistentSubscriptionInfo,
  RecordedEvent,
  StoreHealth,
} from '../../../src/eventstore/port.js';
import { PERSISTENT_SUBSCRIPTION_DEFAULTS } from '../../../src/eventstore/port.js';

export interface Settlement {
  readonly eventId: string;
  readonly action: 'ack' | NackAction;
  readonly reason?: string;
}

let sequence = 0n;
export function recordedEvent(type = 'test.happened', data: Record<string, string | number> = {}): RecordedEvent {
  sequence += 1n;
  return { id: `evt-${sequence}`, type, streamId: `test-${sequence}`, revision: 0n, position: { commit: sequence, prepare: sequence }, data, metadata: {}, created: new Date() };
}

class ScriptedSubscription implements PersistentSubscription {
  readonly #queue: PersistentEvent[] = [];
  #waiter: ((result: IteratorResult<PersistentEvent>) => void) | undefined;
  closed = false;

  constructor(private readonly owner: ScriptedStore) {}

  deliver(message: PersistentEvent): void {
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter({ value: message, done: false });
    } else this.#queue.push(message);
  }

  /** Messages delivered but not yet pulled by the consumer. */
  drain(): PersistentEvent[] {
    return this.#queue.splice(0);
  }

  [Symbol.asyncIterator](): AsyncIterator<PersistentEvent> {
    return {
      next: () => {
        const message = this.#queue.shift();
        if (message) return Promise.resolve({ value: message, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.#waiter = resolve));
      },
    };
  }

  ack(...eventIds: string[]): Promise<void> {
    for (const eventId of eventIds) this.owner.settle({ eventId, action: 'ack' });
    return Promise.resolve();
  }

  nack(action: NackAction, reason: string, ...eventIds: string[]): Promise<void> {
    for (const eventId of eventIds) this.owner.settle({ eventId, action, reason });
    return Promise.resolve();
  }

  unsubscribe(): Promise<void> {
    this.closed = true;
    this.owner.unsubscribed(this);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
    return Promise.resolve();
  }
}

function notUsed(): never {
  throw new Error('not used by the subscription runner unit tests');
}

/** Hands pushed messages to subscribed consumers round-robin; nack('retry') redelivers with retryCount + 1. */
export class ScriptedStore implements EventStore {
  readonly kind = 'embedded' as const;
  readonly settlements: Settlement[] = [];
  readonly created: string[] = [];
  subscribeCount = 0;
  health: () => Promise<StoreHealth> = () => Promise.resolve({ ok: true });
  readonly #subscriptions: ScriptedSubscription[] = [];
  readonly #pending: PersistentEvent[] = [];
  readonly #events = new Map<string, RecordedEvent>();
  readonly #listeners = new Set<() => void>();
  #next = 0;

  push(event: RecordedEvent, retryCount = 0): void {
    this.#events.set(event.id, event);
    const live = this.#subscriptions.filter((s) => !s.closed);
    if (live.length === 0) {
      this.#pending.push({ event, retryCount });
      return;
    }
    live[this.#next++ % live.length]?.deliver({ event, retryCount });
  }

  settle(settlement: Settlement): void {
    this.settlements.push(settlement);
    if (settlement.action === 'retry') {
      const event = this.#events.get(settlement.eventId);
      if (event) this.#pending.push({ event, retryCount: 1 });
    }
    for (const listener of this.#listeners) listener();
  }

  unsubscribed(subscription: ScriptedSubscription): void {
    // Like the store: what the consumer held un-acked goes back to the queue.
    this.#pending.unshift(...subscription.drain());
    const index = this.#subscriptions.indexOf(subscription);
    if (index >= 0) this.#subscriptions.splice(index, 1);
    for (const listener of this.#listeners) listener();
  }

  get liveSubscriptions(): number {
    return this.#subscriptions.filter((s) => !s.closed).length;
  }

  /** Resolves when `predicate` holds, checked on every settlement and subscription change. */
  until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        clearInterval(poll);
        this.#listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        clearInterval(poll);
        this.#listeners.delete(check);
        reject(new Error(`condition not met within ${timeoutMs} ms; settlements: ${JSON.stringify(this.settlements)}`));
      }, timeoutMs);
      const poll = setInterval(check, 20);
      this.#listeners.add(check);
      check();
    });
  }

  createPersistentSubscription(_source: unknown, group: string): Promise<void> {
    this.created.push(group);
    return Promise.resolve();
  }

  subscribeToPersistentSubscription(): PersistentSubscription {
    this.subscribeCount += 1;
    const subscription = new ScriptedSubscription(this);
    this.#subscriptions.push(subscription);
    for (const message of this.#pending.splice(0)) this.push(message.event, message.retryCount);
    for (const listener of this.#listeners) listener();
    return subscription;
  }

  getPersistentSubscriptionInfo(_source: unknown, group: string): Promise<PersistentSubscriptionInfo> {
    return Promise.resolve({
      eventSource: '$all',
      groupName: group,
      status: 'Live',
      settings: PERSISTENT_SUBSCRIPTION_DEFAULTS,
      connections: [],
      stats: { totalItems: 0, totalInFlightMessages: 0, parkedMessageCount: 0, outstandingMessagesCount: 0, retryBufferCount: 0 },
    });
  }

  async *readAll(): AsyncIterable<RecordedEvent> {}
  async *readStream(): AsyncIterable<RecordedEvent> {}

  append = notUsed;
  deleteStream = notUsed;
  tombstoneStream = notUsed;
  headPosition(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  listParkedMessages(): Promise<ParkedMessage[]> {
    const parked = this.settlements.filter((s) => s.action === 'park');
    return Promise.resolve(parked.flatMap((s) => {
      const event = this.#events.get(s.eventId);
      return event ? [{ event, reason: s.reason ?? '', parkedAt: new Date() }] : [];
    }));
  }
  subscribeToAll = notUsed;
  updatePersistentSubscription = notUsed;
  deletePersistentSubscription = notUsed;
  listPersistentSubscriptions = notUsed;
  replayParkedMessages = notUsed;
  close(): Promise<void> {
    return Promise.resolve();
  }
}
