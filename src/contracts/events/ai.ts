/** Payloads of the AI domain events. */
import { Type, type Static } from 'typebox';
import { BillingPeriod, Cents, IntegerEnum, DateTime, Obj, PlanId, ScoringId, StringEnum, TenantId } from '../common.js';
import { AI_COST_THRESHOLDS } from '../plans.js';
import { EXAMPLE_SCORING_REQUEST, ScoringRequestSchema, TermYearsSchema } from '../scoring-request.js';

const EXAMPLE_SCORING_ID = '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const EXAMPLE_REQUEST = EXAMPLE_SCORING_REQUEST;

/** Attempts are numbered from 1. The retry policy lives in the aggregate; the bound is a sanity cap. */
export const AttemptSchema = Type.Integer({ minimum: 1, maximum: 100, description: 'Scoring attempt, from 1', examples: [1] });

export const ModelVersionSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9._+-]+$',
  description: 'Version of the scoring model that produced the result',
  examples: ['mmp-score-2025.03.1'],
});
/** modelVersion given to results upcast from ai.scoring.completed v1, which did not record it. */
export const UNKNOWN_MODEL_VERSION = 'unknown';

export const RISK_BANDS = ['low', 'moderate', 'high', 'very_high'] as const;
export const LOAN_PRODUCTS = ['conventional_fixed', 'conventional_arm', 'fha', 'va', 'usda', 'jumbo'] as const;

export const EligibleProductSchema = Obj({
  product: StringEnum([...LOAN_PRODUCTS]),
  termYears: TermYearsSchema,
  estimatedRate: Type.Number({ minimum: 0, maximum: 25, description: 'Estimated annual interest rate, percent', examples: [6.125] }),
  monthlyPayment: Cents({ description: 'Estimated principal and interest per month, cents', examples: [218_735] }),
});

export const ScoringReasonSchema = Obj({
  code: Type.String({ pattern: '^[A-Z][A-Z0-9_]{1,63}$', maxLength: 64, examples: ['DTI_BELOW_36'] }),
  detail: Type.String({ minLength: 1, maxLength: 500, examples: ['Debt-to-income ratio is 8.2%, below 36%'] }),
});

/** What a scoring produced, as of v1 of ai.scoring.completed. */
const scoringResultV1Properties = {
  matchScore: Type.Integer({ minimum: 0, maximum: 100, description: 'Match score, 0-100', examples: [78] }),
  riskBand: StringEnum([...RISK_BANDS]),
  eligibleProducts: Type.Array(EligibleProductSchema, { maxItems: 20 }),
  reasons: Type.Array(ScoringReasonSchema, { minItems: 1, maxItems: 20, description: 'Why the score is what it is' }),
  costCents: Cents({ maximum: 100_000, description: 'AI provider cost of this attempt, cents', examples: [42] }),
};

/** The result of a scoring (current shape): what CompleteScoring carries and readers see. */
export const ScoringResultSchema = Obj({
  ...scoringResultV1Properties,
  modelVersion: ModelVersionSchema,
  explanation: Type.String({ minLength: 1, maxLength: 2000, description: 'Plain-language explanation of the score' }),
});
export type ScoringResult = Static<typeof ScoringResultSchema>;

const scoringKey = {
  scoringId: ScoringId,
  tenantId: TenantId,
  attempt: AttemptSchema,
};

const EXAMPLE_RESULT_V1 = {
  matchScore: 78,
  riskBand: 'moderate',
  eligibleProducts: [{ product: 'conventional_fixed', termYears: 30, estimatedRate: 6.125, monthlyPayment: 218_735 }],
  reasons: [
    { code: 'DTI_BELOW_36', detail: 'Debt-to-income ratio is 8.2%, below 36%' },
    { code: 'LTV_80', detail: 'Loan-to-value is 80%' },
  ],
  costCents: 42,
};

