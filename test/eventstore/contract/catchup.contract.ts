import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../../../src/eventstore/port.js';
import { collect, iteratorOf, newEvent, newEvents, takeFrom, withTimeout } from './helpers.js';
import { type StoreLane, unique } from './lane.js';

/** subscribeToAll: exclusive start, history, caughtUp, live delivery, filters, unsubscribe. */
export function catchUpContract(lane: () => StoreLane): void {
  describe('subscribeToAll (catch-up)', () => {
    let store: EventStore;
    beforeAll(async () => {
      store = await lane().open();
    });
    afterAll(async () => {
      await store.close();
    });

    it('starts after fromPosition (exclusive), delivers the history, catches up, then goes live', async () => {
      const prefix = unique('cu');
      const stream = `${prefix}-1`;
      await store.append(stream, newEvents('History', 3, (i) => ({ i })));
      const [first] = await collect(store.readStream(stream), 1);
      const subscription = store.subscribeToAll({ fromPosition: first?.position, filter: { on: 'streamName', prefixes: [prefix] } });
      try {
        const iterator = iteratorOf(subscription);
        const history = await takeFrom(iterator, 2);
        expect(history.map((e) => e.revision)).toEqual([1n, 2n]);
        await withTimeout(subscription.caughtUp, 60_000, 'caughtUp');
        const live = newEvent('Live', { live: true });
        await store.append(stream, [live]);
        const [delivered] = await takeFrom(iterator, 1);
        expect(delivered?.id).toBe(live.id);
        expect(delivered?.revision).toBe(3n);
        expect(delivered?.streamId).toBe(stream);
      } finally {
        await subscription.unsubscribe();
      }
    });

    it('from the end: caughtUp resolves without history and new events are delivered live, in order', async () => {
      const prefix = unique('cu');
      const subscription = store.subscribeToAll({ filter: { on: 'streamName', prefixes: [prefix] } });
      try {
        await withTimeout(subscription.caughtUp, 60_000, 'caughtUp');
        const iterator = iteratorOf(subscription);
        const pending = takeFrom(iterator, 4);
        await store.append(`${prefix}-a`, newEvents('Live', 2));
        await store.append(`${prefix}-b`, newEvents('Live', 2));
        const events = await pending;
        expect(events.map((e) => `${e.streamId}@${e.revision}`)).toEqual([`${prefix}-a@0`, `${prefix}-a@1`, `${prefix}-b@0`, `${prefix}-b@1`]);
      } finally {
        await subscription.unsubscribe();
      }
    });

    it('from the start with an event-type filter: only matching events, history then live', async () => {
      const type = unique('CuType');
      const stream = unique('cu');
      await store.append(stream, [newEvent(type), newEvent('Other'), newEvent(type)]);
      const subscription = store.subscribeToAll({ fromPosition: 'start', filter: { on: 'eventType', prefixes: [type] } });
      try {
        const iterator = iteratorOf(subscription);
        const history = await takeFrom(iterator, 2);
        expect(history.map((e) => e.revision)).toEqual([0n, 2n]);
        await withTimeout(subscription.caughtUp, 120_000, 'caughtUp');
        await store.append(stream, [newEvent('Other'), newEvent(type)]);
        const [live] = await takeFrom(iterator, 1);
        expect(live?.revision).toBe(4n);
      } finally {
        await subscription.unsubscribe();
      }
    });

    it('caughtUp resolves even when no history event matches the filter', async () => {
      const subscription = store.subscribeToAll({ fromPosition: 'start', filter: { on: 'streamName', prefixes: [unique('nothing')] } });
      try {
        await withTimeout(subscription.caughtUp, 120_000, 'caughtUp');
      } finally {
        await subscription.unsubscribe();
      }
    });

    it('unsubscribe ends the iteration', async () => {
      const prefix = unique('cu');
      const subscription = store.subscribeToAll({ filter: { on: 'streamName', prefixes: [prefix] } });
      const received: string[] = [];
      const loop = (async () => {
        for await (const event of subscription) received.push(event.id);
      })();
      const event = newEvent('BeforeUnsubscribe');
      await store.append(`${prefix}-x`, [event]);
      while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      await subscription.unsubscribe();
      await withTimeout(loop, 60_000, 'the for-await loop to end');
      expect(received).toEqual([event.id]);
    });

    it('breaking out of for-await unsubscribes', async () => {
      const prefix = unique('cu');
      await store.append(`${prefix}-x`, newEvents('E', 3));
      const subscription = store.subscribeToAll({ fromPosition: 'start', filter: { on: 'streamName', prefixes: [prefix] } });
      let seen = 0;
      for await (const _ of subscription) {
        seen += 1;
        if (seen === 2) break;
      }
      expect(seen).toBe(2);
    });
  });
}
