/**
 * AI scoring process manager (group 'ai-scoring'):
 *   ai.scoring.requested → model → ai.scoring.completed, or ai.scoring.failed after retries.
 *
 * For each requested event (attempt n of scoring s):
 * 1. Load the scoring. Nothing to do when attempt n is no longer current or already completed
 *    (redeliveries, replays: the PM is idempotent). When attempt n already failed, see 6.
 * 2. No active (or past-due) subscription → FailScoring(budget_exceeded, not retryable): no model
 *    call, no cost.
 * 3. The result cache (model-cache.ts) is asked first: a hit completes without a model call and
 *    with costCents 0.
 * 4. The model is called through the opossum breaker 'scoring-model' (deps.breakers). Model
 *    errors are classified where they arise: the model refusing the input (InvalidScoringInput,
 *    4xx) is a BusinessError and does not trip the breaker; everything else (network, 5xx, 429,
 *    timeouts, open breaker) is transient.
 *    - transient, retries left → throw TransientError: the runner retries in process with backoff;
 *    - transient on the last in-process attempt (context.attempt = the handler's maxRetries) →
 *      FailScoring(provider_unavailable | model_timeout | rate_limited, retryable) so the user
 *      sees the failure and may retry, THEN throw: the runner parks the message (the dead-letter
 *      queue of the spec, for operators);
 *    - the model refused the input → FailScoring(model_error, not retryable), then a
 *      BusinessError: parked at once, admins alerted by the runner's onBusinessError hook;
 *    - the output does not fit the contract → FailScoring(invalid_model_output, retryable), then
 *      the BusinessError (parked, admins alerted).
 *    The model result is mapped (contract-adapter.ts), cached, and CompleteScoring appended. The
 *    decider makes a second completion with the same result a no-op.
 * 5. Every event appended carries causation = the handled event's id and its correlation id.
 * 6. Replaying parked messages ("the service is back"): a message this PM parked after recording
 *    a retryable failure is remembered (table ai_scoring_parked, keyed by scoring and attempt).
 *    When it comes back and attempt n is still the failed, current one, the PM re-drives it with
 *    RetryScoring (attempt n+1, bounded by MAX_SCORING_ATTEMPTS, subject to `redriveAdmission`,
 *    e.g. the AI quota), which the PM then handles like any request. Failures the PM did not park
 *    (e.g. no subscription), or a rebuilt group re-reading history, never re-drive anything.
 *
 * The handler pins its retry policy's maxRetries (options.retryPolicy.maxRetries, default the
 * spec's 3) so that "last attempt" is known here: the runner merges handler.retryPolicy over its
 * own, and HandlerContext.attempt counts the in-process retries.
 */
import { scoringRequestDecider, type ScoringCommand, type ScoringErrorCode } from '../aggregates/scoring-request.js';
import { isBusinessRuleError } from '../aggregates/errors.js';
import { scoringStreamId } from '../aggregates/streams.js';
import type { DecodedEvent } from '../contracts/events/codec.js';
import { causedBy } from '../contracts/events/metadata.js';
import type { ScoringResult } from '../contracts/events/ai.js';
import type { Statement } from 'better-sqlite3';
import { CorruptEventError, decodeOrThrow } from '../engine/command-handler.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import type { BreakerOptions } from '../engine/breakers.js';
import { BusinessError, classify, describeError, TransientError, type TransientReason } from '../engine/failures.js';
import type { CommandContext } from '../engine/request-context.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../engine/retry-policy.js';
import type { ScoringAdmission } from '../engine/scoring-service.js';
import type { EventHandler, HandlerContext } from '../engine/subscription-runner.js';
import type { RecordedEvent } from '../eventstore/port.js';
import { ApiError } from '../http/errors.js';
import { toContractResult, toScoringInput, INVALID_MODEL_OUTPUT } from '../integrations/scoring-model/contract-adapter.js';
import { InvalidScoringInputError, ModelServiceError } from '../integrations/scoring-model/errors.js';
import type { ScoringModel } from '../integrations/scoring-model/model.js';
import type { ScoringInput, ScoringResult as ModelScoringResult } from '../integrations/scoring-model/types.js';
import { migrate, type Migration, type ReadModelDatabase } from '../readmodel/database.js';
import type { ScoringResultCache } from './model-cache.js';

export const AI_SCORING_GROUP = 'ai-scoring';
export const SCORING_MODEL_BREAKER = 'scoring-model';
export const AI_SCORING_MODULE = 'process-managers.ai-scoring';
/** Breaker timeout for one model call, ms. */
export const DEFAULT_MODEL_TIMEOUT_MS = 10_000;

const MAX_FAILURE_REASON = 1000;

// ---------------------------------------------------------------------------------------------
// Helpers shared by the AI process managers
// ---------------------------------------------------------------------------------------------

/** decodeOrThrow for handlers: an event that fails its contract is a BusinessError (parked, never retried). */
export function decodeHandled(recorded: RecordedEvent): DecodedEvent {
  try {
    return decodeOrThrow(recorded);
  } catch (error) {
    if (error instanceof CorruptEventError) throw new BusinessError('corrupt_event', error.message, { cause: error });
    throw error;
  }
}

