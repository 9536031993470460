/**
 * Wire-level types of the scoring-model contract. These are plain TypeScript shapes; the
 * HTTP contract (TypeBox) is mapped onto them by the engine.
 *
 * Units: every money amount in the INPUT is whole US dollars (fractional values are tolerated
 * and used as-is, never rounded). Money in the OUTPUT is dollars with 2 decimals, except
 * `costCents`, which is integer US cents. Rates, LTV and DTI are percentages (6.5 = 6.5 %).
 */

export const EMPLOYMENT_STATUSES = ['employed', 'self_employed', 'retired', 'unemployed', 'other'] as const;
export type EmploymentStatus = (typeof EMPLOYMENT_STATUSES)[number];

export const LOAN_PURPOSES = ['purchase', 'refinance'] as const;
export type LoanPurpose = (typeof LOAN_PURPOSES)[number];

export const PROPERTY_TYPES = ['single_family', 'condo', 'townhouse', 'multi_family', 'manufactured'] as const;
export type PropertyType = (typeof PROPERTY_TYPES)[number];

export const OCCUPANCIES = ['primary', 'secondary', 'investment'] as const;
export type Occupancy = (typeof OCCUPANCIES)[number];

/** Catalogue order; also the tie-break order of `eligibleProducts`. */
export const PRODUCT_CODES = ['conventional', 'fha', 'va', 'usda', 'jumbo'] as const;
export type ProductCode = (typeof PRODUCT_CODES)[number];

export const RISK_BANDS = ['low', 'moderate', 'elevated', 'high'] as const;
export type RiskBand = (typeof RISK_BANDS)[number];

export interface ScoringInput {
  /** Gross annual income of all borrowers, whole dollars. 0 means no qualifying income. */
  readonly annualIncome: number;
  /** Recurring monthly debt payments EXCLUDING the new housing payment (cards, auto, student loans), whole dollars. */
  readonly monthlyDebts: number;
  /** Representative FICO score, integer 300-850. */
  readonly creditScore: number;
  readonly employment: {
    readonly status: EmploymentStatus;
    /** Years in the current job / line of business (ignored for `retired`). */
    readonly years: number;
  };
  /** Base loan amount requested, whole dollars (before any financed FHA/VA/USDA fee). */
  readonly loanAmount: number;
  /** Purchase price or appraised value, whole dollars. LTV = loanAmount / propertyValue. */
  readonly propertyValue: number;
  /** Down payment (purchase) or equity (refinance), whole dollars; informational, LTV drives the rules. */
  readonly downPayment: number;
  /** Amortization term in whole years, 1-40. */
  readonly termYears: number;
  readonly purpose: LoanPurpose;
  readonly propertyType: PropertyType;
  readonly occupancy: Occupancy;
  readonly property: {
    /** Two-letter US state / territory code (normalised to upper case). Not used by the rules yet. */
    readonly state: string;
    /** 5-digit or ZIP+4. Reserved for county loan limits / rural eligibility (not modelled). */
    readonly postalCode?: string;
  };
  readonly veteran?: boolean;
  readonly firstTimeBuyer?: boolean;
}

export interface EligibleProduct {
  readonly product: ProductCode;
  /** Estimated note rate in percent, on a 1/8 % grid (so at most 3 decimals). */
  readonly estimatedRate: number;
  /** Monthly PITI in dollars (2 decimals): P&I on the financed amount + taxes + hazard insurance + mortgage insurance. */
  readonly monthlyPayment: number;
  /** Largest whole-dollar base loan this product allows for this borrower and property at the same pricing. */
  readonly maxLoanAmount?: number;
}

/**
 * Borrower-level metrics, computed at the REFERENCE pricing: the conventional rate for the
 * borrower (jumbo pricing when the loan exceeds the conforming limit), without mortgage
 * insurance or financed fees. Each eligible product carries its own rate and PITI.
 */
export interface ScoringMetrics {
  /** Loan-to-value, percent, 2 decimals. */
  readonly ltv: number;
  /** downPayment / propertyValue, percent, 2 decimals. */
  readonly downPaymentPercent: number;
  /** annualIncome / 12, dollars. */
  readonly monthlyIncome: number;
  /** Reference note rate, percent. */
  readonly referenceRate: number;
  readonly monthlyPrincipalAndInterest: number;
  /** Property tax + homeowners insurance, a flat % of property value per year (see constants). */
  readonly monthlyTaxesAndInsurance: number;
  /** monthlyPrincipalAndInterest + monthlyTaxesAndInsurance. */
  readonly monthlyHousingPayment: number;
  /** Housing payment / monthly income, percent, 2 decimals (capped at 999.99 when there is no income). */
  readonly frontEndDti: number;
  /** (Housing payment + monthly debts) / monthly income, percent, 2 decimals (capped likewise). */
  readonly backEndDti: number;
  /** Monthly income - monthly debts - housing payment, dollars (may be negative). */
  readonly residualIncome: number;
}

export interface ScoringResult {
  /** 0-100 integer; see SCORE_WEIGHTS in constants.ts. */
  readonly matchScore: number;
  readonly riskBand: RiskBand;
  /** Sorted by monthlyPayment ascending, ties in catalogue order. */
  readonly eligibleProducts: EligibleProduct[];
  /** Human-readable explanation, deterministic order. */
  readonly reasons: string[];
  readonly metrics: ScoringMetrics;
  readonly modelVersion: string;
  /** Integer US cents charged for this scoring call. */
  readonly costCents: number;
}
