/**
 * The deterministic underwriting computation: pure, synchronous, no I/O, no clock, no randomness.
 * Same input -> same ScoringResult (byte-for-byte once serialised).
 */
import {
  CONFORMING_LOAN_LIMIT,
  COST_CENTS,
  CREDIT_CURVE,
  DTI_CAP_PERCENT,
  DTI_CURVE,
  EMPLOYMENT_FULL_TENURE_YEARS,
  EMPLOYMENT_STATUS_FACTORS,
  HOUSING_COST_ANNUAL_PERCENT,
  LTV_CURVE,
  MAX_SCORE_WITHOUT_PRODUCTS,
  MODEL_VERSION,
  NON_QUALIFYING_EMPLOYMENT,
  PRODUCTS_FOR_FULL_CREDIT,
  RISK_BAND_MIN_INDEX,
  SCORE_WEIGHTS,
} from './constants.js';
import { formatPercent, formatRate, formatUsd, interpolate, monthlyPrincipalAndInterest, roundTo } from './finance.js';
import { evaluateProducts, productRate, type ProductEvaluation, type UnderwritingContext } from './products.js';
import {
  PRODUCT_CODES,
  type EligibleProduct,
  type RiskBand,
  type ScoringInput,
  type ScoringMetrics,
  type ScoringResult,
} from './types.js';
import { parseScoringInput } from './validation.js';

export interface ScoreComponents {
  /** Each in [0, 1]. */
  readonly credit: number;
  readonly dti: number;
  readonly ltv: number;
  readonly employment: number;
  readonly products: number;
}

export function employmentStability(employment: ScoringInput['employment']): number {
  const statusFactor = EMPLOYMENT_STATUS_FACTORS[employment.status];
  if (employment.status === 'retired') return statusFactor;
  const tenure = Math.min(employment.years, EMPLOYMENT_FULL_TENURE_YEARS) / EMPLOYMENT_FULL_TENURE_YEARS;
  return statusFactor * (0.5 + 0.5 * tenure);
}

/** Weighted points (0-100, unrounded) of each component. */
function weightedPoints(c: ScoreComponents): Record<keyof ScoreComponents, number> {
  return {
    credit: SCORE_WEIGHTS.credit * c.credit,
    dti: SCORE_WEIGHTS.dti * c.dti,
    ltv: SCORE_WEIGHTS.ltv * c.ltv,
    employment: SCORE_WEIGHTS.employment * c.employment,
    products: SCORE_WEIGHTS.products * c.products,
  };
}

export function matchScoreOf(components: ScoreComponents, eligibleCount: number): number {
  const p = weightedPoints(components);
  const raw = Math.min(100, Math.max(0, Math.round(p.credit + p.dti + p.ltv + p.employment + p.products)));
  return eligibleCount === 0 ? Math.min(raw, MAX_SCORE_WITHOUT_PRODUCTS) : raw;
}

export function riskBandOf(components: ScoreComponents, eligibleCount: number): RiskBand {
  if (eligibleCount === 0) return 'high';
  const p = weightedPoints(components);
  const riskWeight = SCORE_WEIGHTS.credit + SCORE_WEIGHTS.dti + SCORE_WEIGHTS.ltv + SCORE_WEIGHTS.employment;
  const index = ((p.credit + p.dti + p.ltv + p.employment) / riskWeight) * 100;
  if (index >= RISK_BAND_MIN_INDEX.low) return 'low';
  if (index >= RISK_BAND_MIN_INDEX.moderate) return 'moderate';
  if (index >= RISK_BAND_MIN_INDEX.elevated) return 'elevated';
  return 'high';
}

function cappedDti(numerator: number, monthlyIncome: number): number {
  if (monthlyIncome <= 0) return DTI_CAP_PERCENT;
  return Math.min(DTI_CAP_PERCENT, roundTo((numerator / monthlyIncome) * 100, 2));
}

