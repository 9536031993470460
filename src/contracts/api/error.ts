/**
 * The one error body of the HTTP API: `{ code, message, details?: [{ path, message }] }`.
 * `details` paths are JSON Pointers into the request part that failed (body, query, params).
 */
import { Type, type Static } from 'typebox';
import { FieldErrorSchema, Obj, type FieldError } from '../common.js';

/** Codes the HTTP layer itself produces; business rule codes come from BusinessRuleError.code. */
export const API_ERROR_CODES = Object.freeze({
  validationFailed: 'VALIDATION_FAILED',
  notFound: 'NOT_FOUND',
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  conflict: 'CONFLICT',
  rateLimited: 'RATE_LIMITED',
  unavailable: 'SERVICE_UNAVAILABLE',
  internal: 'INTERNAL_ERROR',
} as const);

export const ApiErrorSchema = Obj(
  {
    code: Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,63}$', maxLength: 64, description: 'Stable machine-readable code', examples: ['VALIDATION_FAILED'] }),
    message: Type.String({ maxLength: 2000, description: 'Human-readable summary' }),
    details: Type.Optional(Type.Array(FieldErrorSchema, { maxItems: 100 })),
  },
  {
    description: 'Error response',
    examples: [
      { code: 'VALIDATION_FAILED', message: 'The request is invalid', details: [{ path: '/applicant/email', message: 'must match format "email"' }] },
      { code: 'SAME_PLAN', message: 'The subscription is already on plan pro' },
    ],
  },
);
export type ApiError = Static<typeof ApiErrorSchema>;

export function apiError(code: string, message: string, details?: readonly FieldError[]): ApiError {
  return details !== undefined && details.length > 0 ? { code, message, details: details.slice(0, 100) } : { code, message };
}
