import type { FastifyError } from 'fastify';
import { BusinessRuleError } from '../aggregates/errors.js';
import { ConcurrencyConflictError } from '../engine/command-handler.js';
import { InvalidCursorError } from '../engine/event-log.js';
import { EventStoreError, StoreUnavailableError, WrongExpectedVersionError } from '../eventstore/errors.js';

export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: readonly ErrorDetail[];
}

/** An error the API answers on purpose, with its status. Everything else is a bug (500). */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: readonly ErrorDetail[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ValidationFailed extends ApiError {
  constructor(message: string, details: readonly ErrorDetail[]) {
    super(400, 'VALIDATION_FAILED', message, details);
  }
}

export class Unauthenticated extends ApiError {
  constructor(message = 'A valid API key is required (Authorization: Bearer <key> or X-API-Key)') {
    super(401, 'UNAUTHENTICATED', message);
  }
}

export class Forbidden extends ApiError {
  constructor(message = 'This API key may not do that') {
    super(403, 'FORBIDDEN', message);
  }
}

export class NotFound extends ApiError {
  constructor(what: string) {
    super(404, 'NOT_FOUND', `${what} was not found`);
  }
}

export class BusinessRuleViolated extends ApiError {
  constructor(code: string, message: string, details?: readonly ErrorDetail[]) {
    super(422, code, message, details);
  }
}

export class QuotaExceeded extends ApiError {
  constructor(message: string) {
    super(429, 'QUOTA_EXCEEDED', message);
  }
}

// 409 is kept for concurrency conflicts (the stream moved under the command); a rule the
// current state forbids (already active, cancelled, same plan) is a business rule: 422.
const RULE_STATUS = { not_found: 404, conflict: 422, invalid: 422 } as const;

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && 'code' in error && typeof (error as { code: unknown }).code === 'string' && 'statusCode' in error;
}

/** The one place where failures become HTTP statuses and the shared error shape. */
export function toHttpError(error: unknown): { status: number; body: ErrorBody; bug: boolean } {
  if (error instanceof ApiError) {
    return { status: error.statusCode, body: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) }, bug: false };
  }
  if (error instanceof BusinessRuleError) {
    return { status: RULE_STATUS[error.kind], body: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) }, bug: false };
  }
  if (error instanceof InvalidCursorError) {
    return { status: 400, body: { code: 'VALIDATION_FAILED', message: error.message, details: [{ path: '/querystring/cursor', message: error.message }] }, bug: false };
  }
  if (error instanceof ConcurrencyConflictError || error instanceof WrongExpectedVersionError) {
    return { status: 409, body: { code: 'CONCURRENCY_CONFLICT', message: error.message }, bug: false };
  }
  if (error instanceof StoreUnavailableError) {
    return { status: 503, body: { code: 'STORE_UNAVAILABLE', message: 'The event store is unavailable; retry shortly' }, bug: false };
  }
  if (isFastifyError(error)) {
    const validation = (error as FastifyError & { validation?: { instancePath: string; message?: string; params?: Record<string, unknown> }[]; validationContext?: string }).validation;
    if (validation) {
      const context = (error as { validationContext?: string }).validationContext ?? 'body';
      const details = validation.map((issue) => ({ path: validationPath(context, issue.instancePath, issue.params), message: issue.message ?? 'is invalid' }));
      return { status: 400, body: { code: 'VALIDATION_FAILED', message: `Invalid ${context}`, details }, bug: false };
    }
    // A body that is not JSON at all fails as a whole: the same 400 as any invalid body.
    if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return { status: 400, body: { code: 'VALIDATION_FAILED', message: error.message, details: [{ path: '/body', message: error.message }] }, bug: false };
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return { status, body: { code: error.code, message: error.message }, bug: false };
    }
  }
  if (error instanceof EventStoreError && error.code === 'INVALID_ARGUMENT') {
    return { status: 400, body: { code: 'INVALID_ARGUMENT', message: error.message }, bug: false };
  }
  return { status: 500, body: { code: 'INTERNAL', message: 'Internal error; it has been logged' }, bug: true };
}

/** A JSON Pointer to the failing field, prefixed by where it was (body, querystring, params, headers). */
function validationPath(context: string, instancePath: string, params?: Record<string, unknown>): string {
  const missing = params && typeof params.missingProperty === 'string' ? `/${params.missingProperty}` : '';
  const extra = params && typeof params.additionalProperty === 'string' ? `/${params.additionalProperty}` : '';
  return `/${context}${instancePath}${missing}${extra}`;
}
