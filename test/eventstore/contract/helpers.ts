import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CatchUpSubscription, EventData, EventStore, JsonObject, JsonValue, Position, RecordedEvent } from '../../../src/eventstore/port.js';

export function newEvent(type: string, data: JsonValue = {}, metadata?: JsonObject): EventData {
  return metadata === undefined ? { id: randomUUID(), type, data } : { id: randomUUID(), type, data, metadata };
}

export function newEvents(type: string, count: number, data: (i: number) => JsonValue = (i) => ({ i })): EventData[] {
  return Array.from({ length: count }, (_, i) => newEvent(type, data(i)));
}

export async function collect<T>(iterable: AsyncIterable<T>, limit = Number.POSITIVE_INFINITY): Promise<T[]> {
  const items: T[] = [];
  if (limit <= 0) return items;
  for await (const item of iterable) {
    items.push(item);
    if (items.length >= limit) break;
  }
  return items;
}

/** Runs `action` (sync throws count as rejections) and returns the error, failing if it resolves or throws something else. */
export async function caught<E extends Error>(action: () => unknown, type: abstract new (...args: never[]) => E): Promise<E> {
  let error: unknown;
  try {
    await action();
  } catch (thrown) {
    error = thrown;
  }
  if (error === undefined) throw new Error(`expected ${type.name}, but nothing was thrown`);
  if (!(error instanceof type)) throw new Error(`expected ${type.name}, got ${String(error)}`, { cause: error });
  return error;
}

export async function revisionsOf(store: EventStore, stream: string): Promise<bigint[]> {
  return (await collect(store.readStream(stream))).map((e) => e.revision);
}

/** Event-driven wait for the next `count` events of a subscription (the timeout only guards a hang). */
export async function takeFrom(iterator: AsyncIterator<RecordedEvent>, count: number, timeoutMs = 60_000): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`subscription delivered ${events.length} of ${count} events within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    while (events.length < count) {
      const result = await Promise.race([iterator.next(), timeout]);
      if (result.done === true) throw new Error(`subscription ended after ${events.length} of ${count} events`);
      events.push(result.value);
    }
    return events;
  } finally {
    clearTimeout(timer);
  }
}

export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Events on $all strictly after `after` whose stream starts with `prefix` (stream-name filter; `after` must be an event's position or undefined). */
export async function ownEventsAfter(store: EventStore, after: Position | undefined, prefix: string): Promise<RecordedEvent[]> {
  const events = await collect(store.readAll({ fromPosition: after ?? 'start', filter: { on: 'streamName', prefixes: [prefix] } }));
  return after === undefined ? events : events.filter((e) => e.position.commit > after.commit);
}

export function iteratorOf(subscription: CatchUpSubscription): AsyncIterator<RecordedEvent> {
  return subscription[Symbol.asyncIterator]();
}

let gcFunction: (() => void) | undefined;
/** A real gc() without --expose-gc on the command line, for retained-memory measurements. */
export function forceGc(): void {
  if (gcFunction === undefined) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
}
