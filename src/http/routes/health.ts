import { Type } from 'typebox';
import type { EngineDeps } from '../../engine/engine-deps.js';
import { walSyncOf } from '../../readmodel/wal-sync.js';
import type { App } from '../app.js';

const Health = Type.Object({ status: Type.String(), store: Type.Optional(Type.String()), detail: Type.Optional(Type.String()) });

export function registerHealthRoutes(app: App, deps: Pick<EngineDeps, 'store' | 'readDb'>): void {
  app.get('/health/live', { config: { access: 'public' }, schema: { tags: ['health'], summary: 'The process is up', security: [], response: { 200: Health } } }, async () => ({ status: 'ok' }));
  app.get(
    '/health/ready',
    { config: { access: 'public' }, schema: { tags: ['health'], summary: 'The event store is reachable and read-model effects can be made durable', security: [], response: { 200: Health, 503: Health } } },
    async (_request, reply) => {
      const stored = await deps.store.health().catch((error: unknown) => ({ ok: false, detail: error instanceof Error ? error.message : String(error) }));
      // A failed read-model batch stops every ack until a restart: tell the orchestrator.
      const effects = walSyncOf(deps.readDb).failure;
      const health = effects && stored.ok ? { ok: false, detail: effects.message } : stored;
      return reply.status(health.ok ? 200 : 503).send({ status: health.ok ? 'ready' : 'unavailable', store: deps.store.kind, ...(health.detail ? { detail: health.detail } : {}) });
    },
  );
}