export const AiScoringRequestedV1 = Obj(
  {
    ...scoringKey,
    request: ScoringRequestSchema,
  },
  {
    description: 'A scoring was requested (attempt 1) or retried (attempt n > 1, same request).',
    examples: [{ scoringId: EXAMPLE_SCORING_ID, tenantId: 'acme-lending', attempt: 1, request: EXAMPLE_REQUEST }],
  },
);

export const AiScoringCompletedV1 = Obj(
  { ...scoringKey, ...scoringResultV1Properties },
  {
    description: 'v1 (superseded by v2, upcast on read): a scoring finished with a result.',
    examples: [{ scoringId: EXAMPLE_SCORING_ID, tenantId: 'acme-lending', attempt: 1, ...EXAMPLE_RESULT_V1 }],
  },
);

export const AiScoringCompletedV2 = Obj(
  { ...scoringKey, ...ScoringResultSchema.properties },
  {
    description: 'A scoring finished with a result. v2 adds modelVersion and explanation.',
    examples: [
      {
        scoringId: EXAMPLE_SCORING_ID,
        tenantId: 'acme-lending',
        attempt: 1,
        ...EXAMPLE_RESULT_V1,
        modelVersion: 'mmp-score-2025.03.1',
        explanation: 'Score 78/100, moderate risk: Debt-to-income ratio is 8.2%, below 36%; Loan-to-value is 80%.',
      },
    ],
  },
);

export const SCORING_ERROR_CODES = ['model_timeout', 'model_error', 'provider_unavailable', 'rate_limited', 'invalid_model_output', 'budget_exceeded'] as const;

export const AiScoringFailedV1 = Obj(
  {
    ...scoringKey,
    errorCode: StringEnum([...SCORING_ERROR_CODES]),
    reason: Type.String({ minLength: 1, maxLength: 1000, examples: ['Model did not answer within 20s'] }),
    retryable: Type.Boolean({ description: 'Whether another attempt may succeed' }),
    costCents: Cents({ maximum: 100_000, description: 'AI provider cost spent on the failed attempt, cents' }),
  },
  {
    description: 'A scoring attempt failed.',
    examples: [
      { scoringId: EXAMPLE_SCORING_ID, tenantId: 'acme-lending', attempt: 1, errorCode: 'model_timeout', reason: 'Model did not answer within 20s', retryable: true, costCents: 0 },
    ],
  },
);

export const AiModelUpdatedV1 = Obj(
  {
    modelId: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', maxLength: 64, examples: ['mortgage-match'] }),
    provider: StringEnum(['openai', 'anthropic', 'azure_openai', 'internal']),
    previousVersion: Type.Optional(ModelVersionSchema),
    modelVersion: ModelVersionSchema,
    changeSummary: Type.String({ maxLength: 2000 }),
    rolloutPercent: Type.Integer({ minimum: 0, maximum: 100 }),
    effectiveAt: DateTime(),
  },
  {
    description: 'The scoring model changed (platform-wide: tenantId in metadata is "platform").',
    examples: [
      {
        modelId: 'mortgage-match',
        provider: 'openai',
        previousVersion: 'mmp-score-2025.02.4',
        modelVersion: 'mmp-score-2025.03.1',
        changeSummary: 'Recalibrated DTI weighting',
        rolloutPercent: 100,
        effectiveAt: '2025-03-01T00:00:00Z',
      },
    ],
  },
);

export const AiCostThresholdExceededV1 = Obj(
  {
    tenantId: TenantId,
    period: BillingPeriod,
    plan: PlanId,
    budgetCents: Cents(),
    spentCents: Cents(),
    thresholdPercent: IntegerEnum([...AI_COST_THRESHOLDS]),
    action: StringEnum(['alert', 'throttle'], { description: 'alert at 80%, throttle at 100%' }),
    scoringId: Type.Optional(ScoringId),
  },
  {
    description: "A tenant's AI cost in a billing period crossed a threshold of its plan's budget.",
    examples: [
      { tenantId: 'acme-lending', period: '2025-03', plan: 'starter', budgetCents: 2_500, spentCents: 2_010, thresholdPercent: 80, action: 'alert', scoringId: EXAMPLE_SCORING_ID },
    ],
  },
);
