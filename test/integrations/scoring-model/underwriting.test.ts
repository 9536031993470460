/**
 * Worked examples. Every expected number below is derived by hand from the constants in
 * src/integrations/scoring-model/constants.ts (2025 limits, 1.35 %/yr taxes+insurance, rates on a 1/8 grid).
 */
import { describe, expect, it } from 'vitest';
import { InvalidScoringInputError } from '../../../src/integrations/scoring-model/errors.js';
import { InProcessUnderwritingModel } from '../../../src/integrations/scoring-model/model.js';
import type { ProductCode, ScoringInput, ScoringResult } from '../../../src/integrations/scoring-model/types.js';
import { BASELINE, purchase } from './fixtures.js';

const model = new InProcessUnderwritingModel();
const products = (r: ScoringResult): ProductCode[] => r.eligibleProducts.map((p) => p.product);
const offer = (r: ScoringResult, product: ProductCode) => r.eligibleProducts.find((p) => p.product === product);

describe('InProcessUnderwritingModel - worked examples', () => {
  it('FICO 760, 20% down, DTI 30%: conventional (and FHA), not jumbo, low risk', async () => {
    const r = await model.score(BASELINE);
    // Conventional rate: base 6.500 + term(30y) 0 + FICO 760-779 0 + LTV 70-80 0 + primary 0 + SFR 0 = 6.500%
    // P&I on $400,000 at 6.5% / 30y = $2,528.27; T&I = 500,000 * 1.35% / 12 = $562.50; PITI = $3,090.77
    expect(r.metrics.referenceRate).toBe(6.5);
    expect(r.metrics.monthlyPrincipalAndInterest).toBe(2528.27);
    expect(r.metrics.monthlyTaxesAndInsurance).toBe(562.5);
    expect(r.metrics.monthlyHousingPayment).toBe(3090.77);
    // LTV = 400,000 / 500,000 = 80%; front-end = 3,090.77 / 12,500 = 24.73%; back-end = (3,090.77 + 659) / 12,500 = 30.00%
    expect(r.metrics.ltv).toBe(80);
    expect(r.metrics.frontEndDti).toBe(24.73);
    expect(r.metrics.backEndDti).toBe(30);
    expect(r.metrics.residualIncome).toBe(8750.23); // 12,500 - 659 - 3,090.77

    // FHA: 6.250% (government FICO 680+ adds 0); financed 400,000 * 1.0175 = 407,000 -> P&I $2,505.97;
    // annual MIP 0.50% (LTV <= 95) = $166.67; PITI = 2,505.97 + 166.67 + 562.50 = $3,235.14 (> conventional, sorted second)
    expect(r.eligibleProducts).toEqual([
      // maxLoan: DTI budget 12,500*50% - 659 - 562.50 = $5,028.50 / 0.00632068 per $ = $795,558; LTV 97% * 500k = $485,000 binds
      { product: 'conventional', estimatedRate: 6.5, monthlyPayment: 3090.77, maxLoanAmount: 485_000 },
      // maxLoan: LTV 96.5% * 500k = $482,500 binds
      { product: 'fha', estimatedRate: 6.25, monthlyPayment: 3235.14, maxLoanAmount: 482_500 },
    ]);
    expect(products(r)).not.toContain('jumbo');
    expect(r.reasons).toContain('Back-end DTI 30.0% is within the 50% conventional limit for FICO 700+');
    expect(r.reasons).toContain('Back-end DTI 31.2% is within the 57% FHA limit with compensating factors (FICO 680+)');

    // Score: credit 30 * 0.9 (FICO 760) = 27; DTI 25 * (1 - 0.2 * 10/16) = 21.875; LTV 20 * 0.8 = 16;
    // employment 10 * 1 (employed 5y); products 15 * 2/3 = 10  -> 84.875 -> 85
    expect(r.matchScore).toBe(85);
    // risk index = (27 + 21.875 + 16 + 10) / 85 = 88.1 >= 75 -> low
    expect(r.riskBand).toBe('low');
    // 3 base + 1 per priced product (conventional, FHA; VA/USDA/jumbo gated out)
    expect(r.costCents).toBe(5);
    expect(r.modelVersion).toBe('underwriting-rules-2026.1');
  });

  it('FICO 590 with 3.5% down: FHA only', async () => {
    // $300,000 price, $10,500 down -> $289,500 loan, LTV 96.5% (exactly the FHA 580+ limit)
    const r = await model.score(
      purchase(300_000, 3.5, { creditScore: 590, annualIncome: 90_000, monthlyDebts: 500 }),
    );
    // FHA rate 6.250 + government FICO 580-599 0.375 = 6.625%; financed 289,500 * 1.0175 = 294,566.25 -> P&I $1,886.14
    // MIP 0.55% (LTV > 95): 289,500 * 0.0055 / 12 = $132.69; T&I 300,000 * 1.35% / 12 = $337.50; PITI $2,356.33
    // back-end DTI (2,356.33 + 500) / 7,500 = 38.1% <= 43%
    expect(r.eligibleProducts).toEqual([
      { product: 'fha', estimatedRate: 6.625, monthlyPayment: 2356.33, maxLoanAmount: 289_500 },
    ]);
    expect(r.reasons).toContain('FICO 590 is below the 620 conventional minimum');
    expect(r.reasons).toContain('FICO 590 is below the 640 USDA minimum');
    expect(r.reasons).toContain('LTV 96.5% is within the 96.5% FHA limit (3.5% down with FICO 580+)');
    expect(r.reasons).toContain('Back-end DTI 38.1% is within the 43% FHA limit');
    expect(r.riskBand).not.toBe('low');
  });

  it('veteran with 0% down: VA', async () => {
    const r = await model.score(
      purchase(400_000, 0, { creditScore: 700, annualIncome: 130_000, monthlyDebts: 600, veteran: true }),
    );
    // LTV 100% rules out conventional (97%) and FHA (96.5%); income > $119,850 rules out USDA.
    // VA 6.000% (FICO 680+ adds 0); funding fee 2.15% financed -> 408,600 -> P&I $2,449.76; T&I $450; PITI $2,899.76
    // back-end (2,899.76 + 600) / 10,833.33 = 32.3% <= 41%
    expect(r.eligibleProducts).toEqual([
      { product: 'va', estimatedRate: 6, monthlyPayment: 2899.76, maxLoanAmount: 400_000 },
    ]);
    expect(r.reasons).toContain('Back-end DTI 32.3% is within the 41% VA guideline');
    expect(r.reasons).toContain('LTV 100.0% exceeds the 97% conventional limit for a primary residence');
  });

  it('FICO 520 with 5% down: nothing eligible, score capped, high risk', async () => {
    const r = await model.score(purchase(300_000, 5, { creditScore: 520, annualIncome: 90_000, monthlyDebts: 400 }));
    // conventional needs 620, USDA 640; FHA at 500-579 needs 10% down (LTV <= 90) but LTV is 95%
    expect(r.eligibleProducts).toEqual([]);
    expect(r.reasons).toContain('LTV 95.0% exceeds the 90% FHA limit for FICO 500-579 (10% down required)');
    expect(r.reasons).toContain('No product in the catalogue fits this application');
    expect(r.matchScore).toBeLessThanOrEqual(25);
    expect(r.riskBand).toBe('high');
  });

  it('investment property: never FHA / VA / USDA, even for a veteran', async () => {
    const r = await model.score(purchase(400_000, 25, { occupancy: 'investment', veteran: true }));
    // conventional: 6.500 + investment 0.750 = 7.250%, LTV 75% <= 85% investment limit
    expect(products(r)).toEqual(['conventional']);
    expect(offer(r, 'conventional')?.estimatedRate).toBe(7.25);
    expect(r.reasons).toContain('FHA: not applicable - FHA financing requires a primary residence, not an investment property');
    expect(r.reasons).toContain('VA: not applicable - VA financing requires a primary residence, not an investment property');
    expect(r.costCents).toBe(4); // only conventional priced
  });

  it('USDA: low-income 0% down purchase', async () => {
    const r = await model.score(
      purchase(250_000, 0, { creditScore: 680, annualIncome: 80_000, monthlyDebts: 300 }),
    );
    // USDA 6.125%; guarantee fee 1% financed -> 252,500 -> P&I 1,534.217; annual fee 250,000 * 0.35% / 12 = 72.917;
    // T&I 250,000 * 1.35% / 12 = 281.25; PITI 1,888.383 -> $1,888.38 (rounded once, at the end: summing the
    // cent-rounded parts would give 1,888.39); DTI (1,888.38 + 300) / 6,666.67 = 32.8% <= 41%
    expect(products(r)).toEqual(['usda']);
    expect(offer(r, 'usda')).toMatchObject({ estimatedRate: 6.125, monthlyPayment: 1888.38 });
    expect(r.reasons).toContain('USDA also requires a property in an eligible rural area, which this model does not check');
  });

  it('jumbo above the conforming limit, conventional up to it', async () => {
    const atLimit = await model.score(purchase(1_075_334, 25, { annualIncome: 300_000 })); // loan 806,500
    expect(atLimit.eligibleProducts.map((p) => p.product)).toEqual(['conventional']);

    const jumbo = await model.score(purchase(1_400_000, 28.571_428_6, { annualIncome: 300_000, monthlyDebts: 1_000 }));
    // loan 1,000,000, LTV 71.4%; jumbo 6.750% (LTV 70-80 adds 0); P&I $6,485.98 + T&I $1,575 = $8,060.98; DTI 36.2% <= 43%
    expect(jumbo.eligibleProducts).toEqual([
      // maxLoan: LTV 80% * 1.4M = $1,120,000 binds (DTI budget allows ~$1.35M)
      { product: 'jumbo', estimatedRate: 6.75, monthlyPayment: 8060.98, maxLoanAmount: 1_120_000 },
    ]);

    const jumboLowFico = await model.score(
      purchase(1_400_000, 28.571_428_6, { annualIncome: 300_000, monthlyDebts: 1_000, creditScore: 690 }),
    );
    expect(jumboLowFico.eligibleProducts).toEqual([]);
    expect(jumboLowFico.reasons).toContain('FICO 690 is below the 700 jumbo minimum');
  });
});

