/** LruCache against a plain model of least-recently-used order (an array, most recent last). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/shared/lru.js';

type Op = { readonly kind: 'get'; readonly key: number } | { readonly kind: 'delete'; readonly key: number } | { readonly kind: 'set'; readonly key: number; readonly value: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 5 }), value: fc.integer() }),
);

describe('LruCache', () => {
  it('keeps the most recently used entries, evicting the least recently used, as the model does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const evicted: [number, number][] = [];
        const cache = new LruCache<number, number>(capacity, (value, key) => evicted.push([key, value]));
        let model: [number, number][] = [];
        const modelEvicted: [number, number][] = [];
        for (const o of ops) {
          const at = model.findIndex(([key]) => key === o.key);
          if (o.kind === 'get') {
            const entry = model[at];
            expect(cache.get(o.key)).toBe(entry?.[1]);
            if (entry) model = [...model.filter((_, i) => i !== at), entry];
          } else if (o.kind === 'delete') {
            expect(cache.delete(o.key)).toBe(at >= 0);
            if (at >= 0) {
              modelEvicted.push(model[at] as [number, number]);
              model = model.filter((_, i) => i !== at);
            }
          } else {
            const previous = model[at];
            if (previous && previous[1] !== o.value) modelEvicted.push(previous);
            model = [...model.filter((_, i) => i !== at), [o.key, o.value]];
            while (model.length > capacity) modelEvicted.push(model.shift() as [number, number]);
            cache.set(o.key, o.value);
          }
          expect(cache.size).toBe(model.length);
        }
        expect(evicted).toEqual(modelEvicted);
      }),
      { numRuns: 500 },
    );
  });
});
