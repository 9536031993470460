/**
 * The AI process managers, assembled: scoring (model calls), usage metering, AI quotas and the
 * model result cache. The caller runs `handlers` in a subscription runner and registers
 * `admission` with deps.scoring.addAdmissionCheck (it throws QuotaExceeded, 429).
 * Build once per EngineDeps: the 'scoring-model' breaker is registered in deps.breakers.
 */
import type { EngineDeps } from '../engine/engine-deps.js';
import type { ScoringAdmission } from '../engine/scoring-service.js';
import type { EventHandler } from '../engine/subscription-runner.js';
import { createAiQuotasProjection, quotaAdmissionCheck } from './ai-quotas.js';
import { createAiScoringProcessManager, type AiScoringOptions } from './ai-scoring.js';
import { createModelCacheInvalidator, ScoringResultCache, type ScoringResultCacheOptions } from './model-cache.js';
import { createUsageMeteringProcessManager } from './usage-metering.js';

export interface AiProcessManagerOptions extends Omit<AiScoringOptions, 'cache' | 'redriveAdmission'> {
  /** Result cache settings; false disables the cache (every scoring calls the model). */
  readonly cache?: Omit<ScoringResultCacheOptions, 'clock'> | false;
}

export interface AiProcessManagers {
  readonly handlers: EventHandler[];
  readonly admission: ScoringAdmission;
  readonly cache: ScoringResultCache | undefined;
}

export function createAiProcessManagers(deps: EngineDeps, options: AiProcessManagerOptions): AiProcessManagers {
  const admission = quotaAdmissionCheck(deps.readDb, deps.clock);
  const cache = options.cache === false ? undefined : new ScoringResultCache(deps.readDb, { clock: deps.clock, ...options.cache });
  const { cache: _cacheOptions, ...scoringOptions } = options;
  const handlers: EventHandler[] = [
    createAiScoringProcessManager(deps, { ...scoringOptions, ...(cache ? { cache } : {}), redriveAdmission: admission }),
    createUsageMeteringProcessManager(deps),
    createAiQuotasProjection(deps),
  ];
  if (cache) handlers.push(createModelCacheInvalidator(deps, cache));
  return { handlers, admission, cache };
}

export { AI_QUOTAS_GROUP, quotaAdmissionCheck, readAiQuota, type AiQuotaView } from './ai-quotas.js';
export { AI_SCORING_GROUP, SCORING_MODEL_BREAKER, createAiScoringProcessManager, type AiScoringOptions } from './ai-scoring.js';
export { MODEL_CACHE_GROUP, ScoringResultCache, createModelCacheInvalidator } from './model-cache.js';
export { USAGE_METERING_GROUP, createUsageMeteringProcessManager } from './usage-metering.js';
