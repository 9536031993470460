import { describe, expect, it } from 'vitest';
import { fold } from '../../src/aggregates/decider.js';
import { MAX_SCORING_ATTEMPTS, scoringRequestDecider as decider, type ScoringCommand, type ScoringEvent } from '../../src/aggregates/scoring-request.js';
import { scoringStreamId } from '../../src/aggregates/streams.js';
import type { ScoringResult } from '../../src/contracts/events/ai.js';
import { EXAMPLE_SCORING_REQUEST, type ScoringRequest } from '../../src/contracts/scoring-request.js';
import { given } from './given-when-then.js';

const scoringId = '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const tenantId = 'acme-lending';
const request = structuredClone(EXAMPLE_SCORING_REQUEST) as ScoringRequest;
const requestedAt = '2025-03-14T09:26:53Z';

const result: ScoringResult = {
  matchScore: 78,
  riskBand: 'moderate',
  eligibleProducts: [{ product: 'conventional_fixed', termYears: 30, estimatedRate: 6.125, monthlyPayment: 218_735 }],
  reasons: [{ code: 'DTI_BELOW_36', detail: 'Debt-to-income ratio is 8.2%, below 36%' }],
  costCents: 42,
  modelVersion: 'mmp-score-2025.03.1',
  explanation: 'Score 78/100, moderate risk: Debt-to-income ratio is 8.2%, below 36%.',
};

const cmd = {
  request: { type: 'RequestScoring', scoringId, tenantId, request, requestedAt },
  complete: (attempt = 1, r: ScoringResult = result): ScoringCommand => ({ type: 'CompleteScoring', scoringId, attempt, result: r }),
  fail: (attempt = 1, retryable = true, reason = 'Model did not answer within 20s'): ScoringCommand => ({
    type: 'FailScoring',
    scoringId,
    attempt,
    errorCode: 'model_timeout',
    reason,
    retryable,
    costCents: 3,
  }),
  retry: { type: 'RetryScoring', scoringId, tenantId },
} satisfies Record<string, ScoringCommand | ((...args: never[]) => ScoringCommand)>;

const ev = {
  requested: (attempt = 1): ScoringEvent => ({ type: 'ai.scoring.requested', data: { scoringId, tenantId, attempt, request } }),
  completed: (attempt = 1, r: ScoringResult = result): ScoringEvent => ({ type: 'ai.scoring.completed', data: { scoringId, tenantId, attempt, ...r } }),
  failed: (attempt = 1, retryable = true, reason = 'Model did not answer within 20s'): ScoringEvent => ({
    type: 'ai.scoring.failed',
    data: { scoringId, tenantId, attempt, errorCode: 'model_timeout', reason, retryable, costCents: 3 },
  }),
};

describe('ScoringRequest: request', () => {
  it('a new request emits ai.scoring.requested, attempt 1', () => {
    given(decider, []).when(cmd.request).then([ev.requested(1)]);
  });

  it('the same request again under the same id is idempotent', () => {
    given(decider, [ev.requested(1)]).when(cmd.request).then([]);
    given(decider, [ev.requested(1), ev.completed(1)]).when(cmd.request).then([]);
  });

  it('a different request under the same id is a conflict', () => {
    given(decider, [ev.requested(1)])
      .when({ ...cmd.request, request: { ...request, creditScore: 600 } })
      .thenThrows('SCORING_ALREADY_REQUESTED');
    given(decider, [ev.requested(1)]).when({ ...cmd.request, tenantId: 'other-tenant' }).thenThrows('SCORING_ALREADY_REQUESTED');
  });

  it('cross-field rules are enforced with "today" from the command', () => {
    const minor = { ...request, applicant: { ...request.applicant, dateOfBirth: '2007-03-15' } };
    given(decider, [])
      .when({ ...cmd.request, request: minor })
      .thenThrows('INVALID_SCORING_REQUEST', [{ path: '/applicant/dateOfBirth', message: 'applicant must be at least 18 years old' }]);
    given(decider, [])
      .when({ ...cmd.request, request: minor, requestedAt: '2025-03-15T08:00:00Z' })
      .then([{ type: 'ai.scoring.requested', data: { scoringId, tenantId, attempt: 1, request: minor } }]);
  });

  it('the stream is scoring-{scoringId}', () => {
    expect(scoringStreamId(scoringId)).toBe(`scoring-${scoringId}`);
  });
});

describe('ScoringRequest: complete', () => {
  it('completes the current attempt with the result', () => {
    given(decider, [ev.requested(1)]).when(cmd.complete(1)).then([ev.completed(1)]);
    given(decider, [ev.requested(1), ev.failed(1), ev.requested(2)]).when(cmd.complete(2)).then([ev.completed(2)]);
  });

  it('completing twice with the same result is idempotent', () => {
    given(decider, [ev.requested(1), ev.completed(1)]).when(cmd.complete(1)).then([]);
  });

  it('completing again with a different result is a rule error', () => {
    given(decider, [ev.requested(1), ev.completed(1)])
      .when(cmd.complete(1, { ...result, matchScore: 79 }))
      .thenThrows('SCORING_ALREADY_COMPLETED');
    given(decider, [ev.requested(1), ev.completed(1)])
      .when(cmd.complete(1, { ...result, modelVersion: 'mmp-score-2025.04.0' }))
      .thenThrows('SCORING_ALREADY_COMPLETED');
  });

  it('the result fingerprint ignores key order', () => {
    const reordered = Object.fromEntries(Object.entries(result).reverse()) as ScoringResult;
    given(decider, [ev.requested(1), ev.completed(1)]).when(cmd.complete(1, reordered)).then([]);
  });

  it('an outcome for another attempt is stale', () => {
    given(decider, [ev.requested(1), ev.failed(1), ev.requested(2)]).when(cmd.complete(1)).thenThrows('STALE_ATTEMPT');
    given(decider, [ev.requested(1)]).when(cmd.complete(2)).thenThrows('STALE_ATTEMPT');
  });

  it('a failed attempt cannot complete: retry first', () => {
    given(decider, [ev.requested(1), ev.failed(1)]).when(cmd.complete(1)).thenThrows('SCORING_NOT_IN_PROGRESS');
  });

  it('an unknown scoring cannot complete', () => {
    given(decider, []).when(cmd.complete(1)).thenThrows('SCORING_NOT_FOUND');
  });
});

