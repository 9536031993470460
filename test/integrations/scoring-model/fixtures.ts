import type { ScoringInput } from '../../../src/integrations/scoring-model/types.js';

/**
 * Baseline application: FICO 760, $500,000 purchase with 20% down ($400,000 loan, 30 years),
 * $150,000 income, $659/month debts -> back-end DTI 30.0% at the reference rate.
 */
export const BASELINE: ScoringInput = {
  annualIncome: 150_000,
  monthlyDebts: 659,
  creditScore: 760,
  employment: { status: 'employed', years: 5 },
  loanAmount: 400_000,
  propertyValue: 500_000,
  downPayment: 100_000,
  termYears: 30,
  purpose: 'purchase',
  propertyType: 'single_family',
  occupancy: 'primary',
  property: { state: 'TX', postalCode: '78701' },
};

/** A purchase of `propertyValue` with `downPercent` down; loanAmount = value - down. */
export function purchase(
  propertyValue: number,
  downPercent: number,
  overrides: Partial<ScoringInput> = {},
): ScoringInput {
  const downPayment = Math.round((propertyValue * downPercent) / 100);
  return { ...BASELINE, propertyValue, downPayment, loanAmount: propertyValue - downPayment, ...overrides };
}
