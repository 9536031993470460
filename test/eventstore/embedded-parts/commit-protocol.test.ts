import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packBatch, unpackBatch } from '../../../src/eventstore/embedded/commit-protocol.js';
import type { WriteRequest } from '../../../src/eventstore/embedded/writes.js';

const text = fc.string({ unit: 'binary', maxLength: 40 });
const revision = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n });
const expected = fc.oneof(fc.constantFrom('any' as const, 'no_stream' as const, 'stream_exists' as const), revision);
const event = fc.record({ id: fc.uuid(), type: text, data: text, metadata: text });
const request: fc.Arbitrary<WriteRequest> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), stream: text, events: fc.array(event, { minLength: 1, maxLength: 4 }), expected }),
  fc.record({ kind: fc.constant('append' as const), stream: text, events: fc.array(event, { minLength: 1, maxLength: 4 }), expected, conditions: fc.array(fc.record({ stream: text, revision }), { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'tombstone' as const), stream: text, expected }),
  fc.record({ kind: fc.constant('truncate' as const), stream: text, revision }),
);

describe('commit protocol: packed batches', () => {
  it('unpack(pack(batch)) is the batch, whatever the writes (strings of any content, every kind, bigints)', () => {
    fc.assert(
      fc.property(fc.array(request, { maxLength: 12 }), (batch) => {
        expect(unpackBatch(structuredClone(packBatch(batch)))).toEqual(batch);
      }),
    );
  });

  it('refuses a truncated or unknown batch instead of guessing', () => {
    const packed = packBatch([{ kind: 'truncate', stream: 's', revision: 3n }]);
    expect(() => unpackBatch(packed.slice(0, -1))).toThrow(/truncated/);
    expect(() => unpackBatch(['rename', 's'])).toThrow(/unknown write/);
  });
});