/** Validates `input` (throws InvalidScoringInputError) and scores it. */
export function underwrite(rawInput: ScoringInput): ScoringResult {
  const input = parseScoringInput(rawInput);
  const monthlyIncome = input.annualIncome / 12;
  const ltv = (input.loanAmount * 100) / input.propertyValue;
  const taxesAndInsuranceAnnualPercent =
    HOUSING_COST_ANNUAL_PERCENT.propertyTax + HOUSING_COST_ANNUAL_PERCENT.homeownersInsurance;
  const monthlyTaxesAndInsurance = (input.propertyValue * taxesAndInsuranceAnnualPercent) / 1200;
  const ctx: UnderwritingContext = { input, monthlyIncome, ltv, monthlyTaxesAndInsurance };

  // Reference pricing: the agency program matching the loan size, no MI, no financed fees.
  const referenceRate = productRate(input.loanAmount > CONFORMING_LOAN_LIMIT ? 'jumbo' : 'conventional', input, ltv);
  const referencePi = monthlyPrincipalAndInterest(input.loanAmount, referenceRate, input.termYears);
  const housing = referencePi + monthlyTaxesAndInsurance;
  const metrics: ScoringMetrics = {
    ltv: roundTo(ltv, 2),
    downPaymentPercent: roundTo((input.downPayment * 100) / input.propertyValue, 2),
    monthlyIncome: roundTo(monthlyIncome, 2),
    referenceRate,
    monthlyPrincipalAndInterest: roundTo(referencePi, 2),
    monthlyTaxesAndInsurance: roundTo(monthlyTaxesAndInsurance, 2),
    monthlyHousingPayment: roundTo(housing, 2),
    frontEndDti: cappedDti(housing, monthlyIncome),
    backEndDti: cappedDti(housing + input.monthlyDebts, monthlyIncome),
    residualIncome: roundTo(monthlyIncome - input.monthlyDebts - housing, 2),
  };

  const hasQualifyingIncome = input.annualIncome > 0 && !NON_QUALIFYING_EMPLOYMENT.includes(input.employment.status);
  const evaluations: ProductEvaluation[] = hasQualifyingIncome ? evaluateProducts(ctx, PRODUCT_CODES) : [];
  const eligible = evaluations.filter((e) => e.eligible);
  const eligibleProducts: EligibleProduct[] = eligible
    .map((e, catalogueIndex) => ({ e, catalogueIndex }))
    .sort((a, b) => {
      const pa = a.e.pricing?.monthlyPayment ?? 0;
      const pb = b.e.pricing?.monthlyPayment ?? 0;
      return roundTo(pa, 2) - roundTo(pb, 2) || a.catalogueIndex - b.catalogueIndex;
    })
    .map(({ e }) => ({
      product: e.product,
      estimatedRate: e.pricing?.rate ?? 0,
      monthlyPayment: roundTo(e.pricing?.monthlyPayment ?? 0, 2),
      ...(e.maxLoanAmount === undefined ? {} : { maxLoanAmount: e.maxLoanAmount }),
    }));

  const components: ScoreComponents = {
    credit: interpolate(CREDIT_CURVE, input.creditScore),
    dti: interpolate(DTI_CURVE, metrics.backEndDti),
    ltv: interpolate(LTV_CURVE, ltv),
    employment: employmentStability(input.employment),
    products: Math.min(eligible.length, PRODUCTS_FOR_FULL_CREDIT) / PRODUCTS_FOR_FULL_CREDIT,
  };
  const matchScore = matchScoreOf(components, eligible.length);
  const riskBand = riskBandOf(components, eligible.length);
  const points = weightedPoints(components);
  const pts = (value: number, max: number): string => `${roundTo(value, 1).toFixed(1)}/${max}`;

  const reasons: string[] = [
    `Match score ${matchScore}/100, ${riskBand} risk: credit ${pts(points.credit, SCORE_WEIGHTS.credit)}, DTI ${pts(points.dti, SCORE_WEIGHTS.dti)}, LTV ${pts(points.ltv, SCORE_WEIGHTS.ltv)}, employment ${pts(points.employment, SCORE_WEIGHTS.employment)}, products ${pts(points.products, SCORE_WEIGHTS.products)}` +
      (eligible.length === 0 ? ` (capped at ${MAX_SCORE_WITHOUT_PRODUCTS} with no eligible product)` : ''),
    `LTV ${formatPercent(ltv)}: ${formatUsd(input.loanAmount)} loan on a ${formatUsd(input.propertyValue)} property (${formatPercent(metrics.downPaymentPercent)} ${input.purpose === 'purchase' ? 'down payment' : 'equity'})`,
    `Reference payment ${formatUsd(housing, 2)}/month: P&I ${formatUsd(referencePi, 2)} at ${formatRate(referenceRate)} over ${input.termYears} years + taxes & insurance ${formatUsd(monthlyTaxesAndInsurance, 2)} (${taxesAndInsuranceAnnualPercent}% of value a year)`,
    hasQualifyingIncome
      ? `Front-end DTI ${formatPercent(metrics.frontEndDti)}, back-end DTI ${formatPercent(metrics.backEndDti)} of ${formatUsd(monthlyIncome, 2)} monthly income; residual income ${formatUsd(metrics.residualIncome, 2)}/month`
      : `No qualifying income (annual income ${formatUsd(input.annualIncome)}, employment ${input.employment.status}): no product can be underwritten`,
    ...evaluations.flatMap((e) => e.reasons),
  ];
  if (hasQualifyingIncome && eligible.length === 0) reasons.push('No product in the catalogue fits this application');

  const priced = evaluations.filter((e) => e.pricing !== undefined).length;
  return {
    matchScore,
    riskBand,
    eligibleProducts,
    reasons,
    metrics,
    modelVersion: MODEL_VERSION,
    costCents: COST_CENTS.base + COST_CENTS.perProductPriced * priced,
  };
}