/** The command context of a command caused by `event`: same correlation (and user), causation = the event id. */
export function commandContextOf(event: DecodedEvent, tenantId: string = event.metadata.tenantId): CommandContext {
  const envelope = causedBy(event, event.metadata.occurredAt, { tenantId });
  return {
    tenantId: envelope.tenantId,
    correlationId: envelope.correlationId,
    causationId: envelope.causationId,
    ...(envelope.userId !== undefined ? { userId: envelope.userId } : {}),
  };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// ---------------------------------------------------------------------------------------------
// Parked attempts (for re-driving on replay)
// ---------------------------------------------------------------------------------------------

export const AI_SCORING_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    sql: `CREATE TABLE IF NOT EXISTS ai_scoring_parked (
      scoring_id TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      error_code TEXT NOT NULL,
      parked_at TEXT NOT NULL,
      PRIMARY KEY (scoring_id, attempt)
    ) WITHOUT ROWID`,
  },
]);

interface ParkedAttempts {
  readonly remember: Statement<[string, number, string, string]>;
  readonly has: Statement<[string, number]>;
  readonly forget: Statement<[string, number]>;
}

function parkedAttempts(db: ReadModelDatabase): ParkedAttempts {
  migrate(db, AI_SCORING_MODULE, AI_SCORING_MIGRATIONS);
  return {
    remember: db.prepare('INSERT OR REPLACE INTO ai_scoring_parked (scoring_id, attempt, error_code, parked_at) VALUES (?, ?, ?, ?)'),
    has: db.prepare('SELECT 1 FROM ai_scoring_parked WHERE scoring_id = ? AND attempt = ?'),
    forget: db.prepare('DELETE FROM ai_scoring_parked WHERE scoring_id = ? AND attempt = ?'),
  };
}

// ---------------------------------------------------------------------------------------------
// Model call
// ---------------------------------------------------------------------------------------------

/** The model refused the input (InvalidScoringInputError, non-transient ModelServiceError). */
export const MODEL_REJECTED_INPUT = 'model_rejected_input';

