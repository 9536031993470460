import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamDeletedError, WrongExpectedVersionError } from '../../../src/eventstore/errors.js';
import type { EventStore, ExpectedRevision } from '../../../src/eventstore/port.js';
import { caught, collect, newEvent, newEvents, revisionsOf } from './helpers.js';
import { type StoreLane, unique } from './lane.js';

/** Appends: revisions, positions, every expected-revision case, idempotent re-appends. */
export function appendContract(lane: () => StoreLane): void {
  describe('append', () => {
    let store: EventStore;
    beforeAll(async () => {
      store = await lane().open();
    });
    afterAll(async () => {
      await store.close();
    });

    async function streamWith(count: number): Promise<string> {
      const stream = unique('app');
      await store.append(stream, newEvents('Seeded', count), { expectedRevision: 'no_stream' });
      return stream;
    }

    async function softDeletedWith(count: number): Promise<string> {
      const stream = await streamWith(count);
      await store.deleteStream(stream);
      return stream;
    }

    async function tombstonedWith(count: number): Promise<string> {
      const stream = await streamWith(count);
      await store.tombstoneStream(stream);
      return stream;
    }

    async function expectWrongVersion(stream: string, expected: ExpectedRevision, actual: bigint | 'no_stream'): Promise<void> {
      const error = await caught(() => store.append(stream, [newEvent('Rejected')], { expectedRevision: expected }), WrongExpectedVersionError);
      expect(error.streamName).toBe(stream);
      expect(error.expectedVersion).toBe(expected);
      expect(error.actualVersion).toBe(actual);
    }

    it('numbers a new stream from revision 0 and returns the last revision and its position', async () => {
      const stream = unique('app');
      const result = await store.append(stream, newEvents('Numbered', 3));
      expect(result.nextExpectedRevision).toBe(2n);
      const events = await collect(store.readStream(stream));
      expect(events.map((e) => e.revision)).toEqual([0n, 1n, 2n]);
      // The embedded store returns exactly the last event's position; EventStoreDB one of the batch's.
      expect(result.position.commit >= (events[0]?.position.commit ?? 0n)).toBe(true);
      expect(result.position.commit <= (events[2]?.position.commit ?? 0n)).toBe(true);
      const next = await store.append(stream, newEvents('Numbered', 2));
      expect(next.nextExpectedRevision).toBe(4n);
      expect(next.position.commit > result.position.commit).toBe(true);
    });

    it('keeps positions increasing across streams', async () => {
      const a = unique('app');
      const b = unique('app');
      const first = await store.append(a, [newEvent('A')]);
      const second = await store.append(b, [newEvent('B')]);
      const third = await store.append(a, [newEvent('A')]);
      expect(second.position.commit > first.position.commit).toBe(true);
      expect(third.position.commit > second.position.commit).toBe(true);
    });

    it('stores id, type, data and metadata as given', async () => {
      const stream = unique('app');
      const written = newEvent('Stored', { n: 1, s: 'é∑😀', nested: { list: [1, 'two', null, true] } }, { correlationId: 'c-1', n: 2 });
      await store.append(stream, [written]);
      const [read] = await collect(store.readStream(stream));
      expect(read?.id).toBe(written.id);
      expect(read?.type).toBe('Stored');
      expect(read?.streamId).toBe(stream);
      expect(read?.data).toEqual(written.data);
      expect(read?.metadata).toMatchObject({ correlationId: 'c-1', n: 2 });
      expect(read?.created).toBeInstanceOf(Date);
    });

    describe('expected revision on a new stream', () => {
      it('any succeeds', async () => {
        expect((await store.append(unique('app'), [newEvent('E')], { expectedRevision: 'any' })).nextExpectedRevision).toBe(0n);
      });
      it('no_stream succeeds', async () => {
        expect((await store.append(unique('app'), [newEvent('E')], { expectedRevision: 'no_stream' })).nextExpectedRevision).toBe(0n);
      });
      it('stream_exists fails with actual no_stream', async () => {
        await expectWrongVersion(unique('app'), 'stream_exists', 'no_stream');
      });
      it('a revision fails with actual no_stream', async () => {
        await expectWrongVersion(unique('app'), 0n, 'no_stream');
        await expectWrongVersion(unique('app'), 7n, 'no_stream');
      });
    });

    describe('expected revision on an existing stream (revisions 0..2)', () => {
      it('any appends after the last revision', async () => {
        const stream = await streamWith(3);
        expect((await store.append(stream, [newEvent('E')], { expectedRevision: 'any' })).nextExpectedRevision).toBe(3n);
      });
      it('stream_exists appends', async () => {
        const stream = await streamWith(3);
        expect((await store.append(stream, [newEvent('E')], { expectedRevision: 'stream_exists' })).nextExpectedRevision).toBe(3n);
      });
      it('the current revision appends', async () => {
        const stream = await streamWith(3);
        expect((await store.append(stream, newEvents('E', 2), { expectedRevision: 2n })).nextExpectedRevision).toBe(4n);
      });
      it('no_stream fails with the actual revision', async () => {
        await expectWrongVersion(await streamWith(3), 'no_stream', 2n);
      });
      it('an older revision with new events fails', async () => {
        await expectWrongVersion(await streamWith(3), 1n, 2n);
      });
      it('a future revision fails', async () => {
        await expectWrongVersion(await streamWith(3), 3n, 2n);
        await expectWrongVersion(await streamWith(3), 10n, 2n);
      });
      it('a failed append writes nothing', async () => {
        const stream = await streamWith(3);
        await expectWrongVersion(stream, 0n, 2n);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n]);
      });
    });

    describe('expected revision on a soft-deleted stream (revisions 0..1)', () => {
      it('any continues the numbering and only new events are visible', async () => {
        const stream = await softDeletedWith(2);
        expect((await store.append(stream, [newEvent('E')], { expectedRevision: 'any' })).nextExpectedRevision).toBe(2n);
        expect(await revisionsOf(store, stream)).toEqual([2n]);
      });
      it('the last revision continues the numbering', async () => {
        const stream = await softDeletedWith(2);
        expect((await store.append(stream, [newEvent('E')], { expectedRevision: 1n })).nextExpectedRevision).toBe(2n);
        expect(await revisionsOf(store, stream)).toEqual([2n]);
      });
      it('stream_exists fails as deleted', async () => {
        const stream = await softDeletedWith(2);
        await caught(() => store.append(stream, [newEvent('E')], { expectedRevision: 'stream_exists' }), StreamDeletedError);
      });
      it('no_stream fails: the last revision still counts', async () => {
        await expectWrongVersion(await softDeletedWith(2), 'no_stream', 1n);
      });
      it('another revision fails with the last revision', async () => {
        await expectWrongVersion(await softDeletedWith(2), 0n, 1n);
        await expectWrongVersion(await softDeletedWith(2), 5n, 1n);
      });
    });

    describe('expected revision on a tombstoned stream', () => {
      const cases: [string, ExpectedRevision][] = [
        ['any', 'any'],
        ['no_stream', 'no_stream'],
        ['stream_exists', 'stream_exists'],
        ['its last revision', 1n],
        ['another revision', 0n],
      ];
      for (const [label, expectedRevision] of cases) {
        it(`${label} fails with StreamDeleted`, async () => {
          const stream = await tombstonedWith(2);
          const error = await caught(() => store.append(stream, [newEvent('E')], { expectedRevision }), StreamDeletedError);
          expect(error.streamName).toBe(stream);
        });
      }
    });

    describe('idempotent re-append', () => {
      it('the same events at the same revision return the original result and write nothing', async () => {
        const stream = await streamWith(2);
        const batch = newEvents('Once', 3);
        const first = await store.append(stream, batch, { expectedRevision: 1n });
        const again = await store.append(stream, batch, { expectedRevision: 1n });
        expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n, 3n, 4n]);
      });

      it('the same events with no_stream return the original result', async () => {
        const stream = unique('app');
        const batch = newEvents('Once', 2);
        const first = await store.append(stream, batch, { expectedRevision: 'no_stream' });
        await store.append(stream, newEvents('Later', 2));
        const again = await store.append(stream, batch, { expectedRevision: 'no_stream' });
        expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n, 3n]);
      });

      it('a prefix of an earlier batch is idempotent too', async () => {
        const stream = unique('app');
        const batch = newEvents('Once', 3);
        await store.append(stream, batch, { expectedRevision: 'no_stream' });
        const again = await store.append(stream, batch.slice(0, 2), { expectedRevision: 'no_stream' });
        expect(again.nextExpectedRevision).toBe(1n);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n]);
      });

      it('a partial match fails with WrongExpectedVersion', async () => {
        const stream = await streamWith(1);
        const batch = newEvents('Once', 2);
        await store.append(stream, batch, { expectedRevision: 0n });
        const partial = [batch[0] ?? newEvent('x'), newEvent('Different')];
        await caught(() => store.append(stream, partial, { expectedRevision: 0n }), WrongExpectedVersionError);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n]);
      });

      it('a different first event fails with WrongExpectedVersion', async () => {
        const stream = await streamWith(1);
        const batch = newEvents('Once', 2);
        await store.append(stream, batch, { expectedRevision: 0n });
        const different = [newEvent('Different'), batch[1] ?? newEvent('x')];
        await caught(() => store.append(stream, different, { expectedRevision: 0n }), WrongExpectedVersionError);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n]);
      });

      it('with any, a retried batch returns the original result and writes nothing', async () => {
        const stream = await streamWith(1);
        const batch = newEvents('Retried', 2);
        const first = await store.append(stream, batch, { expectedRevision: 'any' });
        const again = await store.append(stream, batch, { expectedRevision: 'any' });
        expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n]);
      });

      it('with stream_exists, a retried batch returns the original result and writes nothing', async () => {
        const stream = await streamWith(1);
        const batch = [newEvent('Retried')];
        const first = await store.append(stream, batch, { expectedRevision: 'stream_exists' });
        const again = await store.append(stream, batch, { expectedRevision: 'stream_exists' });
        expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n]);
      });

      it('idempotency is per stream: the same ids may go to another stream', async () => {
        const batch = newEvents('Shared', 2);
        const a = await store.append(unique('app'), batch);
        const other = unique('app');
        const b = await store.append(other, batch);
        expect(b.nextExpectedRevision).toBe(1n);
        expect(b.position.commit > a.position.commit).toBe(true);
        expect(await revisionsOf(store, other)).toEqual([0n, 1n]);
      });
    });

    describe('concurrent appends', () => {
      it('appends to many streams at once all succeed', async () => {
        const streams = Array.from({ length: 20 }, () => unique('app'));
        const results = await Promise.all(streams.map((s) => store.append(s, newEvents('Parallel', 2), { expectedRevision: 'no_stream' })));
        expect(results.map((r) => r.nextExpectedRevision)).toEqual(streams.map(() => 1n));
        expect(new Set(results.map((r) => r.position.commit)).size).toBe(streams.length);
      });

      it('two writers at the same expected revision: exactly one wins, the other gets WrongExpectedVersion', async () => {
        const stream = await streamWith(1);
        const outcomes = await Promise.allSettled([
          store.append(stream, [newEvent('Writer1')], { expectedRevision: 0n }),
          store.append(stream, [newEvent('Writer2')], { expectedRevision: 0n }),
        ]);
        expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
        const rejected = outcomes.find((o) => o.status === 'rejected');
        expect(rejected?.status === 'rejected' && rejected.reason instanceof WrongExpectedVersionError).toBe(true);
        expect(await revisionsOf(store, stream)).toEqual([0n, 1n]);
      });
    });
  });
}
