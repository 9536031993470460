import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  MaximumSubscribersReachedError,
  PersistentSubscriptionDoesNotExistError,
  PersistentSubscriptionExistsError,
} from '../../../src/eventstore/errors.js';
import type {
  EventData,
  EventStore,
  PersistentEvent,
  PersistentSubscription,
  PersistentSubscriptionInfo,
  PersistentSubscriptionSettings,
  SubscriptionSource,
} from '../../../src/eventstore/port.js';
import { type StoreLane, unique } from './lane.js';

/**
 * Persistent subscriptions, store-agnostic: the same tests run against the embedded store and a
 * shared, busy EventStoreDB. Every stream and group name is unique(); $all groups filter on a
 * unique stream-name prefix and start from 'end' (or a position) so they never scan other tests'
 * events. Timing: waits are generous and event-driven (collect / eventually), nothing asserts a
 * duration.
 */

const WAIT = 10_000;

/** Small settings so retries, timeouts and checkpoints happen within a test. */
const FAST: Partial<PersistentSubscriptionSettings> = {
  messageTimeout: 5_000,
  maxRetryCount: 2,
  checkPointAfter: 100,
  checkPointLowerBound: 1,
  checkPointUpperBound: 1_000,
};

// ---- helpers ------------------------------------------------------------------------------

function eventsData(count: number, type = 'PsTested'): EventData[] {
  return Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type, data: { i } }));
}

const iterators = new WeakMap<PersistentSubscription, AsyncIterator<PersistentEvent>>();
const pendingNext = new WeakMap<PersistentSubscription, Promise<IteratorResult<PersistentEvent>>>();

/**
 * The next message, 'timeout' when none arrives within `timeoutMs`, 'done' when the iterator ended;
 * throws what the iterator throws. A next() still pending after a timeout is reused by the next
 * pull, so no message is lost between calls.
 */
export async function pull(sub: PersistentSubscription, timeoutMs: number): Promise<PersistentEvent | 'timeout' | 'done'> {
  let iterator = iterators.get(sub);
  if (iterator === undefined) {
    iterator = sub[Symbol.asyncIterator]();
    iterators.set(sub, iterator);
  }
  let next = pendingNext.get(sub);
  if (next === undefined) {
    next = iterator.next();
    next.catch(() => undefined);
    pendingNext.set(sub, next);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const result = await Promise.race([next, timeout]);
    if (result === 'timeout') return 'timeout';
    pendingNext.delete(sub);
    return result.done === true ? 'done' : result.value;
  } catch (error) {
    pendingNext.delete(sub);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Exactly `count` messages (not acked), or an error naming how many arrived within `timeoutMs`. */
export async function collect(sub: PersistentSubscription, count: number, timeoutMs = WAIT): Promise<PersistentEvent[]> {
  const out: PersistentEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    const left = deadline - Date.now();
    const next = left > 0 ? await pull(sub, left) : 'timeout';
    if (next === 'timeout' || next === 'done') throw new Error(`expected ${count} persistent messages, got ${out.length} (${next})`);
    out.push(next);
  }
  return out;
}

/** Pulls (acking each with `onMessage` deciding) until `done(seen)` holds; returns everything pulled. */
async function collectUntil(
  sub: PersistentSubscription,
  done: (seen: readonly PersistentEvent[]) => boolean,
  timeoutMs = WAIT,
  ack = true,
): Promise<PersistentEvent[]> {
  const seen: PersistentEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(seen)) {
    const left = deadline - Date.now();
    const next = left > 0 ? await pull(sub, left) : 'timeout';
    if (next === 'timeout' || next === 'done') throw new Error(`condition not reached after ${seen.length} persistent messages (${next})`);
    seen.push(next);
    if (ack) await sub.ack(next.event.id);
  }
  return seen;
}

