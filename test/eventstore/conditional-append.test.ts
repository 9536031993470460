import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import { EventStoreDbStore } from '../../src/eventstore/eventstoredb/store.js';
import { ConditionFailedError, InvalidArgumentError } from '../../src/eventstore/errors.js';
import type { AppendCondition } from '../../src/eventstore/port.js';
import { caught, newEvent, newEvents, revisionsOf } from './contract/helpers.js';
import { unique } from './contract/lane.js';

/** AppendWriteOptions.conditions on the embedded store: checked in the append's transaction, on the event loop or on the commit thread. */
let dir: string;
const stores: EmbeddedEventStore[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conditional-append-'));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function open(commitThread: boolean): Promise<EmbeddedEventStore> {
  const store = await EmbeddedEventStore.open({ path: join(dir, `${unique('events')}.db`), commitThread });
  stores.push(store);
  return store;
}

for (const commitThread of [false, true]) {
  describe(`conditional appends (${commitThread ? 'commit thread' : 'event loop'})`, () => {
    it('write while every condition holds', async () => {
      const store = await open(commitThread);
      expect(store.conditionalAppends).toBe(true);
      const [a, b, target] = [unique('a'), unique('b'), unique('t')];
      await store.append(a, newEvents('A', 2));
      await store.append(b, newEvents('B', 1));
      const conditions: AppendCondition[] = [
        { stream: a, revision: 1n },
        { stream: b, revision: 0n },
      ];
      expect((await store.append(target, [newEvent('T')], { expectedRevision: 'no_stream', conditions })).nextExpectedRevision).toBe(0n);
      expect(await revisionsOf(store, target)).toEqual([0n]);
    });

    it('fail with ConditionFailedError and write nothing when a stream moved on, never existed or was deleted', async () => {
      const store = await open(commitThread);
      const [moved, missing, deleted, target] = [unique('moved'), unique('missing'), unique('deleted'), unique('t')];
      await store.append(moved, newEvents('M', 2));
      await store.append(deleted, newEvents('D', 1));
      await store.deleteStream(deleted);

      const stale = await caught(() => store.append(target, [newEvent('T')], { conditions: [{ stream: moved, revision: 0n }] }), ConditionFailedError);
      expect(stale).toMatchObject({ code: 'CONDITION_FAILED', streamName: moved, expectedRevision: 0n, actual: 1n });
      expect(await caught(() => store.append(target, [newEvent('T')], { conditions: [{ stream: missing, revision: 0n }] }), ConditionFailedError)).toMatchObject({ actual: 'no_stream' });
      // A soft delete keeps the last revision: the condition must still fail (the stream reads as not found).
      expect(await caught(() => store.append(target, [newEvent('T')], { conditions: [{ stream: deleted, revision: 0n }] }), ConditionFailedError)).toMatchObject({ actual: 'deleted' });
      expect(await store.headPosition()).toEqual({ commit: 3n, prepare: 3n });
      expect((await store.readStream(target, { notFound: 'empty' })[Symbol.asyncIterator]().next()).done).toBe(true);
    });

    it('a failed condition fails only its own append in a group commit', async () => {
      const store = await open(commitThread);
      const [dependency, target, other] = [unique('dep'), unique('t'), unique('o')];
      await store.append(dependency, newEvents('D', 1));
      const outcomes = await Promise.allSettled([
        store.append(target, [newEvent('T')], { conditions: [{ stream: dependency, revision: 5n }] }),
        store.append(other, [newEvent('O')], { conditions: [{ stream: dependency, revision: 0n }] }),
        store.append(dependency, [newEvent('D')]),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
      expect(outcomes[0]?.status === 'rejected' && outcomes[0].reason instanceof ConditionFailedError).toBe(true);
      expect(await revisionsOf(store, other)).toEqual([0n]);
      expect(await revisionsOf(store, dependency)).toEqual([0n, 1n]);
    });

    it('an idempotent re-append returns its original result without checking the conditions again', async () => {
      const store = await open(commitThread);
      const [dependency, target] = [unique('dep'), unique('t')];
      await store.append(dependency, newEvents('D', 1));
      const batch = [newEvent('T')];
      const first = await store.append(target, batch, { expectedRevision: 'no_stream', conditions: [{ stream: dependency, revision: 0n }] });
      await store.append(dependency, [newEvent('D')]);
      expect(await store.append(target, batch, { expectedRevision: 'no_stream', conditions: [{ stream: dependency, revision: 0n }] })).toEqual(first);
    });
  });
}

describe('conditional appends: input', () => {
  it('refuses malformed conditions and a condition on the appended stream itself', async () => {
    const store = await open(false);
    const stream = unique('s');
    await caught(() => store.append(stream, [newEvent('E')], { conditions: [{ stream, revision: 0n }] }), InvalidArgumentError);
    await caught(() => store.append(stream, [newEvent('E')], { conditions: [{ stream: unique('o'), revision: -1n }] }), InvalidArgumentError);
    await caught(() => store.append(stream, [newEvent('E')], { conditions: [{ stream: '', revision: 0n }] }), InvalidArgumentError);
    await caught(() => store.append(stream, [newEvent('E')], { conditions: [{ stream: unique('o'), revision: 0 as unknown as bigint }] }), InvalidArgumentError);
    expect(await store.headPosition()).toBeUndefined();
  });
});

describe('conditional appends on EventStoreDB', () => {
  it('are refused before anything is sent: the server cannot check another stream', async () => {
    // No server needed: the client connects lazily, and the refusal comes first.
    const store = EventStoreDbStore.connect('esdb://127.0.0.1:1?tls=false');
    try {
      expect(store.conditionalAppends).not.toBe(true);
      await caught(() => store.append(unique('s'), [newEvent('E')], { conditions: [{ stream: unique('o'), revision: 0n }] }), InvalidArgumentError);
    } finally {
      await store.close();
    }
  });
});
