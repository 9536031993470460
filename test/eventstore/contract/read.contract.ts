import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamNotFoundError } from '../../../src/eventstore/errors.js';
import { EXCLUDE_SYSTEM_EVENTS, type EventStore, type Position, type RecordedEvent } from '../../../src/eventstore/port.js';
import { caught, collect, forceGc, newEvent, newEvents } from './helpers.js';
import { type StoreLane, unique } from './lane.js';

/** readStream and readAll: directions, inclusive starts, maxCount, $all order and filters, flat memory. */
export function readContract(lane: () => StoreLane): void {
  describe('readStream', () => {
    let store: EventStore;
    let stream: string;
    beforeAll(async () => {
      store = await lane().open();
      stream = unique('rd');
      await store.append(stream, newEvents('Counted', 10, (i) => ({ i })));
    });
    afterAll(async () => {
      await store.close();
    });

    const revisions = async (options: Parameters<EventStore['readStream']>[1]): Promise<bigint[]> =>
      (await collect(store.readStream(stream, options))).map((e) => e.revision);

    it('reads forwards from the start by default', async () => {
      const events = await collect(store.readStream(stream));
      expect(events.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
      expect(events.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('fromRevision is inclusive', async () => {
      expect(await revisions({ fromRevision: 7n })).toEqual([7n, 8n, 9n]);
    });

    it('reads backwards from the end', async () => {
      expect(await revisions({ direction: 'backwards' })).toEqual([9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n, 0n]);
      expect(await revisions({ direction: 'backwards', fromRevision: 'end', maxCount: 2 })).toEqual([9n, 8n]);
    });

    it('reads backwards from a revision, inclusive', async () => {
      expect(await revisions({ direction: 'backwards', fromRevision: 2n })).toEqual([2n, 1n, 0n]);
    });

    it('honours maxCount', async () => {
      expect(await revisions({ maxCount: 3 })).toEqual([0n, 1n, 2n]);
      expect(await revisions({ fromRevision: 8n, maxCount: 5 })).toEqual([8n, 9n]);
    });

    it('reads nothing past the end', async () => {
      expect(await revisions({ fromRevision: 10n })).toEqual([]);
      expect(await revisions({ fromRevision: 'end' })).toEqual([]);
    });

    it('a missing stream raises StreamNotFound when iterated, not when called', async () => {
      const missing = unique('rd');
      const iterable = store.readStream(missing);
      const error = await caught(() => collect(iterable), StreamNotFoundError);
      expect(error.streamName).toBe(missing);
    });

    it("notFound: 'empty' reads a missing or soft-deleted stream as empty; an existing one as usual", async () => {
      expect(await collect(store.readStream(unique('rd'), { notFound: 'empty' }))).toEqual([]);
      expect(await collect(store.readStream(unique('rd'), { notFound: 'empty', direction: 'backwards', fromRevision: 'end' }))).toEqual([]);
      const deleted = unique('rd');
      await store.append(deleted, [newEvent('Gone')]);
      await store.deleteStream(deleted);
      expect(await collect(store.readStream(deleted, { notFound: 'empty' }))).toEqual([]);
      await caught(() => collect(store.readStream(deleted, { notFound: 'throw' })), StreamNotFoundError);
      expect(await revisions({ notFound: 'empty', fromRevision: 8n })).toEqual([8n, 9n]);
    });

    it('returns revisions as bigint and positions in $all order', async () => {
      const events = await collect(store.readStream(stream));
      for (let i = 1; i < events.length; i++) {
        expect(typeof events[i]?.revision).toBe('bigint');
        expect((events[i]?.position.commit ?? 0n) > (events[i - 1]?.position.commit ?? 0n)).toBe(true);
      }
    });
  });

  describe('readAll', () => {
    let store: EventStore;
    let prefix: string;
    let typePrefix: string;
    let written: { stream: string; type: string }[];
    let own: RecordedEvent[];
    beforeAll(async () => {
      store = await lane().open();
      prefix = unique('ra');
      typePrefix = unique('T');
      const streams = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
      written = [];
      // Interleaved across three streams, with two event kinds and one system-typed event.
      for (let round = 0; round < 4; round++) {
        for (const [index, stream] of streams.entries()) {
          const type = round === 3 && index === 0 ? `$${typePrefix}System` : `${typePrefix}${index % 2 === 0 ? 'Even' : 'Odd'}`;
          await store.append(stream, [newEvent(type, { round, index })]);
          written.push({ stream, type });
        }
      }
      own = await collect(store.readAll({ filter: { on: 'streamName', prefixes: [prefix] } }));
    });
    afterAll(async () => {
      await store.close();
    });

    const shape = (events: RecordedEvent[]): string[] => events.map((e) => `${e.streamId}/${e.type}`);
    const firstPosition = (): Position => own[0]?.position ?? { commit: 0n, prepare: 0n };

    it('returns events across streams in append order, including system-typed events', async () => {
      expect(shape(own)).toEqual(written.map((w) => `${w.stream}/${w.type}`));
      for (let i = 1; i < own.length; i++) expect((own[i]?.position.commit ?? 0n) > (own[i - 1]?.position.commit ?? 0n)).toBe(true);
    });

    it('reads backwards', async () => {
      const backwards = await collect(store.readAll({ direction: 'backwards', filter: { on: 'streamName', prefixes: [prefix] }, maxCount: own.length }));
      expect(shape(backwards)).toEqual(shape(own).reverse());
    });

    it('fromPosition is inclusive, forwards and backwards', async () => {
      const third = own[2];
      expect(third).toBeDefined();
      const forwards = await collect(store.readAll({ fromPosition: third?.position, filter: { on: 'streamName', prefixes: [prefix] } }));
      expect(shape(forwards)).toEqual(shape(own.slice(2)));
      const backwards = await collect(store.readAll({ fromPosition: third?.position, direction: 'backwards', filter: { on: 'streamName', prefixes: [prefix] } }));
      expect(shape(backwards)).toEqual(shape(own.slice(0, 3)).reverse());
    });

    it('honours maxCount after filtering', async () => {
      const some = await collect(store.readAll({ fromPosition: firstPosition(), filter: { on: 'streamName', prefixes: [prefix] }, maxCount: 4 }));
      expect(shape(some)).toEqual(shape(own.slice(0, 4)));
    });

    it('filters on event type prefixes', async () => {
      const odd = await collect(store.readAll({ fromPosition: firstPosition(), filter: { on: 'eventType', prefixes: [`${typePrefix}Odd`] } }));
      expect(shape(odd)).toEqual(shape(own.filter((e) => e.type === `${typePrefix}Odd`)));
      const both = await collect(store.readAll({ fromPosition: firstPosition(), filter: { on: 'eventType', prefixes: [`${typePrefix}Odd`, `${typePrefix}Even`] } }));
      expect(shape(both)).toEqual(shape(own.filter((e) => !e.type.startsWith('$'))));
    });

    it('filters on an event type regex', async () => {
      const even = await collect(store.readAll({ fromPosition: firstPosition(), filter: { on: 'eventType', regex: `^${typePrefix}Ev` } }));
      expect(shape(even)).toEqual(shape(own.filter((e) => e.type === `${typePrefix}Even`)));
    });

    it('filters on stream name prefixes and regex', async () => {
      const b = await collect(store.readAll({ fromPosition: firstPosition(), filter: { on: 'streamName', prefixes: [`${prefix}-b`] } }));
      expect(shape(b)).toEqual(shape(own.filter((e) => e.streamId === `${prefix}-b`)));
      const ac = await collect(store.readAll({ fromPosition: firstPosition(), filter: { on: 'streamName', regex: `^${prefix}-[ac]$` } }));
      expect(shape(ac)).toEqual(shape(own.filter((e) => e.streamId !== `${prefix}-b`)));
    });

    it('excludeSystemEvents drops $-typed events', async () => {
      const last = own[own.length - 1];
      const seen: RecordedEvent[] = [];
      for await (const event of store.readAll({ fromPosition: firstPosition(), filter: EXCLUDE_SYSTEM_EVENTS })) {
        expect(event.type.startsWith('$')).toBe(false);
        if (event.streamId.startsWith(prefix)) seen.push(event);
        if (last !== undefined && event.position.commit >= last.position.commit) break;
      }
      expect(shape(seen)).toEqual(shape(own.filter((e) => !e.type.startsWith('$'))));
    });
  });

  describe('reading a large stream', () => {
    let store: EventStore;
    const count = 100_000;
    const payload = 'x'.repeat(1_000);
    let stream: string;
    beforeAll(async () => {
      store = await lane().open();
      stream = unique('big');
      for (let written = 0; written < count; written += 500) {
        await store.append(stream, newEvents('Big', 500, (i) => ({ i: written + i, payload })));
      }
    }, 600_000);
    afterAll(async () => {
      await store.close();
    });

    it('keeps memory flat while iterating 100,000 events (~100 MB of data)', async () => {
      forceGc();
      const baseline = process.memoryUsage().heapUsed;
      let maxRetained = 0;
      let seen = 0;
      let expected = 0;
      for await (const event of store.readStream(stream)) {
        if ((event.data as { i: number }).i !== expected) throw new Error(`event ${expected} out of order`);
        expected += 1;
        seen += 1;
        if (seen % 10_000 === 0) {
          forceGc();
          maxRetained = Math.max(maxRetained, process.memoryUsage().heapUsed - baseline);
        }
      }
      expect(seen).toBe(count);
      expect(maxRetained).toBeLessThan(50 * 1024 * 1024);
    }, 600_000);
  });
}
