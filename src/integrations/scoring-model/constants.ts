/**
 * Every number the underwriting model uses, in one place. Changing any value here changes
 * model behaviour and therefore requires bumping MODEL_VERSION.
 *
 * Rules are real agency / program rules in simplified form (2025 baseline figures); they are an
 * estimate for matching, not an underwriting decision.
 */
import type { EmploymentStatus, Occupancy, PropertyType, ProductCode } from './types.js';

export const MODEL_VERSION = 'underwriting-rules-2026.1';

// ---------------------------------------------------------------------------------------------
// Cost
// ---------------------------------------------------------------------------------------------

/** costCents = BASE + PER_PRODUCT_PRICED * (products that passed their program gates and were priced). */
export const COST_CENTS = { base: 3, perProductPriced: 1 } as const;

// ---------------------------------------------------------------------------------------------
// Housing costs
// ---------------------------------------------------------------------------------------------

/**
 * Taxes and insurance as a flat percentage of property value per year (national averages,
 * rounded): 1.00 % property tax + 0.35 % homeowners insurance. State rates, HOA dues and flood
 * insurance are not modelled.
 */
export const HOUSING_COST_ANNUAL_PERCENT = { propertyTax: 1.0, homeownersInsurance: 0.35 } as const;

// ---------------------------------------------------------------------------------------------
// Loan limits (1-unit, 2025 baseline; high-cost areas, Alaska/Hawaii and 2-4 unit limits ignored)
// ---------------------------------------------------------------------------------------------

export const CONFORMING_LOAN_LIMIT = 806_500;
export const FHA_LOAN_LIMIT_FLOOR = 524_225;
/** USDA guaranteed standard income limit, 1-4 member household (simplified to a national figure). */
export const USDA_INCOME_LIMIT = 119_850;

// ---------------------------------------------------------------------------------------------
// Program eligibility rules
// ---------------------------------------------------------------------------------------------

export const CONVENTIONAL_RULES = {
  minFico: 620,
  maxLtvByOccupancy: { primary: 97, secondary: 90, investment: 85 } satisfies Record<Occupancy, number>,
  maxDti: 45,
  /** Automated underwriting commonly approves up to 50 % for strong credit. */
  highFicoThreshold: 700,
  maxDtiHighFico: 50,
  loanLimit: CONFORMING_LOAN_LIMIT,
} as const;

export const FHA_RULES = {
  /** Absolute floor; 500-579 requires 10 % down. */
  minFico: 500,
  /** FICO at or above this qualifies for the 3.5 % down (96.5 % LTV) option. */
  minimumDownFico: 580,
  maxLtv: 96.5,
  maxLtvLowFico: 90,
  maxDti: 43,
  /** "Compensating factors" simplified to a FICO threshold. */
  compensatingFactorFico: 680,
  maxDtiWithCompensatingFactors: 57,
  loanLimit: FHA_LOAN_LIMIT_FLOOR,
  /** Upfront MIP, financed into the loan. */
  upfrontMipPercent: 1.75,
  /** Annual MIP (loans <= $726,200): 0.55 % above 95 % LTV, 0.50 % otherwise; all terms. */
  annualMipPercentAbove95Ltv: 0.55,
  annualMipPercent: 0.5,
} as const;

export const VA_RULES = {
  /** VA itself has no minimum; this is the common lender overlay. */
  minFico: 580,
  maxLtv: 100,
  /** VA guideline ratio. */
  maxDti: 41,
  /** Residual-income check simplified: above 41 % DTI still OK with FICO >= 660 and this much residual. */
  overrideMinFico: 660,
  minResidualIncome: 1_000,
  /** Funding fee (first use, not exempt), financed. Keyed by down payment percent = 100 - LTV. */
  fundingFeePercent: { downUnder5: 2.15, down5To10: 1.5, down10OrMore: 1.25, refinance: 2.15 },
} as const;

export const USDA_RULES = {
  /** GUS automated-approval threshold. */
  minFico: 640,
  maxLtv: 100,
  maxDti: 41,
  incomeLimit: USDA_INCOME_LIMIT,
  /** USDA guaranteed loans are 30-year fixed only. */
  termYears: 30,
  upfrontGuaranteeFeePercent: 1.0,
  annualFeePercent: 0.35,
} as const;

export const JUMBO_RULES = {
  minFico: 700,
  maxLtv: 80,
  maxDti: 43,
  /** Jumbo applies strictly above this amount; reserves are ignored. */
  minLoanExclusive: CONFORMING_LOAN_LIMIT,
} as const;

/** Conventional borrower-paid PMI, annual percent of the base loan, by max LTV of the band. */
export const CONVENTIONAL_PMI_BANDS: readonly { readonly maxLtv: number; readonly annualPercent: number }[] = [
  { maxLtv: 80, annualPercent: 0 },
  { maxLtv: 85, annualPercent: 0.3 },
  { maxLtv: 90, annualPercent: 0.45 },
  { maxLtv: 95, annualPercent: 0.6 },
  { maxLtv: Number.POSITIVE_INFINITY, annualPercent: 0.8 },
];

/** No product can be underwritten without income; these statuses never count as qualifying. */
export const NON_QUALIFYING_EMPLOYMENT: readonly EmploymentStatus[] = ['unemployed'];

// ---------------------------------------------------------------------------------------------
// Pricing (loan-level-price-adjustment style, expressed directly in rate percent)
// ---------------------------------------------------------------------------------------------

/** 30-year fixed base note rates. */
export const BASE_RATES: Readonly<Record<ProductCode, number>> = {
  conventional: 6.5,
  fha: 6.25,
  va: 6.0,
  usda: 6.125,
  jumbo: 6.75,
};