describe('InProcessUnderwritingModel - rule boundaries', () => {
  it('conventional DTI limit is 45%, 50% from FICO 700', async () => {
    const input = (creditScore: number): ScoringInput => ({ ...BASELINE, creditScore, annualIncome: 100_000, monthlyDebts: 700 });
    // FICO 700: 6.500 + 0.375 = 6.875% -> P&I $2,627.72, PITI $3,190.22, DTI (3,190.22 + 700) / 8,333.33 = 46.7% <= 50
    const r700 = await model.score(input(700));
    expect(products(r700)).toContain('conventional');
    expect(r700.reasons).toContain('Back-end DTI 46.7% is within the 50% conventional limit for FICO 700+');
    // FICO 699: 6.500 + 0.500 = 7.000% -> P&I $2,661.21, PITI $3,223.71, DTI 47.1% > 45
    const r699 = await model.score(input(699));
    expect(products(r699)).not.toContain('conventional');
    expect(r699.reasons).toContain('Back-end DTI 47.1% exceeds the 45% conventional limit');
  });

  it('FHA with FICO 500-579 needs 10% down', async () => {
    const tenDown = await model.score(purchase(300_000, 10, { creditScore: 560, annualIncome: 90_000, monthlyDebts: 400 }));
    expect(products(tenDown)).toEqual(['fha']);
    const fiveDown = await model.score(purchase(300_000, 5, { creditScore: 560, annualIncome: 90_000, monthlyDebts: 400 }));
    expect(fiveDown.eligibleProducts).toEqual([]);
    const below500 = await model.score(purchase(300_000, 20, { creditScore: 499, annualIncome: 90_000, monthlyDebts: 400 }));
    expect(below500.reasons).toContain('FICO 499 is below the 500 FHA minimum');
  });

  it('VA above 41% DTI only with FICO 660+ and residual income', async () => {
    const input = (creditScore: number): ScoringInput =>
      purchase(300_000, 0, { creditScore, annualIncome: 72_000, monthlyDebts: 800, veteran: true });
    // FICO 680: 6.000%, financed 306,450 -> P&I $1,837.32 + T&I $337.50 = $2,174.82;
    // DTI (2,174.82 + 800) / 6,000 = 49.6% > 41, residual 6,000 - 800 - 2,174.82 = $3,025.18 >= $1,000 -> eligible
    const ok = await model.score(input(680));
    expect(products(ok)).toEqual(['va']);
    expect(ok.reasons.some((s) => s.startsWith('Back-end DTI 49.6% exceeds the 41% VA guideline, but FICO 680'))).toBe(true);
    // FICO 650: 6.125% -> P&I $1,862.02, DTI 50.0% > 41 and FICO below the 660 override
    const no = await model.score(input(650));
    expect(no.eligibleProducts).toEqual([]);
    expect(no.reasons).toContain('Back-end DTI 50.0% exceeds the 41% VA guideline and FICO 650 is below the 660 needed to exceed it');
  });

  it('pricing: 15-year term and first-time-buyer credit', async () => {
    // 15y: 6.500 - 0.625 = 5.875%
    const r15 = await model.score({ ...BASELINE, termYears: 15 });
    expect(offer(r15, 'conventional')?.estimatedRate).toBe(5.875);
    // first-time buyer with income <= $104,200: 6.500 - 0.125 = 6.375%; above the income proxy no credit
    const ftb = await model.score({ ...BASELINE, annualIncome: 100_000, monthlyDebts: 0, firstTimeBuyer: true });
    expect(offer(ftb, 'conventional')?.estimatedRate).toBe(6.375);
    const ftbHighIncome = await model.score({ ...BASELINE, firstTimeBuyer: true });
    expect(offer(ftbHighIncome, 'conventional')?.estimatedRate).toBe(6.5);
  });

  it('conventional PMI above 80% LTV', async () => {
    // 10% down: LTV 90% -> 6.500 + LTV 85-95 0.250 = 6.750%; PMI 0.45%: 450,000 * 0.0045 / 12 = $168.75
    const r = await model.score(purchase(500_000, 10));
    expect(offer(r, 'conventional')?.estimatedRate).toBe(6.75);
    expect(r.reasons.some((s) => s.startsWith('Conventional payment includes PMI of $168.75/month'))).toBe(true);
  });

  it('no qualifying income: nothing priced, only the base cost', async () => {
    for (const input of [
      { ...BASELINE, employment: { status: 'unemployed', years: 0 } },
      { ...BASELINE, annualIncome: 0 },
    ] satisfies ScoringInput[]) {
      const r = await model.score(input);
      expect(r.eligibleProducts).toEqual([]);
      expect(r.riskBand).toBe('high');
      expect(r.costCents).toBe(3);
      expect(Number.isFinite(r.metrics.backEndDti)).toBe(true);
    }
  });

  it('rejects invalid input with a non-transient InvalidScoringInputError listing every issue', async () => {
    const bad = { ...BASELINE, creditScore: 900, termYears: 0, property: { state: 'Texas' } } as ScoringInput;
    const error = await model.score(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidScoringInputError);
    const invalid = error as InvalidScoringInputError;
    expect(invalid.transient).toBe(false);
    expect(invalid.issues.map((i) => i.path)).toEqual(['creditScore', 'termYears', 'property.state']);
  });
});
