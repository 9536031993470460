/**
 * The boundary between the scoring contract (src/contracts: money in integer cents, the API's
 * enums) and the underwriting model's own shapes (types.ts: whole dollars in, dollars out).
 *
 * Request → input: cents / 100, exactly (the model accepts fractional dollars and never rounds);
 * the applicant (name, e-mail, date of birth) is not sent: the model does not use it.
 *
 * Model result → contract result:
 * - riskBand: low → low, moderate → moderate, elevated → high, high → very_high (the model's
 *   worst band, also given when no product fits, is the contract's worst band);
 * - products: conventional → conventional_fixed (the model prices fully amortising fixed-rate
 *   loans; it never offers an ARM), fha / va / usda / jumbo unchanged; termYears = the request's;
 * - monthlyPayment: the model gives PITI in dollars; the contract wants the loan payment in cents,
 *   so the model's taxes & insurance (metrics.monthlyTaxesAndInsurance, the same amount in every
 *   product) are taken out: what is left is principal and interest, plus mortgage insurance for
 *   products that charge it;
 * - reasons: the model's sentences become { code, detail } with a stable code derived from the
 *   sentence's kind (MATCH_SCORE, FHA_NOT_ELIGIBLE, VA_FICO_BELOW_MINIMUM, ...); over 20, the
 *   summary lines, product verdicts and failed checks are kept before passed checks and notes;
 * - explanation: one plain-language paragraph built from the result.
 * The mapped result is validated against ScoringResultSchema: a model output that does not fit
 * the contract is a BusinessError('invalid_model_output').
 */
import { ScoringResultSchema, type ScoringResult as ContractScoringResult } from '../../contracts/events/ai.js';
import type { ScoringRequest } from '../../contracts/scoring-request.js';
import { validate } from '../../contracts/validation.js';
import { BusinessError } from '../../engine/failures.js';
import type { ProductCode, RiskBand, ScoringInput, ScoringResult as ModelScoringResult } from './types.js';

export const INVALID_MODEL_OUTPUT = 'invalid_model_output';

type ContractRiskBand = ContractScoringResult['riskBand'];
type ContractProduct = ContractScoringResult['eligibleProducts'][number]['product'];
type ContractReason = ContractScoringResult['reasons'][number];

export const RISK_BAND_MAP: Readonly<Record<RiskBand, ContractRiskBand>> = Object.freeze({
  low: 'low',
  moderate: 'moderate',
  elevated: 'high',
  high: 'very_high',
});

export const PRODUCT_MAP: Readonly<Record<ProductCode, ContractProduct>> = Object.freeze({
  conventional: 'conventional_fixed',
  fha: 'fha',
  va: 'va',
  usda: 'usda',
  jumbo: 'jumbo',
});

const MAX_REASONS = 20;
const MAX_REASON_DETAIL = 500;
const MAX_EXPLANATION = 2000;

function dollars(cents: number): number {
  return cents / 100;
}

function cents(amountInDollars: number): number {
  return Math.round(amountInDollars * 100);
}

/** The model input of a contract request: amounts in dollars, no personal data. */
export function toScoringInput(request: ScoringRequest): ScoringInput {
  return {
    annualIncome: dollars(request.annualIncome),
    monthlyDebts: dollars(request.monthlyDebts),
    creditScore: request.creditScore,
    employment: { status: request.employment.status, years: request.employment.years },
    loanAmount: dollars(request.loanAmount),
    propertyValue: dollars(request.propertyValue),
    downPayment: dollars(request.downPayment),
    termYears: request.termYears,
    purpose: request.purpose,
    propertyType: request.propertyType,
    occupancy: request.occupancy,
    property: request.property.postalCode === undefined ? { state: request.property.state } : { state: request.property.state, postalCode: request.property.postalCode },
    ...(request.veteran === undefined ? {} : { veteran: request.veteran }),
    ...(request.firstTimeBuyer === undefined ? {} : { firstTimeBuyer: request.firstTimeBuyer }),
  };
}

// ---------------------------------------------------------------------------------------------
// Reasons
// ---------------------------------------------------------------------------------------------

