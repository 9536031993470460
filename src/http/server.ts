import type { FastifyServerOptions } from 'fastify';
import type { EngineDeps } from '../engine/engine-deps.js';
import type { ScoringWaiter } from '../engine/scoring-waiter.js';
import { createHttpApp, type App } from './app.js';
import { registerActionRoutes } from './routes/actions.js';
import { registerEventRoutes } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerScoringRoutes } from './routes/scorings.js';
import { registerSubscriptionRoutes } from './routes/subscription.js';

export interface HttpOptions {
  readonly logger?: FastifyServerOptions['logger'];
  /** Route groups added by later modules (admin, read models), registered after the core routes. */
  readonly extraRoutes?: readonly ((app: App) => void)[];
}

/** The REST API over the engine: every route, documented at /docs. */
export async function buildHttpApi(deps: EngineDeps, waiter: ScoringWaiter, options: HttpOptions = {}): Promise<App> {
  const app = await createHttpApp({ tenants: deps.tenants, ...(options.logger !== undefined ? { logger: options.logger } : {}) });
  registerHealthRoutes(app, deps);
  registerScoringRoutes(app, deps, waiter);
  registerSubscriptionRoutes(app, deps);
  registerActionRoutes(app, deps);
  registerEventRoutes(app, deps);
  for (const register of options.extraRoutes ?? []) register(app);
  await app.ready();
  return app;
}
