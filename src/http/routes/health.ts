import { Type } from 'typebox';
import type { EngineDeps } from '../../engine/engine-deps.js';
import type { App } from '../app.js';

const Health = Type.Object({ status: Type.String(), store: Type.Optional(Type.String()), detail: Type.Optional(Type.String()) });

export function registerHealthRoutes(app: App, deps: Pick<EngineDeps, 'store'>): void {
  app.get('/health/live', { config: { access: 'public' }, schema: { tags: ['health'], summary: 'The process is up', security: [], response: { 200: Health } } }, async () => ({ status: 'ok' }));
  app.get(
    '/health/ready',
    { config: { access: 'public' }, schema: { tags: ['health'], summary: 'The event store is reachable', security: [], response: { 200: Health, 503: Health } } },
    async (_request, reply) => {
      const health = await deps.store.health().catch((error: unknown) => ({ ok: false, detail: error instanceof Error ? error.message : String(error) }));
      return reply.status(health.ok ? 200 : 503).send({ status: health.ok ? 'ready' : 'unavailable', store: deps.store.kind, ...(health.detail ? { detail: health.detail } : {}) });
    },
  );
}
