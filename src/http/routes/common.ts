import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiErrorSchema } from '../../contracts/api/error.js';
import type { CommandContext } from '../../engine/request-context.js';
import { principalOf } from '../request-context.js';

/** The error responses a route documents, by status. */
export function errorResponses(...statuses: (400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503)[]): Record<number, typeof ApiErrorSchema> {
  const responses: Record<number, typeof ApiErrorSchema> = {};
  for (const status of statuses) responses[status] = ApiErrorSchema;
  return responses;
}

/** Errors every authenticated route can answer. */
export const AUTHENTICATED_ERRORS = [400, 401, 403, 503] as const;

/** A command issued by an HTTP request: the request is the root cause, so causation = correlation. */
export function commandContext(request: FastifyRequest): CommandContext {
  const principal = principalOf(request);
  return { tenantId: principal.tenantId, correlationId: request.correlationId, causationId: request.correlationId, userId: `key:${principal.keyId}` };
}

export const Accepted = Type.Object({ accepted: Type.Boolean() });
