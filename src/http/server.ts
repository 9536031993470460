import type { FastifyBaseLogger } from 'fastify';
import type { EngineDeps } from '../engine/engine-deps.js';
import type { ScoringWaiter } from '../engine/scoring-waiter.js';
import { createHttpApp, type App, type AppOptions } from './app.js';
import { AuditLog } from './audit-log.js';
import { registerActionRoutes } from './routes/actions.js';
import { registerAudit } from './routes/audit.js';
import { registerEventRoutes } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerScoringRoutes } from './routes/scorings.js';
import { registerSubscriptionRoutes } from './routes/subscription.js';

export interface HttpOptions extends Pick<AppOptions, 'rateLimit' | 'https' | 'bodyLimit'> {
  readonly logger?: FastifyBaseLogger;
  /** Route groups added by later modules (admin, read models), registered after the core routes. */
  readonly extraRoutes?: readonly ((app: App) => void)[];
}

/** The REST API over the engine: every route, documented at /docs. */
export async function buildHttpApi(deps: EngineDeps, waiter: ScoringWaiter, options: HttpOptions = {}): Promise<App> {
  const { extraRoutes, ...appOptions } = options;
  const app = await createHttpApp({ tenants: deps.tenants, ...appOptions });
  registerAudit(app, await AuditLog.open(deps.readDb));
  registerHealthRoutes(app, deps);
  registerScoringRoutes(app, deps, waiter);
  registerSubscriptionRoutes(app, deps);
  registerActionRoutes(app, deps);
  registerEventRoutes(app, deps);
  for (const register of extraRoutes ?? []) register(app);
  await app.ready();
  return app;
}
