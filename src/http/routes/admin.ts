import { Type } from 'typebox';
import { PLATFORM_TENANT_ID } from '../../contracts/common.js';
import type { EngineDeps } from '../../engine/engine-deps.js';
import { dashboard } from '../../engine/metrics.js';
import type { EventHandler, SubscriptionRunner } from '../../engine/subscription-runner.js';
import { PersistentSubscriptionDoesNotExistError } from '../../eventstore/errors.js';
import type { App } from '../app.js';
import { NotFound } from '../errors.js';
import { principalOf } from '../request-context.js';
import { AUTHENTICATED_ERRORS, errorResponses } from './common.js';

const GroupParams = Type.Object({ group: Type.String({ minLength: 1, maxLength: 128, pattern: '^[a-z0-9][a-z0-9-]*$' }) }, { additionalProperties: false });

const GroupView = Type.Object({
  group: Type.String(),
  source: Type.String(),
  status: Type.String(),
  consumers: Type.Integer(),
  inFlight: Type.Integer(),
  parked: Type.Integer(),
  lastCheckpointed: Type.Optional(Type.String()),
  lastKnown: Type.Optional(Type.String()),
  paused: Type.Boolean(),
});

const ParkedView = Type.Object({
  eventId: Type.String(),
  type: Type.String(),
  streamId: Type.String(),
  revision: Type.String(),
  reason: Type.String(),
  parkedAt: Type.String(),
});

const Unknown = Type.Unknown();

/** A group not created on the store yet (handlers not started) has nothing parked: no 500. */
function missingGroup<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (error instanceof PersistentSubscriptionDoesNotExistError) return fallback;
    throw error;
  };
}

/** Operations: subscription groups, parked messages (list, replay), the spec's dashboard and Prometheus metrics. */
export function registerAdminRoutes(app: App, deps: Pick<EngineDeps, 'store' | 'metrics'>, runner: SubscriptionRunner, handlers: readonly EventHandler[]): void {
  const handlerOf = (group: string): EventHandler => {
    const handler = handlers.find((h) => h.name === group);
    if (!handler) throw new NotFound(`Subscription group ${group}`);
    return handler;
  };

  app.get(
    '/admin/groups',
    {
      config: { access: 'operator' },
      schema: { tags: ['admin'], summary: 'Persistent subscription groups: status, lag, in flight, parked', response: { 200: Type.Array(GroupView), ...errorResponses(...AUTHENTICATED_ERRORS) } },
    },
    async () => {
      const local = new Map(runner.status().map((s) => [s.group, s]));
      const views = [];
      for (const handler of handlers) {
        const info = await deps.store.getPersistentSubscriptionInfo(handler.source, handler.name).catch(() => undefined);
        const status = local.get(handler.name);
        const stats = info?.stats;
        const lastCheckpointed = stats?.lastCheckpointedPosition?.commit ?? stats?.lastCheckpointedRevision;
        const lastKnown = stats?.lastKnownPosition?.commit ?? stats?.lastKnownRevision;
        views.push({
          group: handler.name,
          source: status?.source ?? '$all',
          status: info?.status ?? 'missing',
          consumers: status?.consumers ?? 0,
          inFlight: stats?.totalInFlightMessages ?? 0,
          parked: stats?.parkedMessageCount ?? 0,
          ...(lastCheckpointed !== undefined ? { lastCheckpointed: lastCheckpointed.toString() } : {}),
          ...(lastKnown !== undefined ? { lastKnown: lastKnown.toString() } : {}),
          paused: status?.paused ?? false,
          // No lastError: it is the group's (any tenant's) last failure, naming their events and streams.
        });
      }
      return views;
    },
  );

  app.get(
    '/admin/groups/:group/parked',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Parked messages of a group (a tenant admin sees its own events; the platform operator all)",
        params: GroupParams,
        response: { 200: Type.Array(ParkedView), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
    },
    async (request) => {
      const handler = handlerOf(request.params.group);
      const tenantId = principalOf(request).tenantId;
      const parked = await deps.store.listParkedMessages(handler.source, handler.name, { maxCount: 1000 }).catch(missingGroup([]));
      return parked
        .filter((p) => tenantId === PLATFORM_TENANT_ID || (p.event.metadata as Record<string, unknown>)['tenantId'] === tenantId)
        .map((p) => ({
          eventId: p.event.id,
          type: p.event.type,
          streamId: p.event.streamId,
          revision: p.event.revision.toString(),
          reason: p.reason,
          parkedAt: p.parkedAt.toISOString(),
        }));
    },
  );

  app.post(
    '/admin/groups/:group/parked/replay',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['admin'],
        summary: 'Replay the parked messages of a group',
        description: 'Redelivers them (retry count 0) ahead of new events. Handlers are idempotent, so a replay never applies an effect twice.',
        params: GroupParams,
        response: { 202: Type.Object({ replaying: Type.Boolean() }), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
    },
    async (request, reply) => {
      const handler = handlerOf(request.params.group);
      const replaying = await deps.store.replayParkedMessages(handler.source, handler.name).then(() => true, missingGroup(false));
      return reply.status(202).send({ replaying });
    },
  );

  app.get(
    '/admin/dashboard',
    { config: { access: 'operator' }, schema: { tags: ['admin'], summary: "The spec's monitoring dashboard (throughput, errors, latency, queue)", response: { 200: Unknown, ...errorResponses(...AUTHENTICATED_ERRORS) } } },
    async () => {
      await runner.refreshStats();
      return dashboard(deps.metrics);
    },
  );

  app.get(
    '/metrics',
    { config: { access: 'operator' }, schema: { tags: ['admin'], summary: 'Prometheus metrics', produces: ['text/plain'], response: { 200: Type.String(), ...errorResponses(...AUTHENTICATED_ERRORS) } } },
    async (_request, reply) => {
      await runner.refreshStats();
      return reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    },
  );
}
