/**
 * Usage metering (group 'usage-metering'): each ai.scoring.completed records the scoring's usage
 * (billing.usage.recorded, and ai.cost.threshold_exceeded when the AI cost crosses 80 % / 100 %
 * of the plan's budget) exactly once:
 * - the usage event id derives from (tenant, scoring) and the usage decider ignores the scoring
 *   it recorded last, so a redelivered completion writes nothing (BillingService.recordUsage
 *   answers 'already_recorded' or an empty outcome);
 * - the completed events this node metered are remembered (handled_events, via applyOnce), so a
 *   redelivery does not even reach the store.
 * The usage belongs to the billing period of the completion (its occurredAt), whenever it is
 * metered. Causation = the completed event, same correlation id.
 * A usage the billing rules refuse (subscription cancelled or missing meanwhile) is a
 * BusinessError: parked, admins alerted; no retry would change the answer.
 */
import { isBusinessRuleError } from '../aggregates/errors.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import { BusinessError } from '../engine/failures.js';
import { applyOnce, wasHandled } from '../engine/idempotent-projection.js';
import type { EventHandler } from '../engine/subscription-runner.js';
import { commandContextOf, decodeHandled } from './ai-scoring.js';

export const USAGE_METERING_GROUP = 'usage-metering';

export function createUsageMeteringProcessManager(deps: EngineDeps): EventHandler {
  const logger = deps.logger.child({ component: USAGE_METERING_GROUP });
  return {
    name: USAGE_METERING_GROUP,
    source: { kind: 'all', filter: { on: 'eventType', prefixes: ['ai.scoring.completed'] } },
    settings: { startFrom: 'start' },
    async handle(recorded) {
      const event = decodeHandled(recorded);
      if (event.type !== 'ai.scoring.completed') return;
      if (wasHandled(deps.readDb, USAGE_METERING_GROUP, event.id)) return;
      const { tenantId, scoringId, costCents } = event.data;
      let outcome: Awaited<ReturnType<EngineDeps['billing']['recordUsage']>>;
      try {
        outcome = await deps.billing.recordUsage(commandContextOf(event, tenantId), { tenantId, scoringId, aiCostCents: costCents, recordedAt: event.metadata.occurredAt });
      } catch (error) {
        if (isBusinessRuleError(error)) throw new BusinessError(error.code, `Usage of scoring ${scoringId} refused: ${error.message}`, { cause: error });
        throw error;
      }
      applyOnce(deps.readDb, USAGE_METERING_GROUP, event.id, () => undefined);
      if (outcome === 'already_recorded' || outcome.events.length === 0) logger.debug({ scoringId }, 'usage already recorded');
    },
  };
}
