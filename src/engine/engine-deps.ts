import type { Logger } from 'pino';
import type { EventStore } from '../eventstore/port.js';
import type { ReadModelDatabase } from '../readmodel/database.js';
import type { TenantDirectory } from '../tenancy/api-keys.js';
import type { BillingService } from './billing-service.js';
import type { BreakerRegistry } from './breakers.js';
import type { CommandHandler } from './command-handler.js';
import type { EngineMetrics } from './metrics.js';
import type { Clock } from './request-context.js';
import type { ScoringService } from './scoring-service.js';

/** What projections, process managers and routes are built from; assembled once in src/wiring.ts. */
export interface EngineDeps {
  readonly store: EventStore;
  readonly readDb: ReadModelDatabase;
  readonly tenants: TenantDirectory;
  readonly commands: CommandHandler;
  readonly scoring: ScoringService;
  readonly billing: BillingService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: EngineMetrics;
  readonly breakers: BreakerRegistry;
}
