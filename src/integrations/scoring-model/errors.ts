/**
 * Errors raised by ScoringModel implementations. Both carry `transient`, so a circuit breaker /
 * retry policy can decide without knowing the implementation:
 *   transient = true  -> the fault lies with the service or transport; retrying or falling back may succeed
 *   transient = false -> the request itself is wrong; retrying the same input will fail again
 */

export interface ScoringInputIssue {
  /** Dotted path into the input, e.g. `employment.years`; '' for the root. */
  readonly path: string;
  readonly message: string;
}

/** The input violates the ScoringInput contract (raised before any computation). */
export class InvalidScoringInputError extends Error {
  readonly code = 'INVALID_SCORING_INPUT';
  readonly transient = false;
  constructor(readonly issues: readonly ScoringInputIssue[]) {
    super(`Invalid scoring input: ${issues.map((i) => (i.path ? `${i.path} ${i.message}` : i.message)).join('; ')}`);
    this.name = new.target.name;
  }
}

export type ModelServiceErrorCode =
  /** Non-2xx HTTP status; see `status`. */
  | 'HTTP_STATUS'
  /** Connection refused / reset / DNS failure. */
  | 'NETWORK'
  /** The client-side timeout elapsed. */
  | 'TIMEOUT'
  /** The caller's AbortSignal fired (e.g. a circuit breaker's timeout). */
  | 'ABORTED'
  /** 2xx with a body that is not a ScoringResult. */
  | 'INVALID_RESPONSE';

/** A remote scoring model could not produce a result. */
export class ModelServiceError extends Error {
  readonly code: ModelServiceErrorCode;
  readonly transient: boolean;
  /** HTTP status for HTTP_STATUS (and INVALID_RESPONSE). */
  readonly status: number | undefined;
  /** Parsed numeric Retry-After header (seconds), when the service sent one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    message: string,
    details: {
      code: ModelServiceErrorCode;
      transient: boolean;
      status?: number;
      retryAfterSeconds?: number;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = details.code;
    this.transient = details.transient;
    this.status = details.status;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** 5xx, 429 Too Many Requests and 408 Request Timeout are worth retrying; other 4xx are not. */
export function isTransientHttpStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * Classifier for retry / circuit-breaker error filters: false only for errors known to be the
 * caller's fault (invalid input, non-transient service errors); unknown errors count as transient.
 */
export function isTransientScoringError(error: unknown): boolean {
  if (error instanceof ModelServiceError || error instanceof InvalidScoringInputError) return error.transient;
  return true;
}
