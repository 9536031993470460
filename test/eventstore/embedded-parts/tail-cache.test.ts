import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TailCache } from '../../../src/eventstore/embedded/tail-cache.js';
import type { RecordedEvent } from '../../../src/eventstore/port.js';

/** A log whose seqs may have gaps (as after rolled-back batches), and a counting query over it. */
function log() {
  const events: RecordedEvent[] = [];
  let queries = 0;
  let next = 1n;
  return {
    append(count: number, gap: number): bigint {
      next += BigInt(gap);
      for (let i = 0; i < count; i++) {
        events.push({ id: `e${next}`, type: 't', streamId: 's', revision: next, position: { commit: next, prepare: next }, data: {}, metadata: {}, created: new Date(0) });
        next += 1n;
      }
      return events.length === 0 ? 0n : (events[events.length - 1] as RecordedEvent).position.commit;
    },
    query: (after: bigint, limit: number): RecordedEvent[] => {
      queries += 1;
      return events.filter((event) => event.position.commit > after).slice(0, limit);
    },
    get queries() {
      return queries;
    },
  };
}

describe('TailCache', () => {
  it('answers every read exactly as the database would, whatever the cursors, limits and appends', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 0, max: 40 }), gap: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('read' as const), back: fc.integer({ min: 0, max: 3_000 }), limit: fc.integer({ min: 1, max: 600 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const db = log();
        const cache = new TailCache(db.query);
        let head = 0n;
        for (const s of steps) {
          if (s.kind === 'append') head = db.append(s.count, s.gap);
          else {
            const after = head - BigInt(s.back) < 0n ? 0n : head - BigInt(s.back);
            expect(cache.read(after, s.limit, head).map((e) => e.id)).toEqual(db.query(after, s.limit).map((e) => e.id));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('serves readers at the head from memory: one query per new batch, not one per reader', () => {
    const db = log();
    const cache = new TailCache(db.query);
    let head = db.append(5, 0);
    for (let reader = 0; reader < 10; reader++) cache.read(0n, 100, head);
    expect(db.queries).toBe(1);
    const before = head;
    head = db.append(3, 0);
    for (let reader = 0; reader < 10; reader++) expect(cache.read(before, 100, head)).toHaveLength(3);
    expect(db.queries).toBe(2);
  });

  it('does not hide events the store knows were committed beyond the cached run', () => {
    const db = log();
    const cache = new TailCache(db.query);
    const first = db.append(2, 0);
    cache.read(0n, 100, first);
    // Another process committed; the store learnt the new head (its poll).
    const head = db.append(2, 1);
    expect(cache.read(first, 100, head).map((e) => e.position.commit)).toEqual([4n, 5n]);
  });
});
