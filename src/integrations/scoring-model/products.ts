/**
 * The product catalogue: pricing and eligibility of each mortgage program. Every evaluation
 * first applies the program's GATES (who/what the program is for: occupancy, veteran status,
 * loan-limit band, purpose); only a product that passes its gates is PRICED (rate, PITI, DTI)
 * and CHECKED against its credit / LTV / DTI rules. Pricing is what costCents is charged for.
 */
import {
  AGENCY_FICO_ADJUSTMENTS,
  BASE_RATES,
  CONVENTIONAL_PMI_BANDS,
  CONVENTIONAL_RULES,
  FHA_RULES,
  FIRST_TIME_BUYER_CREDIT,
  GOVERNMENT_FICO_ADJUSTMENTS,
  JUMBO_RULES,
  LTV_ADJUSTMENTS,
  MIN_RATE,
  OCCUPANCY_ADJUSTMENTS,
  PROPERTY_TYPE_ADJUSTMENTS,
  RATE_INCREMENT,
  TERM_ADJUSTMENTS,
  USDA_RULES,
  VA_RULES,
} from './constants.js';
import { formatLimit, formatPercent, formatRate, formatUsd, monthlyPrincipalAndInterest, roundToIncrement } from './finance.js';
import type { Occupancy, ProductCode, ScoringInput } from './types.js';

/** Tolerance for percentage comparisons (LTV / DTI against rule limits). */
const PERCENT_EPSILON = 1e-9;
const atMost = (value: number, limit: number): boolean => value <= limit + PERCENT_EPSILON;

export interface UnderwritingContext {
  readonly input: ScoringInput;
  readonly monthlyIncome: number;
  /** Exact LTV in percent. */
  readonly ltv: number;
  readonly monthlyTaxesAndInsurance: number;
}

export interface ProductPricing {
  readonly rate: number;
  /** Base loan plus any financed upfront fee (FHA UFMIP, VA funding fee, USDA guarantee fee). */
  readonly financedAmount: number;
  readonly monthlyPrincipalAndInterest: number;
  readonly monthlyMortgageInsurance: number;
  /** PITI (+ MI), unrounded. */
  readonly monthlyPayment: number;
  /** Percent, unrounded. */
  readonly backEndDti: number;
  readonly residualIncome: number;
  /** Monthly P&I + MI per dollar of base loan at this pricing (drives maxLoanAmount). */
  readonly monthlyCostPerLoanDollar: number;
}

export interface ProductEvaluation {
  readonly product: ProductCode;
  readonly eligible: boolean;
  /** Undefined when the product was gated out (not priced). */
  readonly pricing: ProductPricing | undefined;
  readonly maxLoanAmount: number | undefined;
  readonly reasons: readonly string[];
}

export const PRODUCT_LABELS: Readonly<Record<ProductCode, string>> = {
  conventional: 'Conventional',
  fha: 'FHA',
  va: 'VA',
  usda: 'USDA',
  jumbo: 'Jumbo',
};

const OCCUPANCY_PHRASES: Readonly<Record<Occupancy, string>> = {
  primary: 'a primary residence',
  secondary: 'a second home',
  investment: 'an investment property',
};

// ---------------------------------------------------------------------------------------------
// Pricing
// ---------------------------------------------------------------------------------------------

function firstMatch<T>(bands: readonly T[], predicate: (band: T) => boolean): T {
  const band = bands.find(predicate);
  if (band === undefined) throw new RangeError('pricing table does not cover the value');
  return band;
}

function firstTimeBuyerCreditApplies(input: ScoringInput): boolean {
  return (
    input.firstTimeBuyer === true &&
    input.purpose === 'purchase' &&
    input.annualIncome <= FIRST_TIME_BUYER_CREDIT.maxAnnualIncome
  );
}

