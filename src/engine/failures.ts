/**
 * The spec's error classification (shared/spec/event-flow.md, "Error Types"):
 * - transient: network issues, timeouts, an open circuit breaker, 5xx, optimistic-concurrency
 *   conflicts → retried with backoff, parked ("dead-lettered") after maxRetries;
 * - business: invalid data, broken business rule → never retried, parked at once, admins told;
 * - system: the store or configuration is broken → alert, pause (circuit breaker) until healthy.
 *
 * Handlers should throw the typed classes; `classify` also recognises errors raised by the
 * libraries the engine sits on (opossum, the event store port, Node networking, HTTP clients,
 * better-sqlite3). Anything unrecognised is treated as transient: it gets the bounded retries and
 * then lands in the parked (dead-letter) stream, which is safe for bugs and hiccups alike.
 */
import { BusinessRuleError } from '../aggregates/errors.js';
import { CorruptEventError } from './command-handler.js';
import { EventStoreError } from '../eventstore/errors.js';

export type FailureKind = 'transient' | 'business' | 'system';

export type TransientReason = 'network' | 'timeout' | 'breaker-open' | 'upstream-5xx' | 'rate-limited' | 'concurrency' | 'other';

interface ClassifiedErrorOptions {
  readonly cause?: unknown;
}

/** Base of the three typed failures; `kind` is what `classify` returns for them. */
export abstract class ClassifiedError extends Error {
  abstract readonly kind: FailureKind;
  constructor(message: string, options?: ClassifiedErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Worth retrying: the same call may succeed shortly (network, timeout, breaker open, 5xx). */
export class TransientError extends ClassifiedError {
  readonly kind = 'transient' as const;
  readonly reason: TransientReason;
  constructor(message: string, options?: ClassifiedErrorOptions & { readonly reason?: TransientReason }) {
    super(message, options);
    this.reason = options?.reason ?? 'other';
  }
}

/** Invalid data or a broken business rule: retrying gives the same answer. Never retried. */
export class BusinessError extends ClassifiedError {
  readonly kind = 'business' as const;
  /** A stable, machine-readable code (e.g. SCORE_OUT_OF_RANGE). */
  readonly code: string;
  constructor(code: string, message: string, options?: ClassifiedErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The store, a database or the configuration is broken: alert and pause until healthy. */
export class SystemError extends ClassifiedError {
  readonly kind = 'system' as const;
  readonly component: string;
  constructor(component: string, message: string, options?: ClassifiedErrorOptions) {
    super(message, options);
    this.component = component;
  }
}

/** opossum's own error codes (lib/circuit.js buildError). */
export const OPOSSUM_ERROR_CODES = Object.freeze({ open: 'EOPENBREAKER', timeout: 'ETIMEDOUT', semaphoreLocked: 'ESEMLOCKED' });

/** Node and undici network error codes that mean "try again shortly". */
const TRANSIENT_NETWORK_CODES = new Set([
  'EOPENBREAKER',
  'ETIMEDOUT',
  'ESEMLOCKED',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENETRESET',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  // The engine's command handler after its bounded retries on WrongExpectedVersion.
  'CONCURRENCY_CONFLICT',
]);

/** Event store port codes (src/eventstore/errors.ts) and their kind. */
const STORE_CODE_KINDS: Readonly<Record<string, FailureKind>> = {
  WRONG_EXPECTED_VERSION: 'transient',
  STORE_UNAVAILABLE: 'system',
  // The data or the stream is wrong: the same append or read fails the same way next time.
  INVALID_ARGUMENT: 'business',
  MAX_APPEND_SIZE_EXCEEDED: 'business',
  STREAM_DELETED: 'business',
  STREAM_NOT_FOUND: 'business',
  // Subscription plumbing: configuration or server state.
  PERSISTENT_SUBSCRIPTION_EXISTS: 'system',
  PERSISTENT_SUBSCRIPTION_DOES_NOT_EXIST: 'system',
  MAXIMUM_SUBSCRIBERS_REACHED: 'system',
  PERSISTENT_SUBSCRIPTION_DROPPED: 'transient',
};

function property(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as Record<string, unknown>)[key];
}

function httpStatusOf(error: unknown): number | undefined {
  for (const key of ['status', 'statusCode']) {
    const status = property(error, key);
    if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599) return status;
  }
  const response = property(error, 'response');
  const nested = property(response, 'status') ?? property(response, 'statusCode');
  return typeof nested === 'number' && Number.isInteger(nested) && nested >= 100 && nested <= 599 ? nested : undefined;
}

function classifyOne(error: unknown): FailureKind | undefined {
  if (error instanceof ClassifiedError) return error.kind;
  if (error instanceof EventStoreError) return STORE_CODE_KINDS[error.code] ?? 'system';
  // A decider's rule violation gives the same answer on every retry.
  if (error instanceof BusinessRuleError) return 'business';
  // A stored event that fails its contract will fail the same way again.
  if (error instanceof CorruptEventError) return 'business';

  const code = property(error, 'code');
  if (typeof code === 'string') {
    if (TRANSIENT_NETWORK_CODES.has(code)) return 'transient';
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code.startsWith('SQLITE_BUSY_') || code.startsWith('SQLITE_LOCKED_')) return 'transient';
    if (code.startsWith('SQLITE_CONSTRAINT')) return 'business';
    if (code.startsWith('SQLITE_')) return 'system';
  }

  const name = property(error, 'name');
  if (name === 'TimeoutError' || name === 'AbortError') return 'transient';

  const status = httpStatusOf(error);
  if (status !== undefined) {
    if (status >= 500 || status === 408 || status === 429) return 'transient';
    if (status >= 400) return 'business';
  }
  return undefined;
}

/**
 * The kind of a failure. Follows `cause` chains (fetch's "fetch failed" carries the socket
 * error as its cause); the first recognisable link wins; unknown errors are transient.
 */
export function classify(error: unknown): FailureKind {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    const kind = classifyOne(current);
    if (kind) return kind;
    current = property(current, 'cause');
  }
  return 'transient';
}

/** A one-line description of any thrown value, for logs and park reasons. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = property(error, 'code');
    return `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
  }
  try {
    return `Non-error thrown: ${JSON.stringify(error)}`;
  } catch {
    return `Non-error thrown: ${String(error)}`;
  }
}