function transientReasonOf(error: unknown): TransientReason {
  if (error instanceof ModelServiceError) {
    if (error.code === 'TIMEOUT' || error.code === 'ABORTED') return 'timeout';
    if (error.status === 429) return 'rate-limited';
    if (error.status !== undefined && error.status >= 500) return 'upstream-5xx';
    return error.code === 'NETWORK' ? 'network' : 'other';
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EOPENBREAKER') return 'breaker-open';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'other';
}

/** Calls the model; its errors leave as BusinessError (the input is at fault) or TransientError (the service is). */
async function callModel(model: ScoringModel, input: ScoringInput): Promise<ModelScoringResult> {
  try {
    return await model.score(input);
  } catch (error) {
    const rejected = (error instanceof InvalidScoringInputError || error instanceof ModelServiceError) && !error.transient;
    if (rejected) throw new BusinessError(MODEL_REJECTED_INPUT, `The scoring model rejected the request: ${describeError(error)}`, { cause: error });
    throw new TransientError(`Scoring model call failed: ${describeError(error)}`, { cause: error, reason: transientReasonOf(error) });
  }
}

function failureCodeOf(error: unknown): ScoringErrorCode {
  const reason = error instanceof TransientError ? error.reason : transientReasonOf(error);
  if (reason === 'timeout') return 'model_timeout';
  if (reason === 'rate-limited') return 'rate_limited';
  return 'provider_unavailable';
}

// ---------------------------------------------------------------------------------------------
// The process manager
// ---------------------------------------------------------------------------------------------

export interface AiScoringOptions {
  readonly model: ScoringModel;
  /** Overrides of the 'scoring-model' breaker (timeout default 10 s). */
  readonly breakerOptions?: BreakerOptions;
  /** This handler's retry policy; its maxRetries (default 3) is pinned so the last attempt is known. */
  readonly retryPolicy?: Partial<RetryPolicy>;
  /** Consulted before the model; filled after each model call. */
  readonly cache?: ScoringResultCache;
  /** Checked before a replayed parked message re-drives its scoring (e.g. the AI quota). */
  readonly redriveAdmission?: ScoringAdmission;
}

const ACTIVE_STATUSES: ReadonlySet<string> = new Set(['active', 'past_due']);

export function createAiScoringProcessManager(deps: EngineDeps, options: AiScoringOptions): EventHandler {
  const logger = deps.logger.child({ component: AI_SCORING_GROUP });
  const maxRetries = options.retryPolicy?.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries;
  const parked = parkedAttempts(deps.readDb);
  const model = options.model;
  const breaker = deps.breakers.create<[ScoringInput], ModelScoringResult>(SCORING_MODEL_BREAKER, (input) => callModel(model, input), {
    timeout: DEFAULT_MODEL_TIMEOUT_MS,
    ...options.breakerOptions,
  });

  type Requested = Extract<DecodedEvent, { type: 'ai.scoring.requested' }>;

  /** Appends a scoring command; a rule error means the scoring moved on meanwhile (another attempt, a concurrent outcome): nothing left to do. */
  async function execute(event: Requested, command: ScoringCommand): Promise<boolean> {
    try {
      await deps.scoring.execute(commandContextOf(event, event.data.tenantId), command, deps.clock().toISOString());
      return true;
    } catch (error) {
      if (!isBusinessRuleError(error)) throw error;
      logger.info({ scoringId: event.data.scoringId, attempt: event.data.attempt, command: command.type, code: error.code }, 'scoring moved on meanwhile: nothing to do');
      return false;
    }
  }

  function fail(event: Requested, errorCode: ScoringErrorCode, reason: string, retryable: boolean): Promise<boolean> {
    const { scoringId, attempt } = event.data;
    return execute(event, { type: 'FailScoring', scoringId, attempt, errorCode, reason: truncate(reason, MAX_FAILURE_REASON), retryable, costCents: 0 });
  }

  /** Records a retryable failure the runner is about to park, so a replay re-drives it. */
  function rememberParked(event: Requested, errorCode: ScoringErrorCode): void {
    parked.remember.run(event.data.scoringId, event.data.attempt, errorCode, deps.clock().toISOString());
  }

  async function redrive(event: Requested): Promise<void> {
    const { scoringId, tenantId, attempt } = event.data;
    if (parked.has.get(scoringId, attempt) === undefined) return;
    try {
      await options.redriveAdmission?.(tenantId);
    } catch (error) {
      if (!(error instanceof ApiError) && !isBusinessRuleError(error)) throw error;
      logger.warn({ scoringId, attempt, err: error }, 'replayed scoring not re-driven: admission refused');
      parked.forget.run(scoringId, attempt);
      return;
    }
    if (await execute(event, { type: 'RetryScoring', scoringId, tenantId })) logger.info({ scoringId, attempt: attempt + 1 }, 'replayed scoring re-driven');
    parked.forget.run(scoringId, attempt);
  }

  async function onModelFailure(event: Requested, error: unknown, context: HandlerContext): Promise<never> {
    const kind = classify(error);
    if (kind === 'business') {
      await fail(event, 'model_error', describeError(error), false);
      throw error;
    }
    if (kind === 'system' || context.attempt < maxRetries) throw error;
    const errorCode = failureCodeOf(error);
    const tries = context.attempt + 1;
    if (await fail(event, errorCode, `The scoring model could not be reached after ${tries} ${tries === 1 ? 'try' : 'tries'}: ${describeError(error)}`, true)) {
      rememberParked(event, errorCode);
    }
    throw error instanceof TransientError ? error : new TransientError(describeError(error), { cause: error, reason: transientReasonOf(error) });
  }

  async function score(event: Requested, context: HandlerContext): Promise<void> {
    const { scoringId, tenantId, attempt, request } = event.data;
    const { state } = await deps.commands.load(scoringStreamId(scoringId), scoringRequestDecider);
    if (state.status === 'none') {
      logger.warn({ scoringId, attempt }, 'requested event of a scoring whose stream is gone: ignored');
      return;
    }
    if (state.attempt !== attempt || state.status === 'completed') return;
    if (state.status === 'failed') {
      if (state.retryable) await redrive(event);
      return;
    }

    const subscription = await deps.billing.state(tenantId);
    if (!ACTIVE_STATUSES.has(subscription.status)) {
      await fail(event, 'budget_exceeded', `Tenant ${tenantId} has no active subscription (${subscription.status === 'none' ? 'never subscribed' : subscription.status}): the scoring was not run`, false);
      return;
    }

    const input = toScoringInput(request);
    const cached = options.cache?.get(tenantId, input, model.version);
    let result: ScoringResult;
    if (cached) {
      result = { ...cached, costCents: 0 };
    } else {
      let raw: ModelScoringResult;
      try {
        raw = await breaker.fire(input);
      } catch (error) {
        return onModelFailure(event, error, context);
      }
      try {
        result = toContractResult(raw, request);
      } catch (error) {
        if (!(error instanceof BusinessError) || error.code !== INVALID_MODEL_OUTPUT) throw error;
        if (await fail(event, 'invalid_model_output', error.message, true)) rememberParked(event, 'invalid_model_output');
        throw error;
      }
      options.cache?.put(tenantId, input, result);
    }
    await execute(event, { type: 'CompleteScoring', scoringId, attempt, result });
  }

  return {
    name: AI_SCORING_GROUP,
    source: { kind: 'all', filter: { on: 'eventType', prefixes: ['ai.scoring.requested'] } },
    settings: { startFrom: 'start', consumerStrategyName: 'Pinned' },
    retryPolicy: { ...options.retryPolicy, maxRetries },
    // The model call may wait for the breaker timeout: keep few messages waiting behind it.
    bufferSize: 4,
    async handle(recorded, context) {
      const event = decodeHandled(recorded);
      if (event.type !== 'ai.scoring.requested') return;
      await score(event, context);
    },
  };
}
