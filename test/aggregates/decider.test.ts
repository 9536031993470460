import { describe, expect, it } from 'vitest';
import { fold, stateFromNewestFirst, type Decider } from '../../src/aggregates/decider.js';
import { BUSINESS_RULES, BusinessRuleError, isBusinessRuleError } from '../../src/aggregates/errors.js';
import { given } from './given-when-then.js';

type Cmd = { type: 'add'; n: number } | { type: 'reset' };
type Ev = { type: 'added'; n: number; total: number } | { type: 'noted' };
const counter: Decider<Cmd, Ev, number> = {
  initialState: 0,
  decide: (c, s) => {
    if (c.type === 'reset') throw new BusinessRuleError('SAME_PLAN', 'no');
    return [{ type: 'added', n: c.n, total: s + c.n }, { type: 'noted' }];
  },
  evolve: (s, e) => (e.type === 'added' ? e.total : s),
  isCheckpoint: (e) => e.type === 'added',
};

describe('decider helpers', () => {
  it('fold evolves from the initial state or a given one', () => {
    const events = [...counter.decide({ type: 'add', n: 2 }, 0), ...counter.decide({ type: 'add', n: 3 }, 2)];
    expect(fold(counter, events)).toBe(5);
    expect(fold(counter, [], 7)).toBe(7);
  });

  it('stateFromNewestFirst stops at the newest checkpoint, or reads all without isCheckpoint', () => {
    const events: Ev[] = [{ type: 'added', n: 2, total: 2 }, { type: 'noted' }, { type: 'added', n: 3, total: 5 }, { type: 'noted' }];
    expect(stateFromNewestFirst(counter, [...events].reverse())).toEqual({ state: 5, read: 2 });
    const { isCheckpoint: _ignored, ...plain } = counter;
    expect(stateFromNewestFirst(plain, [...events].reverse())).toEqual({ state: 5, read: 4 });
    expect(stateFromNewestFirst(counter, [])).toEqual({ state: 0, read: 0 });
  });

  it('BusinessRuleError carries code, kind and details', () => {
    const error = new BusinessRuleError('INVALID_SCORING_REQUEST', 'bad', [{ path: '/x', message: 'y' }]);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('BusinessRuleError');
    expect(error.kind).toBe('invalid');
    expect(error.details).toEqual([{ path: '/x', message: 'y' }]);
    expect(isBusinessRuleError(error)).toBe(true);
    expect(isBusinessRuleError(new Error('x'))).toBe(false);
    expect(new BusinessRuleError('SCORING_NOT_FOUND', 'x').kind).toBe('not_found');
    expect(new BusinessRuleError('SAME_PLAN', 'x').kind).toBe('conflict');
    for (const [code, rule] of Object.entries(BUSINESS_RULES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(['not_found', 'conflict', 'invalid']).toContain(rule.kind);
    }
  });

  it('given/when/then fails on unexpected events, missing errors and wrong codes', () => {
    expect(() => given(counter, []).when({ type: 'add', n: 1 }).then([])).toThrow();
    expect(() => given(counter, []).when({ type: 'add', n: 1 }).thenThrows('SAME_PLAN')).toThrow(/expected SAME_PLAN/);
    expect(() => given(counter, []).when({ type: 'reset' }).thenThrows('SCORING_NOT_FOUND')).toThrow();
    expect(given(counter, [{ type: 'added', n: 2, total: 2 }]).state).toBe(2);
    expect(given(counter, []).when({ type: 'reset' }).thenThrows('SAME_PLAN').message).toBe('no');
  });

  it('given/when/then checks emitted events against the contract schemas', () => {
    expect(() => given(counter, []).when({ type: 'add', n: 1 }).then([{ type: 'added', n: 1, total: 1 }, { type: 'noted' }])).toThrow(/must satisfy its schema/);
  });
});

describe('pricing', () => {
  it('charges the first month prorated from the start to the end of the UTC month', async () => {
    const { firstPeriodFeeCents } = await import('../../src/aggregates/pricing.js');
    expect(firstPeriodFeeCents(30_000, '2026-11-01T00:00:00.000Z')).toBe(30_000);
    expect(firstPeriodFeeCents(30_000, '2026-11-16T00:00:00.000Z')).toBe(15_000);
    expect(firstPeriodFeeCents(30_000, '2026-11-30T00:00:00.000Z')).toBe(1_000);
  });
});