/** Estimated note rate (percent, 1/8 grid) of `product` for this borrower and LTV. */
export function productRate(product: ProductCode, input: ScoringInput, ltv: number): number {
  const agency = product === 'conventional' || product === 'jumbo';
  const ficoTable = agency ? AGENCY_FICO_ADJUSTMENTS : GOVERNMENT_FICO_ADJUSTMENTS;
  let rate =
    BASE_RATES[product] +
    firstMatch(TERM_ADJUSTMENTS, (b) => input.termYears <= b.maxTermYears).adjustment +
    firstMatch(ficoTable, (b) => input.creditScore >= b.minFico).adjustment +
    (agency ? firstMatch(LTV_ADJUSTMENTS, (b) => atMost(ltv, b.maxLtv)).adjustment : 0) +
    OCCUPANCY_ADJUSTMENTS[input.occupancy] +
    PROPERTY_TYPE_ADJUSTMENTS[input.propertyType];
  if (product === 'conventional' && firstTimeBuyerCreditApplies(input)) rate += FIRST_TIME_BUYER_CREDIT.adjustment;
  return Math.max(MIN_RATE, roundToIncrement(rate, RATE_INCREMENT));
}

function price(
  ctx: UnderwritingContext,
  product: ProductCode,
  fees: { financedFeePercent: number; annualMiPercent: number },
): ProductPricing {
  const { input } = ctx;
  const rate = productRate(product, input, ctx.ltv);
  const financeFactor = 1 + fees.financedFeePercent / 100;
  const financedAmount = input.loanAmount * financeFactor;
  const pi = monthlyPrincipalAndInterest(financedAmount, rate, input.termYears);
  const mi = (input.loanAmount * fees.annualMiPercent) / 1200;
  const monthlyPayment = pi + mi + ctx.monthlyTaxesAndInsurance;
  return {
    rate,
    financedAmount,
    monthlyPrincipalAndInterest: pi,
    monthlyMortgageInsurance: mi,
    monthlyPayment,
    backEndDti: ((monthlyPayment + input.monthlyDebts) / ctx.monthlyIncome) * 100,
    residualIncome: ctx.monthlyIncome - input.monthlyDebts - monthlyPayment,
    monthlyCostPerLoanDollar:
      financeFactor * monthlyPrincipalAndInterest(1, rate, input.termYears) + fees.annualMiPercent / 1200,
  };
}

interface LoanLimits {
  readonly maxDti: number;
  readonly maxLtv: number;
  readonly loanLimit?: number;
  /** VA-style alternative: payment may also go up to income - debts - T&I - this floor. */
  readonly residualIncomeFloor?: number;
}

/**
 * Largest base loan satisfying the DTI budget, the LTV cap and the loan limit, holding the
 * rate and mortgage-insurance factor of the requested scenario fixed.
 */
function maxLoanAmount(ctx: UnderwritingContext, pricing: ProductPricing, limits: LoanLimits): number {
  const fixedMonthly = ctx.input.monthlyDebts + ctx.monthlyTaxesAndInsurance;
  let budget = (ctx.monthlyIncome * limits.maxDti) / 100 - fixedMonthly;
  if (limits.residualIncomeFloor !== undefined) {
    budget = Math.max(budget, ctx.monthlyIncome - fixedMonthly - limits.residualIncomeFloor);
  }
  const byPayment = budget / pricing.monthlyCostPerLoanDollar;
  const byLtv = (limits.maxLtv * ctx.input.propertyValue) / 100;
  const max = Math.min(byPayment, byLtv, limits.loanLimit ?? Number.POSITIVE_INFINITY);
  return Math.max(0, Math.floor(max + 1e-6));
}

// ---------------------------------------------------------------------------------------------
// Checks and reasons
// ---------------------------------------------------------------------------------------------

interface Check {
  readonly pass: boolean;
  readonly reason: string;
}

function ficoCheck(fico: number, min: number, program: string): Check {
  return fico >= min
    ? { pass: true, reason: `FICO ${fico} meets the ${min} ${program} minimum` }
    : { pass: false, reason: `FICO ${fico} is below the ${min} ${program} minimum` };
}

function ltvCheck(ltv: number, max: number, limitName: string): Check {
  const pass = atMost(ltv, max);
  return { pass, reason: `LTV ${formatPercent(ltv)} ${pass ? 'is within' : 'exceeds'} the ${formatLimit(max)} ${limitName}` };
}

