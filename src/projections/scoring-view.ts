import { MAX_SCORING_ATTEMPTS } from '../aggregates/scoring-request.js';
import type { ScoringRequestView } from '../contracts/api/scoring.js';
import type { DecodedEvent } from '../contracts/events/codec.js';

/**
 * The view of one scoring request, folded from its stream's decoded events. Pure: the scoring
 * status projection stores it, and reading one request folds its (short) stream with it.
 */
export function evolveScoringView(view: ScoringRequestView | undefined, event: DecodedEvent): ScoringRequestView | undefined {
  const at = event.metadata.occurredAt;
  switch (event.type) {
    case 'ai.scoring.requested': {
      const { scoringId, tenantId, attempt, request } = event.data;
      return { scoringId, tenantId, status: 'requested', attempt, maxAttempts: MAX_SCORING_ATTEMPTS, requestedAt: view?.requestedAt ?? at, updatedAt: at, request };
    }
    case 'ai.scoring.completed': {
      if (!view) return view;
      const { scoringId: _s, tenantId: _t, attempt, ...result } = event.data;
      return { ...withoutOutcome(view), status: 'completed', attempt, updatedAt: at, result };
    }
    case 'ai.scoring.failed': {
      if (!view) return view;
      const { attempt, errorCode, reason, retryable } = event.data;
      return {
        ...withoutOutcome(view),
        status: 'failed',
        attempt,
        updatedAt: at,
        failure: { errorCode, reason, retryable, canRetry: retryable && attempt < MAX_SCORING_ATTEMPTS },
      };
    }
    default:
      return view;
  }
}

function withoutOutcome(view: ScoringRequestView): ScoringRequestView {
  const { result: _r, failure: _f, ...rest } = view;
  return rest;
}
