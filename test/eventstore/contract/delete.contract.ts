import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamDeletedError, StreamNotFoundError, WrongExpectedVersionError } from '../../../src/eventstore/errors.js';
import type { EventStore } from '../../../src/eventstore/port.js';
import { caught, collect, newEvent, newEvents, revisionsOf } from './helpers.js';
import { type StoreLane, unique } from './lane.js';

/** Soft delete (deleteStream) and hard delete (tombstoneStream). */
export function deleteContract(lane: () => StoreLane): void {
  describe('deleteStream (soft delete)', () => {
    let store: EventStore;
    beforeAll(async () => {
      store = await lane().open();
    });
    afterAll(async () => {
      await store.close();
    });

    async function streamWith(count: number): Promise<string> {
      const stream = unique('del');
      await store.append(stream, newEvents('Before', count));
      return stream;
    }

    it('makes reads raise StreamNotFound', async () => {
      const stream = await streamWith(3);
      await store.deleteStream(stream);
      await caught(() => collect(store.readStream(stream)), StreamNotFoundError);
      await caught(() => collect(store.readStream(stream, { direction: 'backwards' })), StreamNotFoundError);
    });

    it('a later append continues the numbering and only new events are visible', async () => {
      const stream = await streamWith(3);
      await store.deleteStream(stream);
      const result = await store.append(stream, newEvents('After', 2));
      expect(result.nextExpectedRevision).toBe(4n);
      const events = await collect(store.readStream(stream));
      expect(events.map((e) => [e.revision, e.type])).toEqual([
        [3n, 'After'],
        [4n, 'After'],
      ]);
      expect(await revisionsOf(store, stream)).toEqual([3n, 4n]);
      const backwards = await collect(store.readStream(stream, { direction: 'backwards' }));
      expect(backwards.map((e) => e.revision)).toEqual([4n, 3n]);
    });

    it('can be deleted again after new events', async () => {
      const stream = await streamWith(1);
      await store.deleteStream(stream);
      await store.append(stream, [newEvent('After')]);
      await store.deleteStream(stream, { expectedRevision: 1n });
      await caught(() => collect(store.readStream(stream)), StreamNotFoundError);
    });

    it('honours expectedRevision', async () => {
      const stream = await streamWith(3);
      const error = await caught(() => store.deleteStream(stream, { expectedRevision: 1n }), WrongExpectedVersionError);
      expect(error.actualVersion).toBe(2n);
      expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n]);
      await store.deleteStream(stream, { expectedRevision: 2n });
      await caught(() => collect(store.readStream(stream)), StreamNotFoundError);
    });

    it('with stream_exists on a missing stream fails with WrongExpectedVersion', async () => {
      await caught(() => store.deleteStream(unique('del'), { expectedRevision: 'stream_exists' }), WrongExpectedVersionError);
    });
  });

  describe('tombstoneStream (hard delete)', () => {
    let store: EventStore;
    beforeAll(async () => {
      store = await lane().open();
    });
    afterAll(async () => {
      await store.close();
    });

    async function tombstoned(): Promise<string> {
      const stream = unique('tomb');
      await store.append(stream, newEvents('Before', 2));
      await store.tombstoneStream(stream);
      return stream;
    }

    it('makes reads raise StreamDeleted', async () => {
      const stream = await tombstoned();
      const error = await caught(() => collect(store.readStream(stream)), StreamDeletedError);
      expect(error.streamName).toBe(stream);
      await caught(() => collect(store.readStream(stream, { direction: 'backwards' })), StreamDeletedError);
    });

    it('makes appends fail with StreamDeleted forever', async () => {
      const stream = await tombstoned();
      await caught(() => store.append(stream, [newEvent('After')]), StreamDeletedError);
      await caught(() => store.append(stream, [newEvent('After')], { expectedRevision: 'no_stream' }), StreamDeletedError);
      await caught(() => store.append(stream, [newEvent('After')]), StreamDeletedError);
    });

    it('cannot be soft-deleted or tombstoned again', async () => {
      const stream = await tombstoned();
      await caught(() => store.deleteStream(stream), StreamDeletedError);
      await caught(() => store.tombstoneStream(stream), StreamDeletedError);
    });

    it('also works on a soft-deleted stream', async () => {
      const stream = unique('tomb');
      await store.append(stream, newEvents('Before', 2));
      await store.deleteStream(stream);
      await store.tombstoneStream(stream);
      await caught(() => collect(store.readStream(stream)), StreamDeletedError);
      await caught(() => store.append(stream, [newEvent('After')]), StreamDeletedError);
    });

    it('honours expectedRevision', async () => {
      const stream = unique('tomb');
      await store.append(stream, newEvents('Before', 2));
      const error = await caught(() => store.tombstoneStream(stream, { expectedRevision: 0n }), WrongExpectedVersionError);
      expect(error.actualVersion).toBe(1n);
      expect(await revisionsOf(store, stream)).toEqual([0n, 1n]);
      await store.tombstoneStream(stream, { expectedRevision: 1n });
      await caught(() => collect(store.readStream(stream)), StreamDeletedError);
    });
  });
}
