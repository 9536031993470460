/**
 * The mortgage scoring request: what a loan officer submits for one borrower. It is the body of
 * POST /scorings and the `request` of ai.scoring.requested. All money is integer cents (USD).
 *
 * The JSON Schema bounds each field; rules across fields (and the age check, which needs "today")
 * live in `validateScoringRequestRules`. Personal fields carry `x-sensitive`.
 */
import { Type, type Static } from 'typebox';
import { Cents, IntegerEnum, IsoDate, Obj, StringEnum, sensitive, type FieldError } from './common.js';

export const US_STATE_CODES = [
  'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA', 'KS', 'KY', 'LA', 'ME', 'MD',
  'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC',
  'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV', 'WI', 'WY', 'DC', 'PR', 'GU', 'VI', 'AS', 'MP',
] as const;

export const EMPLOYMENT_STATUSES = ['employed', 'self_employed', 'retired', 'unemployed', 'other'] as const;
export const LOAN_TERMS_YEARS = [10, 15, 20, 25, 30] as const;
export const LOAN_PURPOSES = ['purchase', 'refinance'] as const;
export const PROPERTY_TYPES = ['single_family', 'condo', 'townhouse', 'multi_family', 'manufactured'] as const;
export const OCCUPANCIES = ['primary', 'secondary', 'investment'] as const;

/** Bounds (cents) on the amounts of a request. */
export const SCORING_LIMITS = Object.freeze({
  maxAnnualIncomeCents: 100_000_000_00, // $100M
  maxMonthlyDebtsCents: 1_000_000_00, // $1M
  minLoanAmountCents: 10_000_00, // $10k
  maxLoanAmountCents: 50_000_000_00, // $50M
  minPropertyValueCents: 10_000_00, // $10k
  maxPropertyValueCents: 100_000_000_00, // $100M
  /** Minimum down payment on a purchase, in percent of the property value (VA: 0%). */
  minPurchaseDownPaymentPercent: 3,
  /** Tolerance on loanAmount + downPayment = propertyValue for purchases (rounding). */
  purchaseSumToleranceCents: 1_00,
  minApplicantAgeYears: 18,
  maxApplicantAgeYears: 120,
});

/** A valid request (used as the OpenAPI example and in tests). */
export const EXAMPLE_SCORING_REQUEST = Object.freeze({
  applicant: Object.freeze({ name: 'Jane Q. Borrower', email: 'jane.borrower@example.com', dateOfBirth: '1988-04-12' }),
  annualIncome: 12_500_000,
  monthlyDebts: 85_000,
  creditScore: 742,
  employment: Object.freeze({ status: 'employed', years: 6.5 }),
  loanAmount: 36_000_000,
  propertyValue: 45_000_000,
  downPayment: 9_000_000,
  termYears: 30,
  purpose: 'purchase',
  propertyType: 'single_family',
  occupancy: 'primary',
  property: Object.freeze({ state: 'CA', postalCode: '94107' }),
  firstTimeBuyer: true,
} as const);

export const TermYearsSchema = IntegerEnum([...LOAN_TERMS_YEARS], { description: 'Loan term in years' });

export const ApplicantSchema = Obj(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Full legal name', examples: ['Jane Q. Borrower'], ...sensitive }),
    email: Type.String({ format: 'email', maxLength: 254, examples: ['jane.borrower@example.com'], ...sensitive }),
    dateOfBirth: IsoDate({ description: 'Date of birth; the applicant must be at least 18', examples: ['1988-04-12'], ...sensitive }),
  },
  { description: 'The borrower' },
);

export const EmploymentSchema = Obj({
  status: StringEnum([...EMPLOYMENT_STATUSES]),
  years: Type.Number({ minimum: 0, maximum: 70, description: 'Years in the current employment (0 when unemployed)', examples: [6.5] }),
});

export const PropertyLocationSchema = Obj({
  state: StringEnum([...US_STATE_CODES], { description: 'USPS state or territory code', examples: ['CA'] }),
  postalCode: Type.Optional(Type.String({ pattern: '^[0-9]{5}$', description: '5-digit ZIP code', examples: ['94107'] })),
});

export const ScoringRequestSchema = Obj(
  {
    applicant: ApplicantSchema,
    annualIncome: Cents({ maximum: SCORING_LIMITS.maxAnnualIncomeCents, description: 'Gross annual income, cents', examples: [12_500_000] }),
    monthlyDebts: Cents({ maximum: SCORING_LIMITS.maxMonthlyDebtsCents, description: 'Monthly debt payments (excluding this loan), cents', examples: [85_000] }),
    creditScore: Type.Integer({ minimum: 300, maximum: 850, description: 'FICO score', examples: [742] }),
    employment: EmploymentSchema,
    loanAmount: Cents({
      minimum: SCORING_LIMITS.minLoanAmountCents,
      maximum: SCORING_LIMITS.maxLoanAmountCents,
      description: 'Base loan amount (before financed fees), cents',
      examples: [36_000_000],
    }),
    propertyValue: Cents({
      minimum: SCORING_LIMITS.minPropertyValueCents,
      maximum: SCORING_LIMITS.maxPropertyValueCents,
      description: 'Purchase price or appraised value, cents',
      examples: [45_000_000],
    }),
    downPayment: Cents({ maximum: SCORING_LIMITS.maxPropertyValueCents, description: 'Down payment, cents (0 for a refinance)', examples: [9_000_000] }),
    termYears: TermYearsSchema,
    purpose: StringEnum([...LOAN_PURPOSES]),
    propertyType: StringEnum([...PROPERTY_TYPES]),
    occupancy: StringEnum([...OCCUPANCIES]),
    property: PropertyLocationSchema,
    veteran: Type.Optional(Type.Boolean({ description: 'Eligible for a VA loan' })),
    firstTimeBuyer: Type.Optional(Type.Boolean()),
  },
  {
    description: 'A mortgage scoring request for one borrower. Money in integer cents (USD).',
    examples: [EXAMPLE_SCORING_REQUEST],
  },
);
export type ScoringRequest = Static<typeof ScoringRequestSchema>;
const _exampleIsARequest: ScoringRequest = EXAMPLE_SCORING_REQUEST;
void _exampleIsARequest;

