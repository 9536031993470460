import { UserActionBatchSchema, UserActionSchema, UserActionsAcceptedSchema, type UserAction } from '../../contracts/api/analytics.js';
import { toEventData } from '../../contracts/events/codec.js';
import type { EngineDeps } from '../../engine/engine-deps.js';
import { envelopeOf } from '../../engine/request-context.js';
import type { FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import { AUTHENTICATED_ERRORS, commandContext, errorResponses } from './common.js';
import { newId } from '../../contracts/ids.js';

/** One stream per tenant and UTC day keeps analytics streams bounded however busy a tenant is. */
export function analyticsStreamId(tenantId: string, at: string): string {
  return `analytics-${tenantId}-${at.slice(0, 10)}`;
}

/**
 * Fire-and-forget (the spec's pattern 2): the actions are appended durably, nothing waits for
 * their processing. One append for a batch, so a batch is recorded whole or not at all.
 */
async function record(deps: Pick<EngineDeps, 'store' | 'clock'>, request: FastifyRequest, actions: readonly UserAction[]): Promise<number> {
  const context = commandContext(request);
  const at = deps.clock().toISOString();
  const envelope = envelopeOf(context, at);
  const events = actions.map((action) => toEventData('analytics.event.recorded', { tenantId: context.tenantId, ...action }, envelope, newId()));
  await deps.store.append(analyticsStreamId(context.tenantId, at), events, { expectedRevision: 'any' });
  return events.length;
}

export function registerActionRoutes(app: App, deps: Pick<EngineDeps, 'store' | 'clock'>): void {
  app.post(
    '/actions',
    {
      config: { access: 'user' },
      schema: {
        tags: ['analytics'],
        summary: 'Record one user action (fire-and-forget)',
        body: UserActionSchema,
        response: { 202: UserActionsAcceptedSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 413) },
      },
    },
    async (request, reply) => reply.status(202).send({ accepted: await record(deps, request, [request.body]) }),
  );

  app.post(
    '/actions/batch',
    {
      config: { access: 'user' },
      schema: {
        tags: ['analytics'],
        summary: 'Record a batch of user actions, in order (fire-and-forget)',
        body: UserActionBatchSchema,
        response: { 202: UserActionsAcceptedSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 413) },
      },
    },
    async (request, reply) => reply.status(202).send({ accepted: await record(deps, request, request.body.actions) }),
  );
}
