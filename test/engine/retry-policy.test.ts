import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canRetry, DEFAULT_RETRY_POLICY, delayCap, delayFor, retryPolicy, worstCaseRetryTime } from '../../src/engine/retry-policy.js';

const policyArb = fc.record({
  maxRetries: fc.integer({ min: 0, max: 20 }),
  retryDelay: fc.integer({ min: 0, max: 60_000 }),
  exponentialBackoff: fc.boolean(),
  maxRetryDelay: fc.integer({ min: 0, max: 120_000 }),
  jitter: fc.boolean(),
});
const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('retry policy', () => {
  it('has the spec defaults', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({ maxRetries: 3, retryDelay: 1000, exponentialBackoff: true, maxRetryDelay: 30000, jitter: true });
    expect(retryPolicy()).toEqual(DEFAULT_RETRY_POLICY);
    expect(retryPolicy({ maxRetries: 5 }).maxRetries).toBe(5);
  });

  it('doubles the cap per attempt up to maxRetryDelay', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => delayCap(a))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(delayCap(1_000_000)).toBe(30000);
    expect([1, 2, 3].map((a) => delayCap(a, retryPolicy({ exponentialBackoff: false })))).toEqual([1000, 1000, 1000]);
  });

  it('uses full jitter: random 0 gives 0, random near 1 gives the cap', () => {
    expect(delayFor(3, DEFAULT_RETRY_POLICY, () => 0)).toBe(0);
    expect(delayFor(3, DEFAULT_RETRY_POLICY, () => 0.9999999)).toBe(4000);
    expect(delayFor(3, DEFAULT_RETRY_POLICY, () => 0.5)).toBe(2000);
    expect(delayFor(3, retryPolicy({ jitter: false }), () => 0)).toBe(4000);
  });

  it('clamps a misbehaving random source', () => {
    expect(delayFor(2, DEFAULT_RETRY_POLICY, () => 7)).toBe(2000);
    expect(delayFor(2, DEFAULT_RETRY_POLICY, () => -1)).toBe(0);
    expect(delayFor(2, DEFAULT_RETRY_POLICY, () => Number.NaN)).toBe(0);
  });

  it('property: every delay is a whole number within [0, cap] and the cap never exceeds maxRetryDelay', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 200 }), randomArb, (policy, attempt, r) => {
        const cap = delayCap(attempt, policy);
        const delay = delayFor(attempt, policy, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(cap);
        expect(cap).toBeLessThanOrEqual(policy.maxRetryDelay);
        expect(Number.isFinite(cap)).toBe(true);
      }),
    );
  });

  it('property: caps are non-decreasing in the attempt', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 200 }), (policy, attempt) => {
        expect(delayCap(attempt + 1, policy)).toBeGreaterThanOrEqual(delayCap(attempt, policy));
      }),
    );
  });

  it('allows exactly maxRetries retries', () => {
    const policy = retryPolicy({ maxRetries: 2 });
    expect([0, 1, 2, 3].map((n) => canRetry(n, policy))).toEqual([true, true, false, false]);
    expect(worstCaseRetryTime()).toBe(1000 + 2000 + 4000);
  });

  it('rejects invalid settings', () => {
    expect(() => retryPolicy({ maxRetries: -1 })).toThrow(RangeError);
    expect(() => retryPolicy({ retryDelay: Number.NaN })).toThrow(RangeError);
    expect(() => delayCap(0)).toThrow(RangeError);
  });
});
