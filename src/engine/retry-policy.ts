/**
 * Retry policy for transient failures (shared/spec/event-flow.md, "Retry Configuration"):
 * capped exponential backoff with full jitter. Pure functions: the random source is a parameter.
 *
 * Attempts are numbered from 1: `delayFor(1)` is the wait before the first retry.
 * Cap for attempt n: min(maxRetryDelay, retryDelay * 2^(n-1)) when exponentialBackoff, else
 * min(maxRetryDelay, retryDelay). Full jitter draws the delay uniformly in [0, cap] (AWS
 * "Exponential Backoff and Jitter"): competing consumers never retry in lock-step.
 */

export interface RetryPolicy {
  /** Retries after the first attempt (so at most maxRetries + 1 calls). */
  readonly maxRetries: number;
  /** Base delay in ms. */
  readonly retryDelay: number;
  readonly exponentialBackoff: boolean;
  /** Upper bound of any single delay in ms. */
  readonly maxRetryDelay: number;
  /** Full jitter (default) or the deterministic cap itself. */
  readonly jitter: boolean;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: 3,
  retryDelay: 1_000,
  exponentialBackoff: true,
  maxRetryDelay: 30_000,
  jitter: true,
});

export type RandomSource = () => number;

function assertNonNegativeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Retry policy: ${name} must be a non-negative integer, got ${String(value)}`);
}

function assertNonNegativeFinite(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Retry policy: ${name} must be a non-negative finite number, got ${String(value)}`);
}

/** The defaults with `overrides` applied, validated. */
export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...overrides };
  assertNonNegativeInteger('maxRetries', policy.maxRetries);
  assertNonNegativeFinite('retryDelay', policy.retryDelay);
  assertNonNegativeFinite('maxRetryDelay', policy.maxRetryDelay);
  return Object.freeze(policy);
}

/** The largest delay attempt `attempt` (1-based) may wait, in ms. Non-decreasing in `attempt`. */
export function delayCap(attempt: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY): number {
  if (!Number.isFinite(attempt) || attempt < 1) throw new RangeError(`Retry attempt must be >= 1, got ${String(attempt)}`);
  const base = Math.min(policy.retryDelay, policy.maxRetryDelay);
  if (!policy.exponentialBackoff || base === 0) return base;
  // 2^60 already exceeds every sane cap; clamping the exponent avoids Infinity and NaN.
  const exponent = Math.min(Math.floor(attempt) - 1, 60);
  return Math.min(policy.maxRetryDelay, policy.retryDelay * 2 ** exponent);
}

/**
 * The delay before retry `attempt` (1-based), in whole ms, within [0, delayCap(attempt)].
 * `random` must return a number in [0, 1) like Math.random; out-of-range values are clamped.
 */
export function delayFor(attempt: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY, random: RandomSource = Math.random): number {
  const cap = delayCap(attempt, policy);
  if (!policy.jitter) return Math.floor(cap);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.min(Math.floor(unit * (cap + 1)), Math.floor(cap));
}

/** Whether a failed call that was attempt `retriesSoFar` retries deep may be retried once more. */
export function canRetry(retriesSoFar: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY): boolean {
  return retriesSoFar < policy.maxRetries;
}

/** The longest total time all retries of one message can wait (sum of the caps), in ms. */
export function worstCaseRetryTime(policy: RetryPolicy = DEFAULT_RETRY_POLICY): number {
  let total = 0;
  for (let attempt = 1; attempt <= policy.maxRetries; attempt++) total += delayCap(attempt, policy);
  return total;
}
