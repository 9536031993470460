import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  MaxAppendSizeExceededError,
  StoreUnavailableError,
  StreamNotFoundError,
} from '../../../src/eventstore/errors.js';
import type { EventData, EventStore, ExpectedRevision, Position } from '../../../src/eventstore/port.js';
import { caught, collect, newEvent, ownEventsAfter } from './helpers.js';
import { type StoreLane, unique } from './lane.js';

/** Bad input fails with a typed error and writes nothing; a closed store refuses everything. */
export function invalidInputContract(lane: () => StoreLane): void {
  describe('invalid input', () => {
    let store: EventStore;
    let prefix: string;
    beforeAll(async () => {
      store = await lane().open();
      prefix = unique('bad');
    });
    afterAll(async () => {
      await store.close();
    });

    /** The append fails with `type`, and nothing reached $all (checked on this test's own stream prefix). */
    async function rejectsAppend(
      stream: string,
      events: unknown,
      type: abstract new (...args: never[]) => Error,
      expectedRevision: unknown = 'any',
    ): Promise<void> {
      const before: Position | undefined = await store.headPosition();
      await caught(() => store.append(stream, events as EventData[], { expectedRevision: expectedRevision as ExpectedRevision }), type);
      const after = await store.headPosition();
      if (after?.commit !== before?.commit) expect(await ownEventsAfter(store, before, prefix)).toEqual([]);
      if (stream.startsWith(prefix)) await caught(() => collect(store.readStream(stream)), StreamNotFoundError);
    }

    const own = (): string => `${prefix}-${randomUUID().slice(0, 8)}`;
    const event = (overrides: Record<string, unknown>): unknown => ({ ...newEvent('Valid', { ok: true }), ...overrides });

    it('an empty stream name', async () => {
      await rejectsAppend('', [newEvent('E')], InvalidArgumentError);
    });

    it('a $-prefixed (system) stream on the public append', async () => {
      await rejectsAppend(`$${unique('sys')}`, [newEvent('E')], InvalidArgumentError);
    });

    it('no events', async () => {
      await rejectsAppend(own(), [], InvalidArgumentError);
    });

    it('an event without a type, with a non-string type or an empty type', async () => {
      await rejectsAppend(own(), [event({ type: undefined })], InvalidArgumentError);
      await rejectsAppend(own(), [event({ type: 42 })], InvalidArgumentError);
      await rejectsAppend(own(), [event({ type: '' })], InvalidArgumentError);
    });

    it('an id that is not a uuid', async () => {
      await rejectsAppend(own(), [event({ id: 'not-a-uuid' })], InvalidArgumentError);
      await rejectsAppend(own(), [event({ id: undefined })], InvalidArgumentError);
    });

    it('data that is not JSON-serialisable', async () => {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      await rejectsAppend(own(), [event({ data: { f: () => 1 } })], InvalidArgumentError);
      await rejectsAppend(own(), [event({ data: { n: 10n } })], InvalidArgumentError);
      await rejectsAppend(own(), [event({ data: cyclic })], InvalidArgumentError);
      await rejectsAppend(own(), [event({ data: undefined })], InvalidArgumentError);
    });

    it('metadata that is not a JSON object', async () => {
      await rejectsAppend(own(), [event({ metadata: [1, 2] })], InvalidArgumentError);
      await rejectsAppend(own(), [event({ metadata: { n: 1n } })], InvalidArgumentError);
    });

    it('one bad event fails the whole batch', async () => {
      await rejectsAppend(own(), [newEvent('Good'), event({ id: 'nope' })], InvalidArgumentError);
    });

    it('a negative or malformed expectedRevision', async () => {
      await rejectsAppend(own(), [newEvent('E')], InvalidArgumentError, -1n);
      await rejectsAppend(own(), [newEvent('E')], InvalidArgumentError, 'sometimes');
      await rejectsAppend(own(), [newEvent('E')], InvalidArgumentError, 3);
    });

    it('a batch over the maximum append size (1 MiB)', async () => {
      const big = 'x'.repeat(600_000);
      const error = await caught(
        () => store.append(own(), [newEvent('Big', { big }), newEvent('Big', { big })]),
        MaxAppendSizeExceededError,
      );
      expect(error.size).toBeGreaterThan(1_048_576);
      await rejectsAppend(own(), [newEvent('Big', { big: 'y'.repeat(1_100_000) })], MaxAppendSizeExceededError);
    });

    it('a negative fromRevision, raised when the read is iterated', async () => {
      const stream = own();
      await store.append(stream, [newEvent('E')]);
      await caught(() => collect(store.readStream(stream, { fromRevision: -1n })), InvalidArgumentError);
    });

    it('a negative fromPosition', async () => {
      await caught(() => collect(store.readAll({ fromPosition: { commit: -1n, prepare: -1n } })), InvalidArgumentError);
    });

    it('an invalid filter regex', async () => {
      await caught(() => collect(store.readAll({ filter: { on: 'eventType', regex: '([' } })), InvalidArgumentError);
    });
  });

  describe('lifecycle', () => {
    it('is healthy when open and keeps its events across a reopen', async () => {
      let store = await lane().open();
      try {
        expect((await store.health()).ok).toBe(true);
        const stream = unique('reopen');
        const written = await store.append(stream, [newEvent('Kept', { kept: true })]);
        store = await lane().reopen(store);
        const [read] = await collect(store.readStream(stream));
        expect(read?.data).toEqual({ kept: true });
        expect(read?.position).toEqual(written.position);
        const head = await store.headPosition();
        expect(head !== undefined && head.commit >= written.position.commit).toBe(true);
      } finally {
        await store.close();
      }
    });
  });

  describe('a closed store', () => {
    let store: EventStore;
    let stream: string;
    beforeAll(async () => {
      store = await lane().open();
      stream = unique('closed');
      await store.append(stream, [newEvent('E')]);
      await store.close();
    });

    it('refuses appends, deletes and reads with StoreUnavailable', async () => {
      await caught(() => store.append(stream, [newEvent('E')]), StoreUnavailableError);
      await caught(() => store.deleteStream(stream), StoreUnavailableError);
      await caught(() => store.tombstoneStream(stream), StoreUnavailableError);
      await caught(() => collect(store.readStream(stream)), StoreUnavailableError);
      await caught(() => collect(store.readAll()), StoreUnavailableError);
      await caught(() => store.headPosition(), StoreUnavailableError);
      await caught(() => collect(store.subscribeToAll()), StoreUnavailableError);
    });

    it('reports itself unhealthy, and close() is idempotent', async () => {
      expect((await store.health()).ok).toBe(false);
      await store.close();
      await store.close();
    });
  });
}
