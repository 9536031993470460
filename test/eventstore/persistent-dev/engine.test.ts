import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, PersistentSubscriptionDroppedError } from '../../../src/eventstore/errors.js';
import { PINNED_BUCKETS, streamBucket } from '../../../src/eventstore/embedded/persistent/consumer-strategies.js';
import type { EventData, EventStore, PersistentEvent, PersistentSubscription, RecordedEvent, SubscriptionSource } from '../../../src/eventstore/port.js';
import { checkpointStreamName, parkedStreamName } from '../../../src/eventstore/port.js';
import { collect, pull } from '../contract/persistent.contract.js';
import { type StoreLane, unique } from '../contract/lane.js';
import { createEmbeddedLane } from '../embedded-lane.js';

/**
 * Embedded-engine behaviour beyond the store-agnostic contract: choices documented in
 * src/eventstore/embedded/persistent/index.ts (config persistence, update/delete dropping
 * consumers, final checkpoint on close, durable replays, system-event filtering, parked format).
 */

const FAST = { messageTimeout: 5_000, maxRetryCount: 2, checkPointAfter: 100, checkPointLowerBound: 1 };

function eventsData(count: number, type = 'EngineTested'): EventData[] {
  return Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type, data: { i } }));
}

async function readAllOf(store: EventStore, stream: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  try {
    for await (const event of store.readStream(stream)) out.push(event);
  } catch {
    return out;
  }
  return out;
}

async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

async function outcome(sub: PersistentSubscription): Promise<unknown> {
  try {
    return await pull(sub, 5_000);
  } catch (error) {
    return error;
  }
}

