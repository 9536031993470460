/** The read models of MortgageMatchPro and their live handlers (see projection.ts for the framework). */
import type { EventHandler } from '../engine/subscription-runner.js';
import { createAnalyticsProjection, type AnalyticsThresholds } from './analytics.js';
import { projectionHandler, type Projection, type ProjectionEffectDeps, type ProjectionHandlerOptions } from './projection.js';
import { scoringStatusProjection } from './scoring-status.js';
import { usageInvoicesProjection } from './usage-invoices.js';

export * from './projection.js';
export * from './scoring-view.js';
export * from './scoring-status.js';
export * from './usage-invoices.js';
export * from './analytics.js';
export * from './reports.js';

export interface ReadModelsConfig {
  readonly analyticsThresholds?: Partial<AnalyticsThresholds>;
}

/** The three projections (scoring_status, usage_invoices, analytics). */
export function createProjections(config: ReadModelsConfig = {}): readonly Projection[] {
  return [scoringStatusProjection, usageInvoicesProjection, createAnalyticsProjection(config.analyticsThresholds)];
}

/** Live handlers of `projections`, for the subscription runner. */
export function projectionHandlers(deps: ProjectionEffectDeps, projections: readonly Projection[], options: ProjectionHandlerOptions = {}): EventHandler[] {
  return projections.map((projection) => projectionHandler(deps, projection, options));
}
