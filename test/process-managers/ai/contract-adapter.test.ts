/**
 * The contract ↔ model adapter: request (cents) → model input (dollars), model result → contract
 * result (validated). Property: every valid contract request the model scores maps to a result
 * that satisfies ScoringResultSchema.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScoringResultSchema } from '../../../src/contracts/events/ai.js';
import { validateScoringRequestRules, type ScoringRequest } from '../../../src/contracts/scoring-request.js';
import { validate } from '../../../src/contracts/validation.js';
import { BusinessError } from '../../../src/engine/failures.js';
import { RISK_BAND_MAP, toContractReasons, toContractResult, toScoringInput } from '../../../src/integrations/scoring-model/contract-adapter.js';
import { underwrite } from '../../../src/integrations/scoring-model/underwriting.js';
import type { ScoringResult as ModelScoringResult } from '../../../src/integrations/scoring-model/types.js';
import { request } from './support.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('toScoringInput', () => {
  it('converts cents to dollars exactly and leaves the applicant out', () => {
    const input = toScoringInput(request({ annualIncome: 12_500_050, monthlyDebts: 85_001, veteran: true }));
    expect(input).toEqual({
      annualIncome: 125_000.5,
      monthlyDebts: 850.01,
      creditScore: 742,
      employment: { status: 'employed', years: 6.5 },
      loanAmount: 360_000,
      propertyValue: 450_000,
      downPayment: 90_000,
      termYears: 30,
      purpose: 'purchase',
      propertyType: 'single_family',
      occupancy: 'primary',
      property: { state: 'CA', postalCode: '94107' },
      veteran: true,
      firstTimeBuyer: true,
    });
    expect(JSON.stringify(input)).not.toMatch(/Jane|example\.com|1988/);
  });
});

describe('toContractResult', () => {
  it('maps risk band, products, payments (cents, without taxes & insurance), reasons and explanation', () => {
    const req = request();
    const model = underwrite(toScoringInput(req));
    const result = toContractResult(model, req);
    expect(validate(ScoringResultSchema, result)).toEqual([]);
    expect(result.riskBand).toBe(RISK_BAND_MAP[model.riskBand]);
    expect(result.matchScore).toBe(model.matchScore);
    expect(result.costCents).toBe(model.costCents);
    expect(result.modelVersion).toBe(model.modelVersion);
    const taxesAndInsurance = Math.round(model.metrics.monthlyTaxesAndInsurance * 100);
    expect(result.eligibleProducts).toEqual(
      model.eligibleProducts.map((p) => ({
        product: p.product === 'conventional' ? 'conventional_fixed' : p.product,
        termYears: 30,
        estimatedRate: p.estimatedRate,
        monthlyPayment: Math.round(p.monthlyPayment * 100) - taxesAndInsurance,
      })),
    );
    // $360,000 at the conventional rate over 30 years: principal and interest in the $2,000s.
    const conventional = result.eligibleProducts.find((p) => p.product === 'conventional_fixed');
    expect(conventional?.monthlyPayment).toBeGreaterThan(200_000);
    expect(conventional?.monthlyPayment).toBeLessThan(300_000);
    expect(result.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['MATCH_SCORE', 'LOAN_TO_VALUE', 'REFERENCE_PAYMENT', 'DEBT_TO_INCOME', 'CONVENTIONAL_ELIGIBLE', 'CONVENTIONAL_FICO_MEETS_MINIMUM']));
    expect(result.explanation).toMatch(/^Match score \d+\/100 with (low|moderate) risk\. \d eligible products?; the lowest payment is/);
  });

  it('maps the four model bands onto the contract bands, worst to worst', () => {
    expect(RISK_BAND_MAP).toEqual({ low: 'low', moderate: 'moderate', elevated: 'high', high: 'very_high' });
    const req = request({ annualIncome: 0, employment: { status: 'unemployed', years: 0 } });
    const result = toContractResult(underwrite(toScoringInput(req)), req);
    expect(result.riskBand).toBe('very_high');
    expect(result.eligibleProducts).toEqual([]);
    expect(result.reasons.map((r) => r.code)).toContain('NO_QUALIFYING_INCOME');
    expect(result.explanation).toMatch(/No loan product/);
  });

  it('codes reasons by kind and product section, and keeps at most 20 (verdicts and failures first)', () => {
    const reasons = toContractReasons([
      'Match score 50/100, elevated risk: ...',
      'FHA: not eligible',
      'FICO 560 is below the 580 FHA minimum',
      'LTV 97.00% is within the 96.5% FHA limit',
      'Some new model note: 1% credit',
      'No product in the catalogue fits this application',
    ]);
    expect(reasons.map((r) => r.code)).toEqual(['MATCH_SCORE', 'FHA_NOT_ELIGIBLE', 'FHA_FICO_BELOW_MINIMUM', 'FHA_LTV_WITHIN_LIMIT', 'FHA_SOME_NEW_MODEL', 'NO_ELIGIBLE_PRODUCT']);

    const many = ['Match score 1/100, high risk', 'VA: not eligible', ...Array.from({ length: 25 }, (_, i) => `Back-end DTI ${i}% is within the 41% VA limit`), 'FICO 500 is below the 580 VA minimum'];
    const kept = toContractReasons(many);
    expect(kept).toHaveLength(20);
    expect(kept.map((r) => r.code).slice(0, 2)).toEqual(['MATCH_SCORE', 'VA_NOT_ELIGIBLE']);
    expect(kept.at(-1)?.code).toBe('VA_FICO_BELOW_MINIMUM');
  });

  it('output that does not fit the contract is a BusinessError(invalid_model_output)', () => {
    const req = request();
    const good = underwrite(toScoringInput(req));
    const cases: ModelScoringResult[] = [
      { ...good, matchScore: 101 },
      { ...good, riskBand: 'catastrophic' as ModelScoringResult['riskBand'] },
      { ...good, reasons: [] },
      { ...good, modelVersion: 'has spaces' },
      { ...good, eligibleProducts: [{ product: 'heloc' as ModelScoringResult['eligibleProducts'][number]['product'], estimatedRate: 7, monthlyPayment: 3000 }] },
      { ...good, metrics: undefined as unknown as ModelScoringResult['metrics'] },
    ];
    for (const bad of cases) {
      const error = thrown(() => toContractResult(bad, req));
      expect(error).toBeInstanceOf(BusinessError);
      expect(error).toMatchObject({ code: 'invalid_model_output', kind: 'business' });
    }
  });

  it('property: every valid purchase the model scores maps to a valid contract result', () => {
    const arbitraryRequest = fc
      .record({
        propertyValue: fc.integer({ min: 100_000_00, max: 3_000_000_00 }),
        downPercent: fc.integer({ min: 3, max: 60 }),
        annualIncome: fc.integer({ min: 1_00, max: 2_000_000_00 }),
        monthlyDebts: fc.integer({ min: 0, max: 20_000_00 }),
        creditScore: fc.integer({ min: 300, max: 850 }),
        employment: fc.constantFrom('employed', 'self_employed', 'retired', 'other'),
        years: fc.double({ min: 0, max: 40, noNaN: true }),
        termYears: fc.constantFrom(10, 15, 20, 25, 30),
        propertyType: fc.constantFrom('single_family', 'condo', 'townhouse', 'multi_family', 'manufactured'),
        occupancy: fc.constantFrom('primary', 'secondary', 'investment'),
        veteran: fc.boolean(),
        firstTimeBuyer: fc.boolean(),
      })
      .map((r): ScoringRequest => {
        const downPayment = Math.ceil((r.propertyValue * r.downPercent) / 100);
        return request({
          propertyValue: r.propertyValue,
          downPayment,
          loanAmount: r.propertyValue - downPayment,
          annualIncome: r.annualIncome,
          monthlyDebts: r.monthlyDebts,
          creditScore: r.creditScore,
          employment: { status: r.employment, years: r.years },
          termYears: r.termYears,
          propertyType: r.propertyType,
          occupancy: r.occupancy,
          veteran: r.veteran,
          firstTimeBuyer: r.firstTimeBuyer,
        });
      });
    fc.assert(
      fc.property(arbitraryRequest, (req) => {
        expect(validateScoringRequestRules(req, '2026-03-10')).toEqual([]);
        const result = toContractResult(underwrite(toScoringInput(req)), req);
        expect(validate(ScoringResultSchema, result)).toEqual([]);
        expect(result.eligibleProducts.every((p) => p.monthlyPayment > 0)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