const PRODUCT_SCOPES: Readonly<Record<string, string>> = { Conventional: 'CONVENTIONAL', FHA: 'FHA', VA: 'VA', USDA: 'USDA', Jumbo: 'JUMBO' };
const VERDICTS: Readonly<Record<string, string>> = { eligible: 'ELIGIBLE', 'not eligible': 'NOT_ELIGIBLE', 'not applicable': 'NOT_APPLICABLE' };
const PRODUCT_HEADER = /^(Conventional|FHA|VA|USDA|Jumbo): (eligible|not eligible|not applicable)\b/;

/** Lower number = kept first when there are more than MAX_REASONS. */
const Priority = { Summary: 0, Verdict: 1, Failure: 2, Detail: 3 } as const;
type Priority = (typeof Priority)[keyof typeof Priority];

interface ReasonRule {
  readonly pattern: RegExp;
  readonly code: string;
  /** Outside any product section (summary lines, or the closing line after the products). */
  readonly global?: boolean;
  readonly failure?: boolean;
}

const REASON_RULES: readonly ReasonRule[] = [
  { pattern: /^Match score\b/, code: 'MATCH_SCORE', global: true },
  { pattern: /^Reference payment\b/, code: 'REFERENCE_PAYMENT', global: true },
  { pattern: /^Front-end DTI\b/, code: 'DEBT_TO_INCOME', global: true },
  { pattern: /^No qualifying income\b/, code: 'NO_QUALIFYING_INCOME', global: true },
  { pattern: /^No product in the catalogue\b/, code: 'NO_ELIGIBLE_PRODUCT', global: true },
  { pattern: /^FICO \d+ meets\b/, code: 'FICO_MEETS_MINIMUM' },
  { pattern: /^FICO \d+ is below\b/, code: 'FICO_BELOW_MINIMUM', failure: true },
  { pattern: /^LTV \S+ is within\b/, code: 'LTV_WITHIN_LIMIT' },
  { pattern: /^LTV \S+ exceeds\b/, code: 'LTV_EXCEEDS_LIMIT', failure: true },
  { pattern: /^Back-end DTI \S+ is within\b/, code: 'DTI_WITHIN_LIMIT' },
  { pattern: /^Back-end DTI \S+ exceeds\b/, code: 'DTI_EXCEEDS_LIMIT', failure: true },
  { pattern: /^LTV\b/, code: 'LOAN_TO_VALUE', global: true },
];

const CODE_PATTERN = /^[A-Z][A-Z0-9_]{1,63}$/;

/** A code for a sentence no rule knows: its first words, e.g. "Loan amount above ..." → LOAN_AMOUNT_ABOVE. */
function fallbackCode(text: string, scope: string | undefined): string {
  const words = text
    .replace(/[^A-Za-z ]+/g, ' ')
    .trim()
    .split(/\s+/)
    .filter((word) => word.length > 0)
    .slice(0, 3)
    .map((word) => word.toUpperCase());
  const code = [scope, ...words].filter((part): part is string => part !== undefined && part !== '').join('_').slice(0, 64);
  return CODE_PATTERN.test(code) ? code : scope !== undefined ? `${scope}_NOTE` : 'MODEL_NOTE';
}