/** First band whose maxTermYears >= termYears applies. */
export const TERM_ADJUSTMENTS: readonly { readonly maxTermYears: number; readonly adjustment: number }[] = [
  { maxTermYears: 10, adjustment: -0.75 },
  { maxTermYears: 15, adjustment: -0.625 },
  { maxTermYears: 20, adjustment: -0.375 },
  { maxTermYears: 25, adjustment: -0.125 },
  { maxTermYears: Number.POSITIVE_INFINITY, adjustment: 0 },
];

/** First band whose minFico <= creditScore applies (conventional and jumbo). */
export const AGENCY_FICO_ADJUSTMENTS: readonly { readonly minFico: number; readonly adjustment: number }[] = [
  { minFico: 780, adjustment: -0.125 },
  { minFico: 760, adjustment: 0 },
  { minFico: 740, adjustment: 0.125 },
  { minFico: 720, adjustment: 0.25 },
  { minFico: 700, adjustment: 0.375 },
  { minFico: 680, adjustment: 0.5 },
  { minFico: 660, adjustment: 0.75 },
  { minFico: 640, adjustment: 1.0 },
  { minFico: 620, adjustment: 1.25 },
  { minFico: 300, adjustment: 1.5 },
];

/** Government programs (FHA, VA, USDA) price much flatter across credit. */
export const GOVERNMENT_FICO_ADJUSTMENTS: readonly { readonly minFico: number; readonly adjustment: number }[] = [
  { minFico: 680, adjustment: 0 },
  { minFico: 640, adjustment: 0.125 },
  { minFico: 600, adjustment: 0.25 },
  { minFico: 580, adjustment: 0.375 },
  { minFico: 300, adjustment: 0.5 },
];

/** First band whose maxLtv >= LTV applies (conventional and jumbo only). */
export const LTV_ADJUSTMENTS: readonly { readonly maxLtv: number; readonly adjustment: number }[] = [
  { maxLtv: 60, adjustment: -0.25 },
  { maxLtv: 70, adjustment: -0.125 },
  { maxLtv: 80, adjustment: 0 },
  { maxLtv: 85, adjustment: 0.125 },
  { maxLtv: 95, adjustment: 0.25 },
  { maxLtv: Number.POSITIVE_INFINITY, adjustment: 0.375 },
];

/** Applied to every product (FHA/VA/USDA only ever see primary). */
export const OCCUPANCY_ADJUSTMENTS: Readonly<Record<Occupancy, number>> = {
  primary: 0,
  secondary: 0.5,
  investment: 0.75,
};

export const PROPERTY_TYPE_ADJUSTMENTS: Readonly<Record<PropertyType, number>> = {
  single_family: 0,
  townhouse: 0,
  condo: 0.125,
  multi_family: 0.25,
  manufactured: 0.5,
};

/**
 * Conventional first-time-buyer LLPA waiver, simplified to a rate credit for first-time buyers
 * purchasing with income at or below a national area-median-income proxy.
 */
export const FIRST_TIME_BUYER_CREDIT = { adjustment: -0.125, maxAnnualIncome: 104_200 } as const;

/** Final rates are rounded to the nearest 1/8 % (rate-sheet grid) and never go below the floor. */
export const RATE_INCREMENT = 0.125;
export const MIN_RATE = 1.0;

// ---------------------------------------------------------------------------------------------
// Match score
// ---------------------------------------------------------------------------------------------

/**
 * matchScore = round( sum(weight_i * component_i) ), each component in [0, 1], weights sum to 100.
 *   credit      piecewise-linear in FICO         (CREDIT_CURVE)
 *   dti         piecewise-linear in back-end DTI (DTI_CURVE, reference pricing)
 *   ltv         piecewise-linear in LTV          (LTV_CURVE)
 *   employment  status factor * tenure factor    (EMPLOYMENT_*)
 *   products    min(eligible, PRODUCTS_FOR_FULL_CREDIT) / PRODUCTS_FOR_FULL_CREDIT
 * With no eligible product the score is capped at MAX_SCORE_WITHOUT_PRODUCTS.
 */
export const SCORE_WEIGHTS = { credit: 30, dti: 25, ltv: 20, employment: 10, products: 15 } as const;

/** [x, value] points, linearly interpolated, clamped outside the range. */
export type Curve = readonly (readonly [number, number])[];

export const CREDIT_CURVE: Curve = [
  [500, 0],
  [620, 0.35],
  [700, 0.7],
  [760, 0.9],
  [800, 1],
];

export const DTI_CURVE: Curve = [
  [20, 1],
  [36, 0.8],
  [43, 0.55],
  [50, 0.25],
  [57, 0],
];

export const LTV_CURVE: Curve = [
  [60, 1],
  [80, 0.8],
  [90, 0.55],
  [97, 0.3],
  [100, 0.1],
  [105, 0],
];

export const EMPLOYMENT_STATUS_FACTORS: Readonly<Record<EmploymentStatus, number>> = {
  employed: 1,
  retired: 0.9,
  self_employed: 0.8,
  other: 0.6,
  unemployed: 0,
};

/** tenure factor = 0.5 + 0.5 * min(years, FULL) / FULL (always 1 for retired). */
export const EMPLOYMENT_FULL_TENURE_YEARS = 2;

export const PRODUCTS_FOR_FULL_CREDIT = 3;
export const MAX_SCORE_WITHOUT_PRODUCTS = 25;

/**
 * riskBand comes from the risk index = the credit/DTI/LTV/employment part of the score rescaled
 * to 0-100 (product count is about fit, not risk). No eligible product forces 'high'.
 */
export const RISK_BAND_MIN_INDEX = { low: 75, moderate: 55, elevated: 35 } as const;

/** DTI reported when monthly income is 0 (keeps metrics finite and JSON-serialisable). */
export const DTI_CAP_PERCENT = 999.99;