describe('embedded persistent subscription engine', () => {
  let lane: StoreLane;
  let store: EventStore;

  beforeAll(async () => {
    lane = createEmbeddedLane();
    store = await lane.open();
  });

  afterAll(async () => {
    await lane.dispose();
  });

  it('keeps group definitions across a reopen', async () => {
    const stream = unique('eng-config');
    const group = unique('g');
    const prefix = unique('engcfg');
    const allGroup = unique('g');
    await store.createPersistentSubscription({ kind: 'stream', stream }, group, { ...FAST, startFrom: 5n, consumerStrategyName: 'Pinned' });
    await store.createPersistentSubscription({ kind: 'all', filter: { on: 'eventType', regex: `^${prefix}` } }, allGroup, { startFrom: { commit: 3n, prepare: 3n } });
    await store.updatePersistentSubscription({ kind: 'stream', stream }, group, { maxRetryCount: 9 });
    const doomed = unique('g');
    await store.createPersistentSubscription({ kind: 'stream', stream }, doomed, FAST);
    await store.deletePersistentSubscription({ kind: 'stream', stream }, doomed);

    store = await lane.reopen(store);
    const infos = await store.listPersistentSubscriptions();
    const streamInfo = infos.find((i) => i.groupName === group);
    expect(streamInfo?.eventSource).toBe(stream);
    expect(streamInfo?.settings).toMatchObject({ ...FAST, maxRetryCount: 9, startFrom: 5n, consumerStrategyName: 'Pinned' });
    const allInfo = infos.find((i) => i.groupName === allGroup);
    expect(allInfo?.eventSource).toBe('$all');
    expect(allInfo?.filter).toEqual({ on: 'eventType', regex: `^${prefix}` });
    expect(allInfo?.settings.startFrom).toEqual({ commit: 3n, prepare: 3n });
    expect(infos.some((i) => i.groupName === doomed)).toBe(false);
  });

  it('close ends consumers cleanly and writes a final checkpoint; startFrom end was fixed at creation', async () => {
    const stream = unique('eng-close');
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'stream', stream };
    await store.append(stream, eventsData(2));
    // Large bounds: only the close writes a checkpoint.
    await store.createPersistentSubscription(source, group, { startFrom: 'end', checkPointLowerBound: 100, checkPointUpperBound: 100 });
    const sub = store.subscribeToPersistentSubscription(source, group);
    await store.append(stream, eventsData(3));
    const got = await collect(sub, 3);
    await sub.ack(got[0]?.event.id ?? '');
    const pending = pull(sub, 5_000);
    store = await lane.reopen(store);
    expect(await pending).toBe('done');
    const checkpoints = await readAllOf(store, checkpointStreamName(stream, group));
    expect(checkpoints.at(-1)?.data).toBe('2');
    const resumed = store.subscribeToPersistentSubscription(source, group);
    const again = await collect(resumed, 2);
    expect(again.map((m) => m.event.revision)).toEqual([3n, 4n]);
    await resumed.ack(...again.map((m) => m.event.id));

    // A group created with 'end' and never consumed: what was appended before the restart is not skipped.
    const late = unique('g');
    await store.createPersistentSubscription(source, late, { startFrom: 'end' });
    const afterCreate = eventsData(1);
    await store.append(stream, afterCreate);
    store = await lane.reopen(store);
    const lateSub = store.subscribeToPersistentSubscription(source, late);
    const [first] = await collect(lateSub, 1);
    expect(first?.event.id).toBe(afterCreate[0]?.id);
    await lateSub.unsubscribe();
  });

  it('update drops the consumers (resubscribe) and resumes from the checkpoint', async () => {
    const stream = unique('eng-update');
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'stream', stream };
    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
    const sub = store.subscribeToPersistentSubscription(source, group);
    await store.append(stream, eventsData(3));
    const got = await collect(sub, 3);
    await sub.ack(got[0]?.event.id ?? '');
    await store.updatePersistentSubscription(source, group, { messageTimeout: 1_000 });
    expect(await outcome(sub)).toBeInstanceOf(PersistentSubscriptionDroppedError);
    expect(await outcome(sub)).toBe('done');
    const resumed = store.subscribeToPersistentSubscription(source, group);
    const again = await collect(resumed, 2);
    expect(again.map((m) => [m.event.revision, m.retryCount])).toEqual([
      [1n, 0],
      [2n, 0],
    ]);
    await resumed.unsubscribe();
  });

  it('delete drops the consumers and forgets checkpoints and parked messages', async () => {
    const stream = unique('eng-delete');
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'stream', stream };
    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
    const sub = store.subscribeToPersistentSubscription(source, group);
    await store.append(stream, eventsData(3));
    const got = await collect(sub, 3);
    await sub.nack('park', 'x', got[2]?.event.id ?? '');
    await sub.ack(got[0]?.event.id ?? '', got[1]?.event.id ?? '');
    await eventually(async () => expect((await store.getPersistentSubscriptionInfo(source, group)).stats.lastCheckpointedRevision).toBe(2n));
    await store.deletePersistentSubscription(source, group);
    expect(await outcome(sub)).toBeInstanceOf(PersistentSubscriptionDroppedError);

    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
    const info = await store.getPersistentSubscriptionInfo(source, group);
    expect(info.stats.parkedMessageCount).toBe(0);
    expect(info.stats.lastCheckpointedRevision).toBeUndefined();
    const fresh = store.subscribeToPersistentSubscription(source, group);
    const all = await collect(fresh, 3);
    expect(all.map((m) => m.event.revision)).toEqual([0n, 1n, 2n]);
    await fresh.unsubscribe();
  });

  it('an unfiltered $all group skips system events and never sees its own streams', async () => {
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'all' };
    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'end' });
    const sub = store.subscribeToPersistentSubscription(source, group, { bufferSize: 50 });
    const stream = unique('eng-all');
    await store.append(stream, eventsData(2));
    const got = await collect(sub, 2);
    await sub.nack('park', 'to create a parked link', got[0]?.event.id ?? '');
    await sub.nack('retry', 'again', got[1]?.event.id ?? '');
    const [retried] = await collect(sub, 1);
    expect(retried?.event.id).toBe(got[1]?.event.id);
    await sub.ack(retried?.event.id ?? '');
    const marker = eventsData(1);
    await store.append(stream, marker);
    const [next] = await collect(sub, 1);
    // Between the two user appends: a parked link, checkpoints, config — none delivered.
    expect(next?.event.id).toBe(marker[0]?.id);
    await sub.ack(next?.event.id ?? '');
    await sub.unsubscribe();
  });

  it('writes parked links in the EventStoreDB format and replays up to stopAt', async () => {
    const stream = unique('eng-parked');
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'stream', stream };
    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
    const sub = store.subscribeToPersistentSubscription(source, group);
    const written = eventsData(3);
    await store.append(stream, written);
    const got = await collect(sub, 3);
    for (const message of got) await sub.nack('park', `bad ${message.event.revision}`, message.event.id);
    await eventually(async () => expect((await store.getPersistentSubscriptionInfo(source, group)).stats.parkedMessageCount).toBe(3));
    const links = await readAllOf(store, parkedStreamName(stream, group));
    expect(links).toHaveLength(3);
    expect(links[1]?.type).toBe('$>');
    expect(links[1]?.data).toBe(`1@${stream}`);
    expect(links[1]?.metadata).toMatchObject({ Reason: "Client explicitly NAK'ed message.\nbad 1", SubscriptionEventNumber: 1 });
    expect(typeof links[1]?.metadata.Added).toBe('string');

    await store.replayParkedMessages(source, group, { stopAt: (links[0]?.revision ?? 0n) + 1n });
    const [replayed] = await collect(sub, 1);
    expect([replayed?.event.id, replayed?.retryCount]).toEqual([written[0]?.id, 0]);
    expect(await pull(sub, 200)).toBe('timeout');
    expect((await store.getPersistentSubscriptionInfo(source, group)).stats.parkedMessageCount).toBe(2);
    expect((await store.listParkedMessages(source, group)).map((p) => p.event.id)).toEqual([written[1]?.id, written[2]?.id]);
    await sub.ack(replayed?.event.id ?? '');
    await eventually(async () => expect(await readAllOf(store, parkedStreamName(stream, group))).toHaveLength(2));
    await sub.unsubscribe();
  });

  it('a replay interrupted by a restart loses nothing: unsettled links are parked again', async () => {
    const stream = unique('eng-replay');
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'stream', stream };
    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
    const sub = store.subscribeToPersistentSubscription(source, group);
    await store.append(stream, eventsData(2));
    const got = await collect(sub, 2);
    await sub.nack('park', 'later', ...got.map((m) => m.event.id));
    await eventually(async () => expect((await store.getPersistentSubscriptionInfo(source, group)).stats.parkedMessageCount).toBe(2));
    await store.replayParkedMessages(source, group);
    const replayed = await collect(sub, 2);
    await sub.ack(replayed[0]?.event.id ?? '');
    await eventually(async () => expect(await readAllOf(store, parkedStreamName(stream, group))).toHaveLength(1));
    store = await lane.reopen(store);
    const info = await store.getPersistentSubscriptionInfo(source, group);
    expect(info.stats.parkedMessageCount).toBe(1);
    expect((await store.listParkedMessages(source, group)).map((p) => p.event.id)).toEqual([replayed[1]?.event.id]);
  });

  it('holds at most bufferSize un-acked messages per consumer and reports Idle / Live', async () => {
    const stream = unique('eng-buffer');
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'stream', stream };
    await store.append(stream, eventsData(5));
    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'start' });
    expect((await store.getPersistentSubscriptionInfo(source, group)).status).toBe('Idle');
    const sub = store.subscribeToPersistentSubscription(source, group, { bufferSize: 2 });
    const first = await collect(sub, 2);
    expect(await pull(sub, 200)).toBe('timeout');
    const info = await store.getPersistentSubscriptionInfo(source, group);
    expect(info.connections[0]?.availableSlots).toBe(0);
    // Acks may use any letter case (uuids).
    await sub.ack(first[0]?.event.id.toUpperCase() ?? '');
    const [third] = await collect(sub, 1);
    expect(third?.event.revision).toBe(2n);
    await sub.ack(first[1]?.event.id ?? '', third?.event.id ?? '');
    const rest = await collect(sub, 2);
    await sub.ack(...rest.map((m) => m.event.id));
    await eventually(async () => expect((await store.getPersistentSubscriptionInfo(source, group)).status).toBe('Live'));
    await sub.unsubscribe();
  });

  it('delivers two events that share an id (different streams) one after the other', async () => {
    const prefix = unique('engdup');
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'all', filter: { on: 'streamName', prefixes: [prefix] } };
    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'end' });
    const sub = store.subscribeToPersistentSubscription(source, group);
    const id = randomUUID();
    await store.append(`${prefix}-a`, [{ id, type: 'Dup', data: {} }]);
    await store.append(`${prefix}-b`, [{ id, type: 'Dup', data: {} }]);
    const [one] = await collect(sub, 1);
    expect(await pull(sub, 200)).toBe('timeout');
    await sub.ack(id);
    const [two] = await collect(sub, 1);
    expect([one?.event.streamId, two?.event.streamId]).toEqual([`${prefix}-a`, `${prefix}-b`]);
    await sub.ack(id);
    await sub.unsubscribe();
  });

  it('Pinned: a leaving consumer’s streams move to the remaining one', async () => {
    const prefix = unique('engpin');
    const group = unique('g');
    const source: SubscriptionSource = { kind: 'all', filter: { on: 'streamName', prefixes: [prefix] } };
    await store.createPersistentSubscription(source, group, { ...FAST, startFrom: 'end', consumerStrategyName: 'Pinned' });
    const a = store.subscribeToPersistentSubscription(source, group);
    const b = store.subscribeToPersistentSubscription(source, group);
    const streams = Array.from({ length: 8 }, (_, i) => `${prefix}-${i}`);
    for (const stream of streams) await store.append(stream, eventsData(1));
    const seen = new Map<string, PersistentSubscription>();
    let received = 0;
    while (received < streams.length) {
      for (const sub of [a, b]) {
        const next = await pull(sub, 50);
        if (typeof next === 'string') continue;
        seen.set(next.event.streamId, sub);
        received += 1;
        await sub.ack(next.event.id);
      }
    }
    expect(new Set(seen.values()).size).toBe(2);
    await b.unsubscribe();
    for (const stream of streams) await store.append(stream, eventsData(1));
    const moved: PersistentEvent[] = await collect(a, streams.length);
    expect(new Set(moved.map((m) => m.event.streamId))).toEqual(new Set(streams));
    await a.ack(...moved.map((m) => m.event.id));
    await a.unsubscribe();
    expect(streamBucket('x')).toBe(streamBucket('x'));
    expect(streams.every((s) => streamBucket(s) >= 0 && streamBucket(s) < PINNED_BUCKETS)).toBe(true);
  });

  it('validates settings like EventStoreDB', async () => {
    const stream: SubscriptionSource = { kind: 'stream', stream: unique('eng-invalid') };
    const all: SubscriptionSource = { kind: 'all' };
    const cases: [SubscriptionSource, Record<string, unknown>][] = [
      [stream, { readBatchSize: 500 }],
      [stream, { readBatchSize: 0 }],
      [stream, { liveBufferSize: 10, readBatchSize: 20 }],
      [stream, { messageTimeout: 1.5 }],
      [stream, { bogus: 1 }],
      [stream, { startFrom: { commit: 1n, prepare: 1n } }],
      [stream, { startFrom: -1n }],
      [all, { startFrom: 5n }],
    ];
    for (const [source, settings] of cases) {
      await expect(store.createPersistentSubscription(source, unique('g'), settings)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(store.createPersistentSubscription({ kind: 'all', filter: { on: 'eventType', regex: '(' } }, unique('g'))).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => store.subscribeToPersistentSubscription(stream, unique('g'), { bufferSize: 0 })).toThrow(InvalidArgumentError);
    expect(() => store.subscribeToPersistentSubscription(stream, '')).toThrow(InvalidArgumentError);
  });
});