interface RankedReason {
  readonly reason: ContractReason;
  readonly priority: Priority;
  readonly index: number;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** { code, detail } for each model sentence, at most MAX_REASONS, in the model's order. */
export function toContractReasons(sentences: readonly string[]): ContractReason[] {
  let scope: string | undefined;
  const ranked: RankedReason[] = sentences.map((sentence, index) => {
    const detail = truncate(String(sentence).trim(), MAX_REASON_DETAIL);
    const header = PRODUCT_HEADER.exec(detail);
    if (header) {
      scope = PRODUCT_SCOPES[header[1] ?? ''];
      return { reason: { code: `${scope ?? 'PRODUCT'}_${VERDICTS[header[2] ?? ''] ?? 'VERDICT'}`, detail }, priority: Priority.Verdict, index };
    }
    const rule = REASON_RULES.find((candidate) => candidate.pattern.test(detail) && (candidate.global !== true || scope === undefined || candidate.code === 'NO_ELIGIBLE_PRODUCT'));
    if (rule?.global === true) {
      scope = undefined;
      return { reason: { code: rule.code, detail }, priority: Priority.Summary, index };
    }
    if (rule) return { reason: { code: scope === undefined ? rule.code : `${scope}_${rule.code}`, detail }, priority: rule.failure === true ? Priority.Failure : Priority.Detail, index };
    return { reason: { code: fallbackCode(detail, scope), detail }, priority: scope === undefined ? Priority.Summary : Priority.Detail, index };
  });
  const kept = ranked.length <= MAX_REASONS ? ranked : [...ranked].sort((a, b) => a.priority - b.priority || a.index - b.index).slice(0, MAX_REASONS).sort((a, b) => a.index - b.index);
  return kept.map((entry) => entry.reason);
}

// ---------------------------------------------------------------------------------------------
// Result
// ---------------------------------------------------------------------------------------------

const PRODUCT_NAMES: Readonly<Record<ContractProduct, string>> = {
  conventional_fixed: 'conventional fixed-rate',
  conventional_arm: 'conventional adjustable-rate',
  fha: 'FHA',
  va: 'VA',
  usda: 'USDA',
  jumbo: 'jumbo',
};

function usd(amountInCents: number): string {
  return `$${(amountInCents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function explanationOf(result: Omit<ContractScoringResult, 'explanation'>): string {
  const band = String(result.riskBand).replace('_', ' ');
  const parts = [`Match score ${result.matchScore}/100 with ${band} risk.`];
  const best = result.eligibleProducts[0];
  if (best === undefined) {
    parts.push('No loan product in the catalogue fits this application.');
  } else {
    const count = result.eligibleProducts.length;
    parts.push(
      `${count} eligible product${count === 1 ? '' : 's'}; the lowest payment is ${PRODUCT_NAMES[best.product] ?? String(best.product)} over ${best.termYears} years at an estimated ${best.estimatedRate}% for ${usd(best.monthlyPayment)} a month (principal, interest and any mortgage insurance; taxes and insurance not included).`,
    );
  }
  const firstFailure = result.reasons.find((reason) => /(EXCEEDS|BELOW|NOT_ELIGIBLE|NO_)/.test(reason.code));
  if (firstFailure) parts.push(`Main limitation: ${firstFailure.detail}`);
  parts.push(`Scored by model ${result.modelVersion}.`);
  return truncate(parts.join(' '), MAX_EXPLANATION);
}

function invalidOutput(detail: string, cause?: unknown): BusinessError {
  return new BusinessError(INVALID_MODEL_OUTPUT, `The scoring model returned a result that does not fit the contract: ${detail}`, cause === undefined ? undefined : { cause });
}

/**
 * The contract result of a model result, validated against ScoringResultSchema. `termYears` is
 * the request's (the model prices every product at the requested term). Throws
 * BusinessError('invalid_model_output') when the model's output cannot be mapped or does not fit.
 */
export function toContractResult(result: ModelScoringResult, request: { readonly termYears: number }): ContractScoringResult {
  let mapped: ContractScoringResult;
  try {
    const taxesAndInsurance = cents(result.metrics.monthlyTaxesAndInsurance);
    const reasons = toContractReasons(result.reasons);
    const withoutExplanation = {
      matchScore: result.matchScore,
      riskBand: RISK_BAND_MAP[result.riskBand],
      eligibleProducts: result.eligibleProducts.map((product) => ({
        product: PRODUCT_MAP[product.product],
        termYears: request.termYears,
        estimatedRate: product.estimatedRate,
        monthlyPayment: cents(product.monthlyPayment) - taxesAndInsurance,
      })),
      reasons,
      costCents: result.costCents,
      modelVersion: result.modelVersion,
    } as Omit<ContractScoringResult, 'explanation'>;
    mapped = { ...withoutExplanation, explanation: explanationOf(withoutExplanation) };
  } catch (error) {
    throw invalidOutput(error instanceof Error ? error.message : String(error), error);
  }
  const problems = validate(ScoringResultSchema, mapped);
  if (problems.length > 0) throw invalidOutput(problems.map((p) => `${p.path || '(root)'} ${p.message}`).join('; '));
  return mapped;
}
