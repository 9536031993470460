/**
 * Sealing deferred to the committing thread: the envelope completed in place of the placeholder is
 * the one sealValues would have written (it opens with the same key and event type, and with
 * nothing else), the placeholder is as long as the envelope (the append's size is checked before
 * the hand-off), and a placeholder found other than once writes nothing.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/eventstore/port.js';
import { deferSealValues, openValues, parseSealed } from '../../src/security/crypto.js';
import { completeSeal, sealNow } from '../../src/shared/deferred-seal.js';

const KEY_ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const TYPE = 'ai.scoring.requested.v1';

describe('deferred seals', () => {
  it('complete into an envelope that opens with the key and event type, as long as its placeholder, for any values', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).map((k) => `/${k}`), fc.jsonValue() as fc.Arbitrary<JsonValue>), (values) => {
        const key = randomBytes(32);
        const seal = deferSealValues(KEY_ID, key, TYPE, values);
        const data = JSON.stringify({ before: 'x', field: seal.placeholder, after: [1, 2] });
        const completed = completeSeal(data, seal);
        const field = (JSON.parse(completed) as { field: string }).field;
        expect(field).toHaveLength(seal.placeholder.length);
        expect(Buffer.byteLength(completed)).toBe(Buffer.byteLength(data));
        const envelope = parseSealed(field);
        expect(envelope?.keyId).toBe(KEY_ID);
        expect(openValues(envelope!, key, TYPE)).toEqual(JSON.parse(JSON.stringify(values)));
        expect(() => openValues(envelope!, key, 'ai.scoring.completed.v1')).toThrow();
        expect(() => openValues(envelope!, randomBytes(32), TYPE)).toThrow();
        expect(JSON.parse(completed)).toMatchObject({ before: 'x', after: [1, 2] });
      }),
      { numRuns: 200 },
    );
  });

  it('use a fresh IV each time: the same values seal to different envelopes', () => {
    const key = randomBytes(32);
    const seal = deferSealValues(KEY_ID, key, TYPE, { '/name': 'Ann' });
    expect(sealNow(seal)).not.toBe(sealNow(seal));
    expect(deferSealValues(KEY_ID, key, TYPE, { '/name': 'Ann' }).placeholder).not.toBe(seal.placeholder);
  });

  it('write nothing when the placeholder is missing or there twice', () => {
    const seal = deferSealValues(KEY_ID, randomBytes(32), TYPE, { '/name': 'Ann' });
    expect(() => completeSeal(JSON.stringify({ field: 'something else' }), seal)).toThrow(/exactly once/);
    expect(() => completeSeal(JSON.stringify({ a: seal.placeholder, b: seal.placeholder }), seal)).toThrow(/exactly once/);
    // Inside a longer string it is not the field's value: not a match.
    expect(() => completeSeal(JSON.stringify({ a: `x${seal.placeholder}` }), seal)).toThrow(/exactly once/);
  });
});