describe('ScoringRequest: fail', () => {
  it('fails the current attempt', () => {
    given(decider, [ev.requested(1)]).when(cmd.fail(1)).then([ev.failed(1)]);
    given(decider, [ev.requested(1)]).when(cmd.fail(1, false)).then([ev.failed(1, false)]);
  });

  it('the same failure again is idempotent; a different one is a rule error', () => {
    given(decider, [ev.requested(1), ev.failed(1)]).when(cmd.fail(1)).then([]);
    given(decider, [ev.requested(1), ev.failed(1)]).when(cmd.fail(1, true, 'Another reason')).thenThrows('SCORING_ALREADY_FAILED');
    given(decider, [ev.requested(1), ev.failed(1)]).when(cmd.fail(1, false)).thenThrows('SCORING_ALREADY_FAILED');
  });

  it('a completed scoring cannot fail', () => {
    given(decider, [ev.requested(1), ev.completed(1)]).when(cmd.fail(1)).thenThrows('SCORING_ALREADY_COMPLETED');
  });

  it('a failure for another attempt is stale', () => {
    given(decider, [ev.requested(1)]).when(cmd.fail(2)).thenThrows('STALE_ATTEMPT');
    given(decider, [ev.requested(1), ev.failed(1), ev.requested(2)]).when(cmd.fail(1)).thenThrows('STALE_ATTEMPT');
    given(decider, [ev.requested(1), ev.failed(1)]).when(cmd.fail(2)).thenThrows('STALE_ATTEMPT');
  });

  it('an unknown scoring cannot fail', () => {
    given(decider, []).when(cmd.fail(1)).thenThrows('SCORING_NOT_FOUND');
  });
});

describe('ScoringRequest: retry', () => {
  it('a retryable failure is retried as a new request with the next attempt and the same request', () => {
    given(decider, [ev.requested(1), ev.failed(1)]).when(cmd.retry).then([ev.requested(2)]);
    given(decider, [ev.requested(1), ev.failed(1), ev.requested(2), ev.failed(2)]).when(cmd.retry).then([ev.requested(3)]);
  });

  it(`stops after ${MAX_SCORING_ATTEMPTS} attempts`, () => {
    expect(MAX_SCORING_ATTEMPTS).toBe(3);
    given(decider, [ev.requested(1), ev.failed(1), ev.requested(2), ev.failed(2), ev.requested(3), ev.failed(3)])
      .when(cmd.retry)
      .thenThrows('RETRY_LIMIT_REACHED');
  });

  it('a non-retryable failure is final', () => {
    given(decider, [ev.requested(1), ev.failed(1, false)]).when(cmd.retry).thenThrows('SCORING_NOT_RETRYABLE');
  });

  it('a completed scoring cannot be retried', () => {
    given(decider, [ev.requested(1), ev.completed(1)]).when(cmd.retry).thenThrows('SCORING_ALREADY_COMPLETED');
  });

  it('an attempt in progress cannot be retried', () => {
    given(decider, [ev.requested(1)]).when(cmd.retry).thenThrows('SCORING_IN_PROGRESS');
    given(decider, [ev.requested(1), ev.failed(1), ev.requested(2)]).when(cmd.retry).thenThrows('SCORING_IN_PROGRESS');
  });

  it("another tenant's scoring, or none, is not found", () => {
    given(decider, []).when(cmd.retry).thenThrows('SCORING_NOT_FOUND');
    given(decider, [ev.requested(1), ev.failed(1)]).when({ ...cmd.retry, tenantId: 'other-tenant' }).thenThrows('SCORING_NOT_FOUND');
  });
});

describe('ScoringRequest: evolve', () => {
  it('tracks status and attempt through a full history', () => {
    const history = [ev.requested(1), ev.failed(1), ev.requested(2), ev.completed(2)];
    expect(fold(decider, history)).toMatchObject({ status: 'completed', attempt: 2, scoringId, tenantId });
    expect(fold(decider, history.slice(0, 2))).toMatchObject({ status: 'failed', attempt: 1, retryable: true });
    expect(fold(decider, history.slice(0, 3))).toMatchObject({ status: 'requested', attempt: 2, request });
  });

  it('ignores outcomes without a request (corrupt history) instead of crashing', () => {
    expect(fold(decider, [ev.completed(1), ev.failed(1)])).toEqual({ status: 'none' });
  });

  it('rejects an unknown command kind from untyped callers', () => {
    expect(() => decider.decide({ type: 'Explode' } as unknown as ScoringCommand, decider.initialState)).toThrow(TypeError);
  });
});