/** Several consumers pulling and acking concurrently until, together, they have seen every id. */
async function drainTogether(subs: readonly PersistentSubscription[], ids: readonly string[], timeoutMs = WAIT): Promise<PersistentEvent[][]> {
  const wanted = new Set(ids);
  const seen = new Set<string>();
  const perSub: PersistentEvent[][] = subs.map(() => []);
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    subs.map(async (sub, index) => {
      while (seen.size < wanted.size && Date.now() < deadline) {
        const next = await pull(sub, Math.min(200, Math.max(1, deadline - Date.now())));
        if (next === 'timeout') continue;
        if (next === 'done') return;
        perSub[index]?.push(next);
        if (wanted.has(next.event.id)) seen.add(next.event.id);
        await sub.ack(next.event.id);
      }
    }),
  );
  if (seen.size < wanted.size) throw new Error(`consumers saw ${seen.size} of ${wanted.size} events`);
  return perSub;
}

/** Retries `check` until it stops throwing (or rethrows its last error after `timeoutMs`). */
async function eventually<T>(check: () => Promise<T> | T, timeoutMs = WAIT): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** What the iterator of `sub` throws first (or 'done' / 'timeout'). */
async function iteratorOutcome(sub: PersistentSubscription, timeoutMs = WAIT): Promise<unknown> {
  try {
    const next = await pull(sub, timeoutMs);
    return typeof next === 'string' ? next : 'message';
  } catch (error) {
    return error;
  }
}

function ids(messages: readonly PersistentEvent[]): string[] {
  return messages.map((m) => m.event.id);
}

// ---- the contract -------------------------------------------------------------------------

