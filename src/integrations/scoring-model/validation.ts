/** Runtime checks of the scoring contract, used at both ends of the HTTP hop and by the in-process model. */
import { InvalidScoringInputError, type ScoringInputIssue } from './errors.js';
import {
  EMPLOYMENT_STATUSES,
  LOAN_PURPOSES,
  OCCUPANCIES,
  PRODUCT_CODES,
  PROPERTY_TYPES,
  RISK_BANDS,
  type ScoringInput,
  type ScoringMetrics,
  type ScoringResult,
} from './types.js';

/** Upper bound on any dollar amount; keeps the arithmetic far from precision trouble. */
export const MAX_INPUT_AMOUNT = 1_000_000_000;

type UnknownRecord = Record<string, unknown>;

function isRecord(value: unknown): value is UnknownRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (values as readonly string[]).includes(value);
}

const STATE_PATTERN = /^[A-Za-z]{2}$/;
const POSTAL_CODE_PATTERN = /^\d{5}(-\d{4})?$/;

/**
 * Validates an untrusted value against the ScoringInput contract and returns a normalised copy
 * (unknown keys dropped, state upper-cased). Throws InvalidScoringInputError listing every issue.
 */
export function parseScoringInput(value: unknown): ScoringInput {
  const issues: ScoringInputIssue[] = [];
  const issue = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  if (!isRecord(value)) throw new InvalidScoringInputError([{ path: '', message: 'must be an object' }]);

  const amount = (key: string, opts: { positive: boolean }): number => {
    const v = value[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) issue(key, 'must be a finite number');
    else if (opts.positive ? v <= 0 : v < 0) issue(key, opts.positive ? 'must be greater than 0' : 'must not be negative');
    else if (v > MAX_INPUT_AMOUNT) issue(key, `must not exceed ${MAX_INPUT_AMOUNT}`);
    else return v;
    return 0;
  };
  const integerIn = (path: string, v: unknown, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) issue(path, `must be an integer between ${min} and ${max}`);
    else return v;
    return min;
  };
  const oneOf = <T extends string>(path: string, v: unknown, values: readonly T[]): T => {
    if (isOneOf(values, v)) return v;
    issue(path, `must be one of ${values.join(', ')}`);
    return values[0] as T;
  };
  const optionalBoolean = (key: string): boolean | undefined => {
    const v = value[key];
    if (v === undefined || typeof v === 'boolean') return v;
    issue(key, 'must be a boolean');
    return undefined;
  };

  const annualIncome = amount('annualIncome', { positive: false });
  const monthlyDebts = amount('monthlyDebts', { positive: false });
  const creditScore = integerIn('creditScore', value.creditScore, 300, 850);
  const loanAmount = amount('loanAmount', { positive: true });
  const propertyValue = amount('propertyValue', { positive: true });
  const downPayment = amount('downPayment', { positive: false });
  const termYears = integerIn('termYears', value.termYears, 1, 40);
  const purpose = oneOf('purpose', value.purpose, LOAN_PURPOSES);
  const propertyType = oneOf('propertyType', value.propertyType, PROPERTY_TYPES);
  const occupancy = oneOf('occupancy', value.occupancy, OCCUPANCIES);
  const veteran = optionalBoolean('veteran');
  const firstTimeBuyer = optionalBoolean('firstTimeBuyer');

  let employment: ScoringInput['employment'] = { status: 'other', years: 0 };
  if (!isRecord(value.employment)) issue('employment', 'must be an object');
  else {
    const status = oneOf('employment.status', value.employment.status, EMPLOYMENT_STATUSES);
    const years = value.employment.years;
    if (typeof years !== 'number' || !Number.isFinite(years) || years < 0 || years > 80) {
      issue('employment.years', 'must be a number between 0 and 80');
    } else employment = { status, years };
  }

  let property: ScoringInput['property'] = { state: 'XX' };
  if (!isRecord(value.property)) issue('property', 'must be an object');
  else {
    const { state, postalCode } = value.property;
    if (typeof state !== 'string' || !STATE_PATTERN.test(state)) issue('property.state', 'must be a two-letter state code');
    else property = { state: state.toUpperCase() };
    if (postalCode !== undefined) {
      if (typeof postalCode !== 'string' || !POSTAL_CODE_PATTERN.test(postalCode)) {
        issue('property.postalCode', 'must be a 5-digit ZIP or ZIP+4');
      } else property = { ...property, postalCode };
    }
  }

  if (issues.length === 0 && downPayment > propertyValue) issue('downPayment', 'must not exceed propertyValue');
  if (issues.length > 0) throw new InvalidScoringInputError(issues);

  return {
    annualIncome,
    monthlyDebts,
    creditScore,
    employment,
    loanAmount,
    propertyValue,
    downPayment,
    termYears,
    purpose,
    propertyType,
    occupancy,
    property,
    ...(veteran === undefined ? {} : { veteran }),
    ...(firstTimeBuyer === undefined ? {} : { firstTimeBuyer }),
  };
}

const METRIC_KEYS = [
  'ltv',
  'downPaymentPercent',
  'monthlyIncome',
  'referenceRate',
  'monthlyPrincipalAndInterest',
  'monthlyTaxesAndInsurance',
  'monthlyHousingPayment',
  'frontEndDti',
  'backEndDti',
  'residualIncome',
] as const satisfies readonly (keyof ScoringMetrics)[];

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Minimal structural check of a ScoringResult received from elsewhere. Returns a description of
 * the first problem, or undefined when the value is acceptable.
 */
export function describeScoringResultProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'result is not an object';
  const { matchScore, riskBand, eligibleProducts, reasons, metrics, modelVersion, costCents } = value;
  if (!Number.isInteger(matchScore) || (matchScore as number) < 0 || (matchScore as number) > 100) {
    return 'matchScore must be an integer 0-100';
  }
  if (!isOneOf(RISK_BANDS, riskBand)) return `riskBand must be one of ${RISK_BANDS.join(', ')}`;
  if (!Array.isArray(eligibleProducts)) return 'eligibleProducts must be an array';
  for (const [i, p] of eligibleProducts.entries()) {
    if (!isRecord(p)) return `eligibleProducts[${i}] must be an object`;
    if (!isOneOf(PRODUCT_CODES, p.product)) return `eligibleProducts[${i}].product is unknown`;
    if (!isFiniteNumber(p.estimatedRate)) return `eligibleProducts[${i}].estimatedRate must be a number`;
    if (!isFiniteNumber(p.monthlyPayment)) return `eligibleProducts[${i}].monthlyPayment must be a number`;
    if (p.maxLoanAmount !== undefined && !isFiniteNumber(p.maxLoanAmount)) {
      return `eligibleProducts[${i}].maxLoanAmount must be a number`;
    }
  }
  if (!Array.isArray(reasons) || !reasons.every((r) => typeof r === 'string')) return 'reasons must be an array of strings';
  if (!isRecord(metrics)) return 'metrics must be an object';
  for (const key of METRIC_KEYS) if (!isFiniteNumber(metrics[key])) return `metrics.${key} must be a number`;
  if (typeof modelVersion !== 'string' || modelVersion === '') return 'modelVersion must be a non-empty string';
  if (!Number.isInteger(costCents) || (costCents as number) < 0) return 'costCents must be a non-negative integer';
  return undefined;
}

/** Narrowing form of describeScoringResultProblem. */
export function isScoringResult(value: unknown): value is ScoringResult {
  return describeScoringResultProblem(value) === undefined;
}
