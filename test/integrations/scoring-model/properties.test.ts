import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { underwrite } from '../../../src/integrations/scoring-model/underwriting.js';
import { InProcessUnderwritingModel } from '../../../src/integrations/scoring-model/model.js';
import {
  EMPLOYMENT_STATUSES,
  LOAN_PURPOSES,
  OCCUPANCIES,
  PROPERTY_TYPES,
  RISK_BANDS,
  type ScoringInput,
} from '../../../src/integrations/scoring-model/types.js';

/** Arbitrary valid application; the loan is either value - down, or independent (LTV up to 150%). */
const scoringInput: fc.Arbitrary<ScoringInput> = fc
  .record({
    annualIncome: fc.integer({ min: 0, max: 3_000_000 }),
    monthlyDebts: fc.integer({ min: 0, max: 30_000 }),
    creditScore: fc.integer({ min: 300, max: 850 }),
    employment: fc.record({
      status: fc.constantFrom(...EMPLOYMENT_STATUSES),
      years: fc.double({ min: 0, max: 60, noNaN: true }),
    }),
    propertyValue: fc.integer({ min: 10_000, max: 10_000_000 }),
    downPercent: fc.integer({ min: 0, max: 99 }),
    independentLtv: fc.option(fc.integer({ min: 1, max: 150 }), { nil: undefined }),
    termYears: fc.integer({ min: 1, max: 40 }),
    purpose: fc.constantFrom(...LOAN_PURPOSES),
    propertyType: fc.constantFrom(...PROPERTY_TYPES),
    occupancy: fc.constantFrom(...OCCUPANCIES),
    state: fc.constantFrom('CA', 'TX', 'NY', 'fl', 'WY'),
    veteran: fc.option(fc.boolean(), { nil: undefined }),
    firstTimeBuyer: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map(({ downPercent, independentLtv, state, veteran, firstTimeBuyer, propertyValue, ...rest }) => {
    const downPayment = Math.round((propertyValue * downPercent) / 100);
    const loanAmount =
      independentLtv === undefined ? propertyValue - downPayment : Math.max(1, Math.round((propertyValue * independentLtv) / 100));
    return {
      ...rest,
      propertyValue,
      downPayment,
      loanAmount,
      property: { state },
      ...(veteran === undefined ? {} : { veteran }),
      ...(firstTimeBuyer === undefined ? {} : { firstTimeBuyer }),
    };
  });

const decimals = (n: number): number => (Number.isInteger(n) ? 0 : (String(n).split('.')[1] ?? '').length);

describe('underwriting model properties', () => {
  it('score is an integer 0..100 and every offer is finite and positive', () => {
    fc.assert(
      fc.property(scoringInput, (input) => {
        const r = underwrite(input);
        expect(Number.isInteger(r.matchScore)).toBe(true);
        expect(r.matchScore).toBeGreaterThanOrEqual(0);
        expect(r.matchScore).toBeLessThanOrEqual(100);
        expect(RISK_BANDS).toContain(r.riskBand);
        expect(Number.isInteger(r.costCents) && r.costCents >= 3 && r.costCents <= 8).toBe(true);
        for (const value of Object.values(r.metrics)) expect(Number.isFinite(value)).toBe(true);
        for (const p of r.eligibleProducts) {
          expect(Number.isFinite(p.monthlyPayment) && p.monthlyPayment > 0).toBe(true);
          expect(decimals(p.monthlyPayment)).toBeLessThanOrEqual(2);
          expect(p.estimatedRate).toBeGreaterThan(0);
          expect(decimals(p.estimatedRate)).toBeLessThanOrEqual(3);
          // the requested loan always fits within the product's own maximum
          expect(p.maxLoanAmount).toBeGreaterThanOrEqual(input.loanAmount);
        }
        const payments = r.eligibleProducts.map((p) => p.monthlyPayment);
        expect(payments).toEqual([...payments].sort((a, b) => a - b));
        if (r.eligibleProducts.length === 0) {
          expect(r.riskBand).toBe('high');
          expect(r.matchScore).toBeLessThanOrEqual(25);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is deterministic: same input, same output (and it survives a JSON round trip)', async () => {
    const first = new InProcessUnderwritingModel();
    const second = new InProcessUnderwritingModel();
    await fc.assert(
      fc.asyncProperty(scoringInput, async (input) => {
        const a = await first.score(input);
        const b = await second.score(structuredClone(input));
        expect(b).toEqual(a);
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
        expect(JSON.parse(JSON.stringify(a))).toEqual(a);
      }),
      { numRuns: 200 },
    );
  });

  it('a better credit score never lowers the match score nor removes a product', () => {
    fc.assert(
      fc.property(scoringInput, fc.integer({ min: 1, max: 200 }), (input, bump) => {
        const better = { ...input, creditScore: Math.min(850, input.creditScore + bump) };
        const r = underwrite(input);
        const rb = underwrite(better);
        expect(rb.matchScore).toBeGreaterThanOrEqual(r.matchScore);
        const betterProducts = rb.eligibleProducts.map((p) => p.product);
        for (const p of r.eligibleProducts) expect(betterProducts).toContain(p.product);
      }),
      { numRuns: 300 },
    );
  });
});
