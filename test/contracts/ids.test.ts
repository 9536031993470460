import { describe, expect, it } from 'vitest';
import { ID_NAMESPACES, canonicalJson, deterministicEventId, newId } from '../../src/contracts/ids.js';
import { isValid } from '../../src/contracts/validation.js';
import { Uuid, billingPeriodOf, startOfNextPeriod } from '../../src/contracts/common.js';

describe('deterministicEventId', () => {
  it('is RFC 4122 uuid v5 (known vector: DNS namespace, www.example.com)', () => {
    expect(deterministicEventId('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('is stable, key- and namespace-sensitive, and a valid uuid', () => {
    const a = deterministicEventId(ID_NAMESPACES.usage, 'acme/3f1c2b4a');
    expect(deterministicEventId(ID_NAMESPACES.usage, 'acme/3f1c2b4a')).toBe(a);
    expect(deterministicEventId(ID_NAMESPACES.usage, 'acme/3f1c2b4b')).not.toBe(a);
    expect(deterministicEventId(ID_NAMESPACES.payment, 'acme/3f1c2b4a')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isValid(Uuid(), a)).toBe(true);
    expect(deterministicEventId(ID_NAMESPACES.usage, 'é/ü')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('hashes the key as UTF-8 bytes, a lone surrogate included (as U+FFFD), instead of throwing', () => {
    expect(deterministicEventId(ID_NAMESPACES.payment, 'pay-\uD800/succeeded')).toBe(deterministicEventId(ID_NAMESPACES.payment, 'pay-\uFFFD/succeeded'));
    expect(deterministicEventId(ID_NAMESPACES.payment, 'pay-\uD800/succeeded')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('rejects a namespace that is not a uuid', () => {
    expect(() => deterministicEventId('usage', 'k')).toThrow(TypeError);
  });

  it('namespaces are distinct uuids', () => {
    const values = Object.values(ID_NAMESPACES);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(isValid(Uuid(), v)).toBe(true);
  });
});

describe('newId', () => {
  it('is a UUIDv7 (RFC 9562) carrying the time it was minted, and a valid uuid for the contracts', () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const mintedAt = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(mintedAt).toBeGreaterThanOrEqual(before);
    expect(mintedAt).toBeLessThanOrEqual(after);
    expect(isValid(Uuid(), id)).toBe(true);
  });

  it('sorts in the order the ids were minted, within one millisecond too (what keeps index inserts at the right edge)', () => {
    const ids = Array.from({ length: 20_000 }, () => newId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":2,"z":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson([undefined])).toBe('[null]');
    expect(canonicalJson('x')).toBe('"x"');
  });
});

describe('billing periods', () => {
  it('are UTC calendar months', () => {
    expect(billingPeriodOf('2025-03-14T09:26:53Z')).toBe('2025-03');
    expect(billingPeriodOf('2025-01-31T23:30:00-05:00')).toBe('2025-02');
    expect(startOfNextPeriod('2025-12-14T09:26:53Z')).toBe('2026-01-01T00:00:00.000Z');
    expect(() => billingPeriodOf('soon')).toThrow(RangeError);
    expect(() => startOfNextPeriod('soon')).toThrow(RangeError);
  });
});