/** Whole years between an ISO birth date and an ISO day (`YYYY-MM-DD...`), or undefined if unparsable. */
export function ageOn(dateOfBirth: string, asOf: string): number | undefined {
  const birth = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateOfBirth);
  const today = /^(\d{4})-(\d{2})-(\d{2})/.exec(asOf);
  if (!birth || !today) return undefined;
  const [by, bm, bd] = [Number(birth[1]), Number(birth[2]), Number(birth[3])];
  const [ty, tm, td] = [Number(today[1]), Number(today[2]), Number(today[3])];
  const hadBirthday = tm > bm || (tm === bm && td >= bd);
  return ty - by - (hadBirthday ? 0 : 1);
}

/**
 * Rules across fields that JSON Schema cannot state. Pure: `asOf` ("today", an ISO date or
 * date-time, UTC) comes from the caller. Assumes `req` already passed `ScoringRequestSchema`.
 *
 * 1. `/applicant/dateOfBirth`: the applicant is at least 18 and at most 120 years old on `asOf`.
 * 2. `/downPayment`: never above the property value.
 * 3. `/loanAmount`: never above the property value, whatever the purpose: no LTV above 100%,
 *    cash-out refinances included (cash-out is a product decision inside the scoring, within the
 *    value; underwater refinances are not offered). `loanAmount` is the base amount, so financed
 *    fees (FHA UFMIP, VA funding fee) do not count.
 * 4. `/loanAmount`: for a purchase, loanAmount + downPayment = propertyValue (±$1 for rounding):
 *    the price must be fully funded and the loan not larger than what is left to fund.
 * 5. `/downPayment`: for a purchase, at least 3% of the property value, except with VA
 *    eligibility (`veteran: true`), where 0 is allowed.
 * 6. `/downPayment`: a refinance has no down payment (0): cash-in shows as a smaller loan.
 * 7. `/firstTimeBuyer`: only a purchase can be by a first-time buyer.
 * 8. `/employment/years`: 0 when unemployed.
 * 9. `/annualIncome`: above 0 when employed or self-employed.
 */
export function validateScoringRequestRules(req: ScoringRequest, asOf: string): FieldError[] {
  const errors: FieldError[] = [];
  const L = SCORING_LIMITS;

  const age = ageOn(req.applicant.dateOfBirth, asOf);
  if (age === undefined) errors.push({ path: '/applicant/dateOfBirth', message: 'must be a date (YYYY-MM-DD)' });
  else if (age < L.minApplicantAgeYears) errors.push({ path: '/applicant/dateOfBirth', message: `applicant must be at least ${L.minApplicantAgeYears} years old` });
  else if (age > L.maxApplicantAgeYears) errors.push({ path: '/applicant/dateOfBirth', message: `applicant must be at most ${L.maxApplicantAgeYears} years old` });

  if (req.downPayment > req.propertyValue) errors.push({ path: '/downPayment', message: 'must not exceed propertyValue' });
  if (req.loanAmount > req.propertyValue) errors.push({ path: '/loanAmount', message: 'must not exceed propertyValue (loan-to-value above 100% is not offered)' });

  if (req.purpose === 'purchase') {
    if (Math.abs(req.loanAmount + req.downPayment - req.propertyValue) > L.purchaseSumToleranceCents) {
      errors.push({ path: '/loanAmount', message: 'for a purchase, loanAmount + downPayment must equal propertyValue' });
    }
    const minimumDown = Math.ceil((req.propertyValue * L.minPurchaseDownPaymentPercent) / 100);
    if (req.veteran !== true && req.downPayment < minimumDown) {
      errors.push({ path: '/downPayment', message: `must be at least ${L.minPurchaseDownPaymentPercent}% of propertyValue for a purchase without VA eligibility` });
    }
  } else {
    if (req.downPayment !== 0) errors.push({ path: '/downPayment', message: 'must be 0 for a refinance' });
    if (req.firstTimeBuyer === true) errors.push({ path: '/firstTimeBuyer', message: 'only applies to a purchase' });
  }

  if (req.employment.status === 'unemployed' && req.employment.years !== 0) {
    errors.push({ path: '/employment/years', message: 'must be 0 when unemployed' });
  }
  if ((req.employment.status === 'employed' || req.employment.status === 'self_employed') && req.annualIncome === 0) {
    errors.push({ path: '/annualIncome', message: 'must be above 0 when employed or self-employed' });
  }
  return errors;
}