function dtiCheck(dti: number, max: number, limitName: string): Check {
  const pass = atMost(dti, max);
  return {
    pass,
    reason: `Back-end DTI ${formatPercent(dti)} ${pass ? 'is within' : 'exceeds'} the ${formatLimit(max)} ${limitName}`,
  };
}

function gatedOut(product: ProductCode, why: string): ProductEvaluation {
  return {
    product,
    eligible: false,
    pricing: undefined,
    maxLoanAmount: undefined,
    reasons: [`${PRODUCT_LABELS[product]}: not applicable - ${why}`],
  };
}

function decide(
  ctx: UnderwritingContext,
  product: ProductCode,
  pricing: ProductPricing,
  checks: readonly Check[],
  limits: LoanLimits,
  notes: readonly string[] = [],
): ProductEvaluation {
  const eligible = checks.every((c) => c.pass);
  const label = PRODUCT_LABELS[product];
  if (!eligible) {
    return {
      product,
      eligible,
      pricing,
      maxLoanAmount: undefined,
      reasons: [`${label}: not eligible`, ...checks.filter((c) => !c.pass).map((c) => c.reason)],
    };
  }
  const maxLoan = maxLoanAmount(ctx, pricing, limits);
  return {
    product,
    eligible,
    pricing,
    maxLoanAmount: maxLoan,
    reasons: [
      `${label}: eligible at ${formatRate(pricing.rate)}, ${formatUsd(pricing.monthlyPayment, 2)}/month PITI, loans up to ${formatUsd(maxLoan)}`,
      ...checks.map((c) => c.reason),
      ...notes,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Programs
// ---------------------------------------------------------------------------------------------

function pmiAnnualPercent(ltv: number): number {
  return firstMatch(CONVENTIONAL_PMI_BANDS, (b) => atMost(ltv, b.maxLtv)).annualPercent;
}

function evaluateConventional(ctx: UnderwritingContext): ProductEvaluation {
  const { input, ltv } = ctx;
  const rules = CONVENTIONAL_RULES;
  if (input.loanAmount > rules.loanLimit) {
    return gatedOut(
      'conventional',
      `loan amount ${formatUsd(input.loanAmount)} exceeds the ${formatUsd(rules.loanLimit)} conforming limit (2025 baseline; high-cost areas not modelled)`,
    );
  }
  const annualMiPercent = pmiAnnualPercent(ltv);
  const pricing = price(ctx, 'conventional', { financedFeePercent: 0, annualMiPercent });
  const maxLtv = rules.maxLtvByOccupancy[input.occupancy];
  const highFico = input.creditScore >= rules.highFicoThreshold;
  const maxDti = highFico ? rules.maxDtiHighFico : rules.maxDti;
  const checks: Check[] = [
    ficoCheck(input.creditScore, rules.minFico, 'conventional'),
    ltvCheck(ltv, maxLtv, `conventional limit for ${OCCUPANCY_PHRASES[input.occupancy]}`),
    dtiCheck(pricing.backEndDti, maxDti, highFico ? `conventional limit for FICO ${rules.highFicoThreshold}+` : 'conventional limit'),
    {
      pass: true,
      reason: `Loan amount ${formatUsd(input.loanAmount)} is within the ${formatUsd(rules.loanLimit)} conforming limit`,
    },
  ];
  const notes =
    annualMiPercent > 0
      ? [`Conventional payment includes PMI of ${formatUsd(pricing.monthlyMortgageInsurance, 2)}/month (${annualMiPercent}% a year, LTV above 80%)`]
      : [];
  return decide(ctx, 'conventional', pricing, checks, { maxDti, maxLtv, loanLimit: rules.loanLimit }, notes);
}

function evaluateFha(ctx: UnderwritingContext): ProductEvaluation {
  const { input, ltv } = ctx;
  const rules = FHA_RULES;
  if (input.occupancy !== 'primary') {
    return gatedOut('fha', `FHA financing requires a primary residence, not ${OCCUPANCY_PHRASES[input.occupancy]}`);
  }
  if (input.loanAmount > rules.loanLimit) {
    return gatedOut(
      'fha',
      `loan amount ${formatUsd(input.loanAmount)} exceeds the ${formatUsd(rules.loanLimit)} FHA floor limit (high-cost areas not modelled)`,
    );
  }
  const annualMiPercent = atMost(ltv, 95) ? rules.annualMipPercent : rules.annualMipPercentAbove95Ltv;
  const pricing = price(ctx, 'fha', { financedFeePercent: rules.upfrontMipPercent, annualMiPercent });
  const minimumDown = input.creditScore >= rules.minimumDownFico;
  const maxLtv = minimumDown ? rules.maxLtv : rules.maxLtvLowFico;
  const compensating = input.creditScore >= rules.compensatingFactorFico;
  const maxDti = compensating ? rules.maxDtiWithCompensatingFactors : rules.maxDti;
  const checks: Check[] = [
    ficoCheck(input.creditScore, rules.minFico, 'FHA'),
    ltvCheck(
      ltv,
      maxLtv,
      minimumDown
        ? `FHA limit (3.5% down with FICO ${rules.minimumDownFico}+)`
        : `FHA limit for FICO ${rules.minFico}-${rules.minimumDownFico - 1} (10% down required)`,
    ),
    dtiCheck(
      pricing.backEndDti,
      maxDti,
      compensating ? `FHA limit with compensating factors (FICO ${rules.compensatingFactorFico}+)` : 'FHA limit',
    ),
  ];
  const notes = [
    `FHA payment includes ${rules.upfrontMipPercent}% upfront MIP financed (${formatUsd(pricing.financedAmount - input.loanAmount, 2)}) and ${annualMiPercent}% annual MIP (${formatUsd(pricing.monthlyMortgageInsurance, 2)}/month)`,
  ];
  return decide(ctx, 'fha', pricing, checks, { maxDti, maxLtv, loanLimit: rules.loanLimit }, notes);
}

function vaFundingFeePercent(input: ScoringInput, ltv: number): number {
  const fees = VA_RULES.fundingFeePercent;
  if (input.purpose === 'refinance') return fees.refinance;
  const downPercent = 100 - ltv;
  if (downPercent >= 10 - PERCENT_EPSILON) return fees.down10OrMore;
  if (downPercent >= 5 - PERCENT_EPSILON) return fees.down5To10;
  return fees.downUnder5;
}

function evaluateVa(ctx: UnderwritingContext): ProductEvaluation {
  const { input, ltv } = ctx;
  const rules = VA_RULES;
  if (input.veteran !== true) return gatedOut('va', 'VA financing requires eligible veteran or service-member status');
  if (input.occupancy !== 'primary') {
    return gatedOut('va', `VA financing requires a primary residence, not ${OCCUPANCY_PHRASES[input.occupancy]}`);
  }
  const fundingFee = vaFundingFeePercent(input, ltv);
  const pricing = price(ctx, 'va', { financedFeePercent: fundingFee, annualMiPercent: 0 });
  const override = input.creditScore >= rules.overrideMinFico;
  const dti = pricing.backEndDti;
  let affordability: Check;
  if (atMost(dti, rules.maxDti)) {
    affordability = dtiCheck(dti, rules.maxDti, 'VA guideline');
  } else if (override && pricing.residualIncome >= rules.minResidualIncome) {
    affordability = {
      pass: true,
      reason: `Back-end DTI ${formatPercent(dti)} exceeds the ${rules.maxDti}% VA guideline, but FICO ${input.creditScore} (${rules.overrideMinFico}+) and residual income of ${formatUsd(pricing.residualIncome, 2)}/month (at least ${formatUsd(rules.minResidualIncome)}) compensate`,
    };
  } else {
    affordability = {
      pass: false,
      reason: override
        ? `Back-end DTI ${formatPercent(dti)} exceeds the ${rules.maxDti}% VA guideline and residual income of ${formatUsd(pricing.residualIncome, 2)}/month is below ${formatUsd(rules.minResidualIncome)}`
        : `Back-end DTI ${formatPercent(dti)} exceeds the ${rules.maxDti}% VA guideline and FICO ${input.creditScore} is below the ${rules.overrideMinFico} needed to exceed it`,
    };
  }
  const checks: Check[] = [
    ficoCheck(input.creditScore, rules.minFico, 'VA (lender overlay)'),
    ltvCheck(ltv, rules.maxLtv, 'VA limit (no down payment required)'),
    affordability,
  ];
  const notes = [
    `VA payment includes a ${fundingFee}% funding fee financed (${formatUsd(pricing.financedAmount - input.loanAmount, 2)}); no monthly mortgage insurance`,
  ];
  return decide(
    ctx,
    'va',
    pricing,
    checks,
    { maxDti: rules.maxDti, maxLtv: rules.maxLtv, ...(override ? { residualIncomeFloor: rules.minResidualIncome } : {}) },
    notes,
  );
}

function evaluateUsda(ctx: UnderwritingContext): ProductEvaluation {
  const { input, ltv } = ctx;
  const rules = USDA_RULES;
  if (input.occupancy !== 'primary') {
    return gatedOut('usda', `USDA financing requires a primary residence, not ${OCCUPANCY_PHRASES[input.occupancy]}`);
  }
  if (input.purpose !== 'purchase') return gatedOut('usda', 'this model only covers USDA purchase loans');
  if (input.propertyType === 'multi_family') return gatedOut('usda', 'USDA financing does not cover multi-family properties');
  if (input.termYears !== rules.termYears) {
    return gatedOut('usda', `USDA guaranteed loans are ${rules.termYears}-year only (requested ${input.termYears})`);
  }
  if (input.annualIncome > rules.incomeLimit) {
    return gatedOut(
      'usda',
      `income ${formatUsd(input.annualIncome)} exceeds the ${formatUsd(rules.incomeLimit)} USDA household income limit`,
    );
  }
  const pricing = price(ctx, 'usda', {
    financedFeePercent: rules.upfrontGuaranteeFeePercent,
    annualMiPercent: rules.annualFeePercent,
  });
  const checks: Check[] = [
    ficoCheck(input.creditScore, rules.minFico, 'USDA'),
    ltvCheck(ltv, rules.maxLtv, 'USDA limit'),
    dtiCheck(pricing.backEndDti, rules.maxDti, 'USDA limit'),
    {
      pass: true,
      reason: `Income ${formatUsd(input.annualIncome)} is within the ${formatUsd(rules.incomeLimit)} USDA household income limit`,
    },
  ];
  const notes = [
    `USDA payment includes a ${rules.upfrontGuaranteeFeePercent}% guarantee fee financed and a ${rules.annualFeePercent}% annual fee (${formatUsd(pricing.monthlyMortgageInsurance, 2)}/month)`,
    'USDA also requires a property in an eligible rural area, which this model does not check',
  ];
  return decide(ctx, 'usda', pricing, checks, { maxDti: rules.maxDti, maxLtv: rules.maxLtv }, notes);
}

function evaluateJumbo(ctx: UnderwritingContext): ProductEvaluation {
  const { input, ltv } = ctx;
  const rules = JUMBO_RULES;
  if (input.loanAmount <= rules.minLoanExclusive) {
    return gatedOut(
      'jumbo',
      `loan amount ${formatUsd(input.loanAmount)} is within the ${formatUsd(rules.minLoanExclusive)} conforming limit`,
    );
  }
  const pricing = price(ctx, 'jumbo', { financedFeePercent: 0, annualMiPercent: 0 });
  const checks: Check[] = [
    ficoCheck(input.creditScore, rules.minFico, 'jumbo'),
    ltvCheck(ltv, rules.maxLtv, 'jumbo limit'),
    dtiCheck(pricing.backEndDti, rules.maxDti, 'jumbo limit'),
  ];
  return decide(ctx, 'jumbo', pricing, checks, { maxDti: rules.maxDti, maxLtv: rules.maxLtv }, [
    'Jumbo reserve requirements are not checked',
  ]);
}

const EVALUATORS: Readonly<Record<ProductCode, (ctx: UnderwritingContext) => ProductEvaluation>> = {
  conventional: evaluateConventional,
  fha: evaluateFha,
  va: evaluateVa,
  usda: evaluateUsda,
  jumbo: evaluateJumbo,
};

/** Evaluates every product of the catalogue, in catalogue order. */
export function evaluateProducts(ctx: UnderwritingContext, products: readonly ProductCode[]): ProductEvaluation[] {
  return products.map((product) => EVALUATORS[product](ctx));
}
