/**
 * ScoringRequest: the life of one mortgage scoring, stream `scoring-{scoringId}`.
 *
 *   (none) --RequestScoring--> requested --CompleteScoring--> completed (final)
 *                                  |  ^
 *                      FailScoring v  | RetryScoring (retryable, attempt < MAX_SCORING_ATTEMPTS)
 *                                failed
 *
 * - A retry is a new `ai.scoring.requested` with `attempt` n+1 and the same request, so the AI
 *   worker handles first attempts and retries alike.
 * - Outcomes name their attempt; an outcome for another attempt is stale (STALE_ATTEMPT).
 * - Idempotency: re-submitting the same request under the same id, completing again with the
 *   same result, failing the same attempt again the same way: no events. The same commands with
 *   different content are rule errors. A completed scoring never changes.
 * - RequestScoring checks the cross-field rules of the request, "today" being `requestedAt`.
 */
import type { ScoringRequest } from '../contracts/scoring-request.js';
import { validateScoringRequestRules } from '../contracts/scoring-request.js';
import { ScoringResultSchema, type ScoringResult, type SCORING_ERROR_CODES } from '../contracts/events/ai.js';
import type { EventBodyOf } from '../contracts/events/catalog.js';
import { canonicalJson } from '../contracts/ids.js';
import type { Decider } from './decider.js';
import { BusinessRuleError } from './errors.js';

export const MAX_SCORING_ATTEMPTS = 3;

export type ScoringErrorCode = (typeof SCORING_ERROR_CODES)[number];

export type ScoringCommand =
  | {
      readonly type: 'RequestScoring';
      readonly scoringId: string;
      readonly tenantId: string;
      readonly request: ScoringRequest;
      /** Clock of the caller: the age rule is checked on this day. */
      readonly requestedAt: string;
    }
  | { readonly type: 'CompleteScoring'; readonly scoringId: string; readonly attempt: number; readonly result: ScoringResult }
  | {
      readonly type: 'FailScoring';
      readonly scoringId: string;
      readonly attempt: number;
      readonly errorCode: ScoringErrorCode;
      readonly reason: string;
      readonly retryable: boolean;
      readonly costCents: number;
    }
  | { readonly type: 'RetryScoring'; readonly scoringId: string; readonly tenantId: string };

export type ScoringEvent = EventBodyOf<'ai.scoring.requested' | 'ai.scoring.completed' | 'ai.scoring.failed'>;

interface ScoringOpen {
  readonly scoringId: string;
  readonly tenantId: string;
  readonly request: ScoringRequest;
  readonly attempt: number;
}

export type ScoringState =
  | { readonly status: 'none' }
  | (ScoringOpen & { readonly status: 'requested' })
  | (ScoringOpen & { readonly status: 'failed'; readonly retryable: boolean; readonly failureFingerprint: string })
  | (ScoringOpen & { readonly status: 'completed'; readonly resultFingerprint: string });

const RESULT_KEYS = Object.keys(ScoringResultSchema.properties) as (keyof ScoringResult)[];

/** Content fingerprint of a result (the result fields of a completed event or a command). */
function resultFingerprint(result: ScoringResult): string {
  const picked: Partial<Record<keyof ScoringResult, unknown>> = {};
  for (const key of RESULT_KEYS) picked[key] = result[key];
  return canonicalJson(picked);
}

function failureFingerprint(failure: { attempt: number; errorCode: string; reason: string; retryable: boolean; costCents: number }): string {
  const { attempt, errorCode, reason, retryable, costCents } = failure;
  return canonicalJson({ attempt, errorCode, reason, retryable, costCents });
}

function requestFingerprint(tenantId: string, request: ScoringRequest): string {
  return canonicalJson({ tenantId, request });
}

function notFound(scoringId: string): BusinessRuleError {
  return new BusinessRuleError('SCORING_NOT_FOUND', `Scoring ${scoringId} does not exist`);
}

function alreadyCompleted(scoringId: string): BusinessRuleError {
  return new BusinessRuleError('SCORING_ALREADY_COMPLETED', `Scoring ${scoringId} is completed`);
}

