/** HTTP bodies of the scoring endpoints. */
import { Type, type Static } from 'typebox';
import { DateTime, Obj, ScoringId, StringEnum, TenantId } from '../common.js';
import { AttemptSchema, SCORING_ERROR_CODES, ScoringResultSchema } from '../events/ai.js';
import { EXAMPLE_SCORING_REQUEST, ScoringRequestSchema } from '../scoring-request.js';

/** POST /scorings body: the scoring request itself (cross-field rules: validateScoringRequestRules). */
export const SubmitScoringBodySchema = ScoringRequestSchema;
export type SubmitScoringBody = Static<typeof SubmitScoringBodySchema>;

export const ScoringParamsSchema = Obj({ scoringId: ScoringId });
export type ScoringParams = Static<typeof ScoringParamsSchema>;

/** 202 response to POST /scorings: accepted, scored asynchronously. */
export const SubmitScoringResponseSchema = Obj(
  {
    scoringId: ScoringId,
    status: StringEnum(['requested']),
    attempt: AttemptSchema,
    location: Type.String({ maxLength: 256, description: 'Where to poll the scoring', examples: ['/scorings/3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b'] }),
  },
  {
    description: 'The scoring request was accepted',
    examples: [{ scoringId: '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b', status: 'requested', attempt: 1, location: '/scorings/3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b' }],
  },
);
export type SubmitScoringResponse = Static<typeof SubmitScoringResponseSchema>;

export const SCORING_STATUSES = ['requested', 'completed', 'failed'] as const;

/** GET /scorings/:scoringId: the read model of one scoring request. */
export const ScoringRequestViewSchema = Obj(
  {
    scoringId: ScoringId,
    tenantId: TenantId,
    status: StringEnum([...SCORING_STATUSES]),
    attempt: AttemptSchema,
    maxAttempts: Type.Integer({ minimum: 1, maximum: 100 }),
    requestedAt: DateTime(),
    updatedAt: DateTime(),
    request: ScoringRequestSchema,
    result: Type.Optional(ScoringResultSchema),
    failure: Type.Optional(
      Obj({
        errorCode: StringEnum([...SCORING_ERROR_CODES]),
        reason: Type.String({ maxLength: 1000 }),
        retryable: Type.Boolean(),
        canRetry: Type.Boolean({ description: 'retryable and attempts left' }),
      }),
    ),
  },
  {
    description: 'A scoring request and its outcome',
    examples: [
      {
        scoringId: '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b',
        tenantId: 'acme-lending',
        status: 'requested',
        attempt: 1,
        maxAttempts: 3,
        requestedAt: '2025-03-14T09:26:53Z',
        updatedAt: '2025-03-14T09:26:53Z',
        request: EXAMPLE_SCORING_REQUEST,
      },
    ],
  },
);
export type ScoringRequestView = Static<typeof ScoringRequestViewSchema>;