export function persistentContract(lane: () => StoreLane): void {
  describe('persistent subscriptions', () => {
    let store: EventStore;
    const open: PersistentSubscription[] = [];

    function subscribe(source: SubscriptionSource, group: string, bufferSize?: number): PersistentSubscription {
      const sub = store.subscribeToPersistentSubscription(source, group, bufferSize === undefined ? undefined : { bufferSize });
      open.push(sub);
      return sub;
    }

    /** A $all source seeing only streams named `${prefix}...`. */
    function allSource(prefix: string): SubscriptionSource {
      return { kind: 'all', filter: { on: 'streamName', prefixes: [prefix] } };
    }

    async function info(source: SubscriptionSource, group: string): Promise<PersistentSubscriptionInfo> {
      return store.getPersistentSubscriptionInfo(source, group);
    }

    async function connected(source: SubscriptionSource, group: string, count: number): Promise<void> {
      await eventually(async () => expect((await info(source, group)).connections.length).toBe(count));
    }

    beforeAll(async () => {
      store = await lane().open();
    });

    afterAll(async () => {
      await Promise.allSettled(open.map((sub) => sub.unsubscribe()));
      await store.close();
    });

    describe('delivery', () => {
      it('delivers every event of a stream group, in order to a single consumer, from startFrom start', async () => {
        const stream = unique('ps-stream');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        const before = eventsData(5);
        await store.append(stream, before);
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
        const sub = subscribe(source, group);
        const after = eventsData(5);
        await store.append(stream, after);
        const got = await collect(sub, 10);
        await sub.ack(...ids(got));
        expect(ids(got)).toEqual([...before, ...after].map((e) => e.id));
        expect(got.map((m) => m.event.revision)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
        expect(got.every((m) => m.retryCount === 0 && m.event.streamId === stream)).toBe(true);
      });

      it('a $all group with a stream-prefix filter delivers every matching event at least once, and nothing else', async () => {
        const prefix = unique('psall');
        const group = unique('g');
        const source = allSource(prefix);
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'end' });
        const sub = subscribe(source, group);
        await connected(source, group, 1);
        const written: string[] = [];
        for (let s = 0; s < 3; s += 1) {
          const batch = eventsData(4);
          await store.append(`${prefix}-${s}`, batch);
          written.push(...batch.map((e) => e.id));
        }
        const other = eventsData(2);
        await store.append(unique('psother'), other);
        const seen = await collectUntil(sub, (got) => new Set(ids(got).filter((id) => written.includes(id))).size === written.length);
        expect(seen.every((m) => m.event.streamId.startsWith(prefix))).toBe(true);
        expect(ids(seen)).not.toContain(other[0]?.id);
      });

      it('startFrom end skips the events already in the stream', async () => {
        const stream = unique('ps-end');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.append(stream, eventsData(3));
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'end' });
        const sub = subscribe(source, group);
        await connected(source, group, 1);
        const fresh = eventsData(2);
        await store.append(stream, fresh);
        const got = await collect(sub, 2);
        await sub.ack(...ids(got));
        expect(ids(got)).toEqual(fresh.map((e) => e.id));
        expect(got.map((m) => m.event.revision)).toEqual([3n, 4n]);
      });

      it('a stream group can start from a revision, a $all group from a position', async () => {
        const stream = unique('ps-rev');
        const group = unique('g');
        const written = eventsData(5);
        await store.append(stream, written);
        const byRevision: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(byRevision, group, { ...FAST, startFrom: 3n });
        const sub = subscribe(byRevision, group);
        const got = await collect(sub, 2);
        await sub.ack(...ids(got));
        expect(got.map((m) => m.event.revision)).toEqual([3n, 4n]);

        const prefix = unique('psfrom');
        const marker = await store.append(`${prefix}-a`, eventsData(1));
        const later = eventsData(2);
        await store.append(`${prefix}-b`, later);
        const allGroup = unique('g');
        const source = allSource(prefix);
        await store.createPersistentSubscription(source, allGroup, { ...FAST, startFrom: marker.position });
        const allSub = subscribe(source, allGroup);
        const seen = await collectUntil(allSub, (m) => later.every((e) => ids(m).includes(e.id)));
        // The marker itself may or may not be included (inclusive start); nothing before it is.
        expect(seen.every((m) => m.event.position.commit >= marker.position.commit)).toBe(true);
      });
    });

    describe('acks, retries, timeouts and parking', () => {
      it('nack retry redelivers at once with retryCount + 1', async () => {
        const stream = unique('ps-retry');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', maxRetryCount: 5 });
        const sub = subscribe(source, group);
        const [written] = eventsData(1);
        await store.append(stream, [written as EventData]);
        const counts: number[] = [];
        for (let attempt = 0; attempt < 3; attempt += 1) {
          const [message] = await collect(sub, 1);
          expect(message?.event.id).toBe(written?.id);
          counts.push(message?.retryCount ?? -1);
          if (attempt < 2) await sub.nack('retry', 'try again', written?.id ?? '');
          else await sub.ack(written?.id ?? '');
        }
        expect(counts).toEqual([0, 1, 2]);
      });

      it('redelivers a message not acked within messageTimeout, with retryCount + 1', async () => {
        const stream = unique('ps-timeout');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', messageTimeout: 300, maxRetryCount: 5 });
        const sub = subscribe(source, group);
        const written = eventsData(1);
        await store.append(stream, written);
        const [first] = await collect(sub, 1);
        expect(first?.retryCount).toBe(0);
        const [again] = await collect(sub, 1);
        expect(again?.event.id).toBe(first?.event.id);
        expect(again?.retryCount).toBe(1);
        await sub.ack(again?.event.id ?? '');
      });

      it('parks a message once retryCount reaches maxRetryCount', async () => {
        const stream = unique('ps-maxretry');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', maxRetryCount: 2 });
        const sub = subscribe(source, group);
        const poison = eventsData(1);
        await store.append(stream, poison);
        const counts: number[] = [];
        for (let attempt = 0; attempt < 3; attempt += 1) {
          const [message] = await collect(sub, 1);
          expect(message?.event.id).toBe(poison[0]?.id);
          counts.push(message?.retryCount ?? -1);
          await sub.nack('retry', 'still failing', message?.event.id ?? '');
        }
        expect(counts).toEqual([0, 1, 2]);
        const parked = await eventually(async () => {
          const list = await store.listParkedMessages(source, group);
          expect(list.map((p) => p.event.id)).toEqual([poison[0]?.id]);
          return list;
        });
        expect(parked[0]?.reason).toContain('Reached retry count of 2');
        expect(parked[0]?.parkedAt).toBeInstanceOf(Date);
        await eventually(async () => expect((await info(source, group)).stats.parkedMessageCount).toBe(1));
        // Parked, not retried any more: the next event goes through normally.
        const next = eventsData(1);
        await store.append(stream, next);
        const [following] = await collect(sub, 1);
        expect(following?.event.id).toBe(next[0]?.id);
        await sub.ack(following?.event.id ?? '');
      });

      it('parks a message that keeps timing out, with the retry-count reason', async () => {
        const stream = unique('ps-timeoutpark');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', messageTimeout: 300, maxRetryCount: 1 });
        const sub = subscribe(source, group);
        const slow = eventsData(1);
        await store.append(stream, slow);
        const deliveries = await collect(sub, 2);
        expect(deliveries.map((m) => m.retryCount)).toEqual([0, 1]);
        const parked = await eventually(async () => {
          const list = await store.listParkedMessages(source, group);
          expect(list).toHaveLength(1);
          return list;
        });
        expect(parked[0]?.event.id).toBe(slow[0]?.id);
        expect(parked[0]?.reason).toContain('Reached retry count of 1');
      });

      it('nack park parks at once, with the reason, and counts it', async () => {
        const stream = unique('ps-park');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
        const sub = subscribe(source, group);
        const written = eventsData(3);
        await store.append(stream, written);
        const got = await collect(sub, 3);
        await sub.nack('park', 'bad payload', got[1]?.event.id ?? '');
        await sub.ack(got[0]?.event.id ?? '', got[2]?.event.id ?? '');
        const parked = await eventually(async () => {
          const list = await store.listParkedMessages(source, group);
          expect(list).toHaveLength(1);
          return list;
        });
        expect(parked[0]?.event.id).toBe(written[1]?.id);
        expect(parked[0]?.event.streamId).toBe(stream);
        expect(parked[0]?.event.revision).toBe(1n);
        expect(parked[0]?.event.data).toEqual({ i: 1 });
        expect(parked[0]?.reason).toContain('bad payload');
        await eventually(async () => expect((await info(source, group)).stats.parkedMessageCount).toBe(1));
      });

      it('nack skip counts as done; nack stop leaves the message in flight until it times out', async () => {
        const stream = unique('ps-skip');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', messageTimeout: 300, maxRetryCount: 5 });
        const sub = subscribe(source, group);
        const written = eventsData(2);
        await store.append(stream, written);
        const got = await collect(sub, 2);
        await sub.nack('skip', 'not interesting', got[0]?.event.id ?? '');
        await sub.nack('stop', 'later', got[1]?.event.id ?? '');
        const [again] = await collect(sub, 1);
        expect(again?.event.id).toBe(written[1]?.id);
        expect(again?.retryCount).toBe(1);
        await sub.ack(again?.event.id ?? '');
        expect(await store.listParkedMessages(source, group)).toHaveLength(0);
      });

      it('replays parked messages with retryCount 0, ahead of new events, and empties the parked count', async () => {
        const prefix = unique('psreplay');
        const group = unique('g');
        const source = allSource(prefix);
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'end' });
        const sub = subscribe(source, group);
        await connected(source, group, 1);
        const written = eventsData(3);
        await store.append(`${prefix}-1`, written);
        const got = await collect(sub, 3);
        await sub.nack('park', 'first pass', got[0]?.event.id ?? '', got[2]?.event.id ?? '');
        await sub.ack(got[1]?.event.id ?? '');
        await eventually(async () => expect((await info(source, group)).stats.parkedMessageCount).toBe(2));
        const parked = await store.listParkedMessages(source, group);
        expect(parked.map((p) => p.event.id)).toEqual([written[0]?.id, written[2]?.id]);

        await store.replayParkedMessages(source, group);
        const replayed = await collectUntil(sub, (seen) => [written[0]?.id, written[2]?.id].every((id) => ids(seen).includes(id ?? '')));
        const replayedOnes = replayed.filter((m) => m.event.id === written[0]?.id || m.event.id === written[2]?.id);
        expect(replayedOnes.every((m) => m.retryCount === 0)).toBe(true);
        expect(replayedOnes.map((m) => m.event.position.commit).sort()).toEqual([got[0]?.event.position.commit, got[2]?.event.position.commit].sort());
        await eventually(async () => expect((await info(source, group)).stats.parkedMessageCount).toBe(0));
        expect(await store.listParkedMessages(source, group)).toHaveLength(0);
      });
    });

    describe('checkpoints', () => {
      it('survive close and reopen: nothing is lost, at most the un-checkpointed tail comes again', async () => {
        const stream = unique('ps-ckpt');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.append(stream, eventsData(10));
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', maxRetryCount: 10 });
        const sub = subscribe(source, group, 20);
        const first = await collect(sub, 10);
        await sub.ack(...ids(first));
        await eventually(async () => expect((await info(source, group)).stats.lastCheckpointedRevision).toBe(9n));

        await store.append(stream, eventsData(5));
        const tail = await collect(sub, 5);
        expect(tail.map((m) => m.event.revision)).toEqual([10n, 11n, 12n, 13n, 14n]);
        await sub.ack(tail[0]?.event.id ?? '', tail[1]?.event.id ?? '');
        await eventually(async () => expect((await info(source, group)).stats.lastCheckpointedRevision).toBe(11n));

        store = await lane().reopen(store);
        const resumed = subscribe(source, group, 20);
        const unacked = new Set(tail.slice(2).map((m) => m.event.id));
        const again = await collectUntil(resumed, (seen) => [...unacked].every((id) => ids(seen).includes(id)), 15_000);
        expect(again.every((m) => m.event.revision >= 12n)).toBe(true);

        const more = eventsData(1);
        await store.append(stream, more);
        const [fresh] = await collectUntil(resumed, (seen) => ids(seen).includes(more[0]?.id ?? ''));
        expect(fresh).toBeDefined();
        await eventually(async () => expect((await info(source, group)).stats.lastCheckpointedRevision).toBe(15n));
      });

      it('checkpoints the position before the lowest un-acked message when acks come out of order', async () => {
        const stream = unique('ps-order');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.append(stream, eventsData(6));
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', maxRetryCount: 10, messageTimeout: 30_000 });
        const sub = subscribe(source, group, 10);
        const got = await collect(sub, 6);
        // Ack 0, 1 and 3..5: revision 2 is still in flight, so the checkpoint stays at 1.
        await sub.ack(...[0, 1, 3, 4, 5].map((i) => got[i]?.event.id ?? ''));
        await eventually(async () => expect((await info(source, group)).stats.lastCheckpointedRevision).toBe(1n));
        await sub.ack(got[2]?.event.id ?? '');
        await eventually(async () => expect((await info(source, group)).stats.lastCheckpointedRevision).toBe(5n));
      });
    });

    describe('consumer strategies', () => {
      it('RoundRobin shares the load between two consumers', async () => {
        const stream = unique('ps-rr');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', consumerStrategyName: 'RoundRobin' });
        const a = subscribe(source, group, 5);
        const b = subscribe(source, group, 5);
        await connected(source, group, 2);
        const written = eventsData(20);
        await store.append(stream, written);
        const [gotA, gotB] = await drainTogether([a, b], written.map((e) => e.id));
        expect(gotA?.length).toBeGreaterThan(0);
        expect(gotB?.length).toBeGreaterThan(0);
      });

      it('DispatchToSingle fills one consumer before the next', async () => {
        const stream = unique('ps-single');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', consumerStrategyName: 'DispatchToSingle' });
        const a = subscribe(source, group, 20);
        const b = subscribe(source, group, 20);
        await connected(source, group, 2);
        const written = eventsData(5);
        await store.append(stream, written);
        const [gotA, gotB] = await drainTogether([a, b], written.map((e) => e.id));
        expect([gotA?.length, gotB?.length].sort()).toEqual([0, 5]);
      });

      it('Pinned keeps each stream on one consumer, in order, while nothing is retried', async () => {
        const prefix = unique('pspin');
        const group = unique('g');
        const source = allSource(prefix);
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'end', consumerStrategyName: 'Pinned' });
        const a = subscribe(source, group, 10);
        const b = subscribe(source, group, 10);
        await connected(source, group, 2);
        const written: string[] = [];
        for (let s = 0; s < 6; s += 1) {
          const batch = eventsData(5);
          await store.append(`${prefix}-${s}`, batch);
          written.push(...batch.map((e) => e.id));
        }
        const perConsumer = await drainTogether([a, b], written);
        const owner = new Map<string, number>();
        perConsumer.forEach((messages, index) => {
          const byStream = new Map<string, bigint[]>();
          for (const m of messages) {
            expect(m.retryCount).toBe(0);
            const known = owner.get(m.event.streamId);
            if (known !== undefined) expect(known).toBe(index);
            owner.set(m.event.streamId, index);
            byStream.set(m.event.streamId, [...(byStream.get(m.event.streamId) ?? []), m.event.revision]);
          }
          for (const revisions of byStream.values()) expect(revisions).toEqual([0n, 1n, 2n, 3n, 4n]);
        });
        expect(owner.size).toBe(6);
      });

      it('unsubscribing hands the in-flight messages to another consumer', async () => {
        const stream = unique('ps-handover');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', maxRetryCount: 10, messageTimeout: 30_000 });
        const a = subscribe(source, group, 10);
        const written = eventsData(3);
        await store.append(stream, written);
        await collect(a, 3);
        const b = subscribe(source, group, 10);
        await connected(source, group, 2);
        await a.unsubscribe();
        const handed = await collectUntil(b, (seen) => written.every((e) => ids(seen).includes(e.id)));
        expect(handed.filter((m) => written.some((e) => e.id === m.event.id)).every((m) => m.retryCount >= 1)).toBe(true);
      });
    });

    describe('management', () => {
      it('rejects a duplicate group, and reports missing groups', async () => {
        const stream = unique('ps-admin');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, FAST);
        expect(await rejection(store.createPersistentSubscription(source, group, FAST))).toBeInstanceOf(PersistentSubscriptionExistsError);
        const allGroup = unique('g');
        await store.createPersistentSubscription(allSource(unique('psdup')), allGroup, FAST);
        expect(await rejection(store.createPersistentSubscription(allSource(unique('psdup')), allGroup, FAST))).toBeInstanceOf(PersistentSubscriptionExistsError);

        const missing = unique('missing');
        expect(await rejection(store.getPersistentSubscriptionInfo(source, missing))).toBeInstanceOf(PersistentSubscriptionDoesNotExistError);
        expect(await rejection(store.updatePersistentSubscription(source, missing, { maxRetryCount: 3 }))).toBeInstanceOf(PersistentSubscriptionDoesNotExistError);
        expect(await rejection(store.deletePersistentSubscription(source, missing))).toBeInstanceOf(PersistentSubscriptionDoesNotExistError);
        expect(await rejection(store.deletePersistentSubscription({ kind: 'all' }, missing))).toBeInstanceOf(PersistentSubscriptionDoesNotExistError);
        expect(await rejection(store.replayParkedMessages(source, missing))).toBeInstanceOf(PersistentSubscriptionDoesNotExistError);
        const sub = subscribe(source, missing);
        expect(await iteratorOutcome(sub)).toBeInstanceOf(PersistentSubscriptionDoesNotExistError);
      });

      it('rejects invalid settings and names with InvalidArgumentError', async () => {
        const source: SubscriptionSource = { kind: 'stream', stream: unique('ps-invalid') };
        expect(await rejection(store.createPersistentSubscription(source, unique('g'), { messageTimeout: -1 }))).toBeInstanceOf(InvalidArgumentError);
        expect(await rejection(store.createPersistentSubscription(source, unique('g'), { maxRetryCount: -5 }))).toBeInstanceOf(InvalidArgumentError);
        expect(
          await rejection(store.createPersistentSubscription(source, unique('g'), { consumerStrategyName: 'Nonsense' as PersistentSubscriptionSettings['consumerStrategyName'] })),
        ).toBeInstanceOf(InvalidArgumentError);
        expect(await rejection(store.createPersistentSubscription(source, '', FAST))).toBeInstanceOf(InvalidArgumentError);
      });

      it('refuses a subscriber over maxSubscriberCount', async () => {
        const stream = unique('ps-max');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', maxSubscriberCount: 1 });
        const first = subscribe(source, group);
        await connected(source, group, 1);
        const second = subscribe(source, group);
        expect(await iteratorOutcome(second)).toBeInstanceOf(MaximumSubscribersReachedError);
        const written = eventsData(1);
        await store.append(stream, written);
        const [got] = await collect(first, 1);
        expect(got?.event.id).toBe(written[0]?.id);
        await first.ack(got?.event.id ?? '');
      });

      it('lists groups with their settings; update changes settings and the group keeps delivering', async () => {
        const stream = unique('ps-update');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
        const listed = (await store.listPersistentSubscriptions()).find((i) => i.groupName === group);
        expect(listed?.eventSource).toBe(stream);
        expect(listed?.settings.maxRetryCount).toBe(FAST.maxRetryCount);

        await store.updatePersistentSubscription(source, group, { maxRetryCount: 7, messageTimeout: 4_000 });
        const updated = await info(source, group);
        expect(updated.settings.maxRetryCount).toBe(7);
        expect(updated.settings.messageTimeout).toBe(4_000);
        expect(updated.settings.checkPointAfter).toBe(FAST.checkPointAfter);

        const sub = subscribe(source, group);
        const written = eventsData(2);
        await store.append(stream, written);
        const got = await collectUntil(sub, (seen) => written.every((e) => ids(seen).includes(e.id)));
        expect(got.length).toBeGreaterThanOrEqual(2);
      });

      it('delete removes the group and ends its subscribers', async () => {
        const stream = unique('ps-delete');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
        const sub = subscribe(source, group);
        await connected(source, group, 1);
        await store.deletePersistentSubscription(source, group);
        expect(await rejection(store.getPersistentSubscriptionInfo(source, group))).toBeInstanceOf(PersistentSubscriptionDoesNotExistError);
        expect((await store.listPersistentSubscriptions()).some((i) => i.groupName === group)).toBe(false);
        expect(await iteratorOutcome(sub)).not.toBe('timeout');
        // The name is free again.
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
        await store.deletePersistentSubscription(source, group);
      });
    });

    describe('info', () => {
      it('reports connections, in-flight and parked messages, and checkpoint vs last known revision', async () => {
        const stream = unique('ps-info');
        const group = unique('g');
        const source: SubscriptionSource = { kind: 'stream', stream };
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start', messageTimeout: 30_000 });
        const sub = subscribe(source, group, 5);
        const written = eventsData(3);
        await store.append(stream, written);
        const got = await collect(sub, 3);
        const busy = await eventually(async () => {
          const current = await info(source, group);
          expect(current.stats.totalInFlightMessages).toBe(3);
          return current;
        });
        expect(busy.eventSource).toBe(stream);
        expect(busy.groupName).toBe(group);
        expect(busy.connections).toHaveLength(1);
        expect(busy.connections[0]?.inFlightMessages).toBe(3);
        expect(busy.connections[0]?.availableSlots).toBe(2);
        expect(busy.connections[0]?.totalItems).toBeGreaterThanOrEqual(3);

        await sub.nack('park', 'inspect me', got[1]?.event.id ?? '');
        await sub.ack(got[0]?.event.id ?? '', got[2]?.event.id ?? '');
        const settled = await eventually(async () => {
          const current = await info(source, group);
          expect(current.stats.totalInFlightMessages).toBe(0);
          expect(current.stats.parkedMessageCount).toBe(1);
          expect(current.stats.lastCheckpointedRevision).toBe(2n);
          return current;
        });
        expect(settled.stats.lastKnownRevision).toBe(2n);
        expect(settled.stats.totalItems).toBeGreaterThanOrEqual(3);
      });

      it('reports positions for a $all group (lastKnown >= lastCheckpointed) and its filter', async () => {
        const prefix = unique('psinfo');
        const group = unique('g');
        const source = allSource(prefix);
        await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'end' });
        const sub = subscribe(source, group);
        await connected(source, group, 1);
        const written = eventsData(4);
        await store.append(`${prefix}-1`, written);
        const got = await collect(sub, 4);
        await sub.ack(...ids(got));
        const current = await eventually(async () => {
          const value = await info(source, group);
          expect(value.stats.lastCheckpointedPosition).toBeDefined();
          expect(value.stats.lastCheckpointedPosition?.commit).toBeGreaterThanOrEqual(got[3]?.event.position.commit ?? 0n);
          return value;
        });
        expect(current.eventSource).toBe('$all');
        if (current.filter !== undefined) expect(current.filter).toEqual({ on: 'streamName', prefixes: [prefix] });
        expect(current.stats.lastKnownPosition?.commit).toBeGreaterThanOrEqual(current.stats.lastCheckpointedPosition?.commit ?? 0n);
      });
    });
  });
}