function decide(command: ScoringCommand, state: ScoringState): readonly ScoringEvent[] {
  switch (command.type) {
    case 'RequestScoring': {
      if (state.status !== 'none') {
        if (requestFingerprint(state.tenantId, state.request) === requestFingerprint(command.tenantId, command.request)) return [];
        throw new BusinessRuleError('SCORING_ALREADY_REQUESTED', `Scoring ${command.scoringId} was already requested with different data`);
      }
      const problems = validateScoringRequestRules(command.request, command.requestedAt);
      if (problems.length > 0) throw new BusinessRuleError('INVALID_SCORING_REQUEST', 'The scoring request breaks business rules', problems);
      return [{ type: 'ai.scoring.requested', data: { scoringId: command.scoringId, tenantId: command.tenantId, attempt: 1, request: command.request } }];
    }

    case 'CompleteScoring': {
      switch (state.status) {
        case 'none':
          throw notFound(command.scoringId);
        case 'completed':
          if (state.resultFingerprint === resultFingerprint(command.result)) return [];
          throw new BusinessRuleError('SCORING_ALREADY_COMPLETED', `Scoring ${command.scoringId} is completed with a different result`);
        case 'failed':
          throw new BusinessRuleError('SCORING_NOT_IN_PROGRESS', `Attempt ${state.attempt} of scoring ${command.scoringId} failed; retry it first`);
        case 'requested':
          if (command.attempt !== state.attempt) {
            throw new BusinessRuleError('STALE_ATTEMPT', `Scoring ${command.scoringId} is at attempt ${state.attempt}, not ${command.attempt}`);
          }
          return [{ type: 'ai.scoring.completed', data: { scoringId: state.scoringId, tenantId: state.tenantId, attempt: state.attempt, ...command.result } }];
      }
      break;
    }

    case 'FailScoring': {
      switch (state.status) {
        case 'none':
          throw notFound(command.scoringId);
        case 'completed':
          throw alreadyCompleted(command.scoringId);
        case 'failed':
          if (command.attempt !== state.attempt) {
            throw new BusinessRuleError('STALE_ATTEMPT', `Scoring ${command.scoringId} is at attempt ${state.attempt}, not ${command.attempt}`);
          }
          if (state.failureFingerprint === failureFingerprint(command)) return [];
          throw new BusinessRuleError('SCORING_ALREADY_FAILED', `Attempt ${state.attempt} of scoring ${command.scoringId} already failed differently`);
        case 'requested':
          if (command.attempt !== state.attempt) {
            throw new BusinessRuleError('STALE_ATTEMPT', `Scoring ${command.scoringId} is at attempt ${state.attempt}, not ${command.attempt}`);
          }
          return [
            {
              type: 'ai.scoring.failed',
              data: {
                scoringId: state.scoringId,
                tenantId: state.tenantId,
                attempt: state.attempt,
                errorCode: command.errorCode,
                reason: command.reason,
                retryable: command.retryable,
                costCents: command.costCents,
              },
            },
          ];
      }
      break;
    }

    case 'RetryScoring': {
      // Another tenant's scoring is reported as not found: ids do not leak across tenants.
      if (state.status === 'none' || state.tenantId !== command.tenantId) throw notFound(command.scoringId);
      switch (state.status) {
        case 'completed':
          throw alreadyCompleted(command.scoringId);
        case 'requested':
          throw new BusinessRuleError('SCORING_IN_PROGRESS', `Attempt ${state.attempt} of scoring ${command.scoringId} is in progress`);
        case 'failed':
          if (!state.retryable) throw new BusinessRuleError('SCORING_NOT_RETRYABLE', `Scoring ${command.scoringId} failed with a non-retryable error`);
          if (state.attempt >= MAX_SCORING_ATTEMPTS) {
            throw new BusinessRuleError('RETRY_LIMIT_REACHED', `Scoring ${command.scoringId} used all ${MAX_SCORING_ATTEMPTS} attempts`);
          }
          return [{ type: 'ai.scoring.requested', data: { scoringId: state.scoringId, tenantId: state.tenantId, attempt: state.attempt + 1, request: state.request } }];
      }
      break;
    }
  }
  // Unreachable with well-typed input; a JS caller passing an unknown command gets a clear error.
  throw new TypeError(`Unknown scoring command ${(command as { type?: unknown }).type as string}`);
}

function evolve(state: ScoringState, event: ScoringEvent): ScoringState {
  switch (event.type) {
    case 'ai.scoring.requested': {
      const { scoringId, tenantId, attempt, request } = event.data;
      return { status: 'requested', scoringId, tenantId, attempt, request };
    }
    case 'ai.scoring.completed':
      if (state.status === 'none') return state;
      return {
        status: 'completed',
        scoringId: state.scoringId,
        tenantId: state.tenantId,
        request: state.request,
        attempt: event.data.attempt,
        resultFingerprint: resultFingerprint(event.data),
      };
    case 'ai.scoring.failed':
      if (state.status === 'none') return state;
      return {
        status: 'failed',
        scoringId: state.scoringId,
        tenantId: state.tenantId,
        request: state.request,
        attempt: event.data.attempt,
        retryable: event.data.retryable,
        failureFingerprint: failureFingerprint(event.data),
      };
  }
}

export const scoringRequestDecider: Decider<ScoringCommand, ScoringEvent, ScoringState> = Object.freeze({
  initialState: { status: 'none' } as ScoringState,
  decide,
  evolve,
  stateHoldsPersonalData: true,
});
