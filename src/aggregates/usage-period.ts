/**
 * UsagePeriod: the scorings a tenant used in one billing period, stream
 * `usage-{tenantId}-{yyyy-mm}` (UTC calendar month of the usage).
 *
 * Why not in the subscription stream: the cost of a command must not grow with history. A
 * tenant with a million recorded usages must record the next one as fast as a new tenant. So:
 *
 * 1. Usage lives in one stream per tenant and billing period, away from the subscription stream
 *    (which stays small: plan changes and a few payments a month). The subscription facts usage
 *    needs (status, id, plan) come in the command (`usageContextOf(subscriptionState)`).
 * 2. The state is O(1): period totals (count, included, overage, billed cents, AI cost) and the
 *    last scoring id, never the set of scoring ids.
 * 3. Loading is O(1) too: each billing.usage.recorded carries the period totals after itself, so
 *    it is a checkpoint (`isCheckpoint`): the handler reads the stream backwards to the newest
 *    usage event (at most 3 events: it plus up to two threshold alerts) and folds from there
 *    (`stateFromNewestFirst`), then appends at the revision of the newest event it read.
 * 4. "Once per scoring id" without a growing set:
 *    - the event id is derived from the scoring (`deterministicEventId(usage, tenantId/scoringId)`),
 *      so an append retried after a lost answer or timeout (same expected revision, same id) is
 *      acknowledged by the store without writing, and with `any` the store's recent-ids cache
 *      dedupes;
 *    - the decider emits nothing when the scoring is the last one recorded (a redelivery right
 *      after the append succeeded);
 *    - limit: EventStoreDB only compares ids after the *expected* revision, so a duplicate decided
 *      afresh after other usages were appended is, for EventStoreDB, a new write. It carries the
 *      same event id, which makes it recognisable downstream: the invoice projection counts
 *      distinct event ids. (The embedded store keeps ids unique per stream and refuses such an
 *      append with WrongExpectedVersion: a handler that retries on WrongExpectedVersion must bound
 *      its retries and treat a persistent conflict of a deterministic id as "already recorded".)
 *      Exact prevention in EventStoreDB would need a per-scoring guard (e.g. a `no_stream` append
 *      to a per-scoring stream), a second write per usage; we chose not to pay it.
 * 5. Pricing: a usage is `included` while the period's included count is below the plan's
 *    `includedScorings` (plan as of the usage: an upgrade mid-period adds room), else `overage`
 *    at the plan's overage price. AI cost is summed; crossing 80% / 100% of the plan's monthly AI
 *    budget emits ai.cost.threshold_exceeded (alert / throttle) in the same append.
 * 6. No usage on a cancelled (or missing) subscription.
 */
import type { BillingPeriod } from '../contracts/common.js';
import { billingPeriodOf } from '../contracts/common.js';
import type { EventBodyOf } from '../contracts/events/catalog.js';
import { ID_NAMESPACES, deterministicEventId } from '../contracts/ids.js';
import { AI_COST_THRESHOLDS, planTerms } from '../contracts/plans.js';
import type { Decider } from './decider.js';
import { BusinessRuleError } from './errors.js';
import type { UsageSubscriptionContext } from './subscription.js';

export interface RecordUsage {
  readonly type: 'RecordUsage';
  readonly tenantId: string;
  readonly scoringId: string;
  /** AI provider cost of the scoring (ai.scoring.completed costCents). */
  readonly aiCostCents: number;
  /** When the scoring completed: decides the billing period (and so the stream, see usageStreamFor). */
  readonly recordedAt: string;
  readonly subscription: UsageSubscriptionContext;
}
export type UsageCommand = RecordUsage;

export type UsageEvent = EventBodyOf<'billing.usage.recorded' | 'ai.cost.threshold_exceeded'>;

export interface UsagePeriodState {
  readonly tenantId?: string;
  readonly period?: BillingPeriod;
  readonly usageCount: number;
  readonly includedCount: number;
  readonly overageCount: number;
  readonly amountCents: number;
  readonly aiCostCents: number;
  readonly lastScoringId?: string;
}

const initialState: UsagePeriodState = Object.freeze({ usageCount: 0, includedCount: 0, overageCount: 0, amountCents: 0, aiCostCents: 0 });

function decide(command: UsageCommand, state: UsagePeriodState): readonly UsageEvent[] {
  const subscription = command.subscription;
  if (subscription.status === 'none') throw new BusinessRuleError('SUBSCRIPTION_NOT_FOUND', `Tenant ${command.tenantId} has no subscription`);
  if (subscription.status === 'cancelled') throw new BusinessRuleError('SUBSCRIPTION_CANCELLED', `Subscription ${subscription.subscriptionId} is cancelled`);
  if (state.tenantId !== undefined && state.tenantId !== command.tenantId) {
    throw new BusinessRuleError('TENANT_MISMATCH', `This usage stream belongs to tenant ${state.tenantId}, not ${command.tenantId}`);
  }
  const period = billingPeriodOf(command.recordedAt);
  if (state.period !== undefined && state.period !== period) {
    throw new BusinessRuleError('USAGE_PERIOD_MISMATCH', `Usage at ${command.recordedAt} is in ${period}, this stream is ${state.period}`);
  }
  if (state.lastScoringId === command.scoringId) return [];

  const terms = planTerms(subscription.plan);
  const included = state.includedCount < terms.includedScorings;
  const quantity = 1;
  const unitPriceCents = included ? 0 : terms.overagePriceCents;
  const amountCents = quantity * unitPriceCents;
  const periodTotals = {
    usageCount: state.usageCount + quantity,
    includedCount: state.includedCount + (included ? quantity : 0),
    overageCount: state.overageCount + (included ? 0 : quantity),
    amountCents: state.amountCents + amountCents,
    aiCostCents: state.aiCostCents + command.aiCostCents,
  };
  const events: UsageEvent[] = [
    {
      type: 'billing.usage.recorded',
      data: {
        tenantId: command.tenantId,
        subscriptionId: subscription.subscriptionId,
        scoringId: command.scoringId,
        period,
        plan: subscription.plan,
        quantity,
        unitPriceCents,
        amountCents,
        billing: included ? 'included' : 'overage',
        aiCostCents: command.aiCostCents,
        recordedAt: command.recordedAt,
        periodTotals,
      },
    },
  ];
  const budget = terms.monthlyAiBudgetCents;
  for (const thresholdPercent of AI_COST_THRESHOLDS) {
    const limit = Math.ceil((budget * thresholdPercent) / 100);
    if (limit > 0 && state.aiCostCents < limit && periodTotals.aiCostCents >= limit) {
      events.push({
        type: 'ai.cost.threshold_exceeded',
        data: {
          tenantId: command.tenantId,
          period,
          plan: subscription.plan,
          budgetCents: budget,
          spentCents: periodTotals.aiCostCents,
          thresholdPercent,
          action: thresholdPercent >= 100 ? 'throttle' : 'alert',
          scoringId: command.scoringId,
        },
      });
    }
  }
  return events;
}

function evolve(state: UsagePeriodState, event: UsageEvent): UsagePeriodState {
  switch (event.type) {
    case 'billing.usage.recorded': {
      // A checkpoint: the state after this event is in the event; the state before is not needed.
      const { tenantId, period, scoringId, periodTotals } = event.data;
      return { tenantId, period, ...periodTotals, lastScoringId: scoringId };
    }
    case 'ai.cost.threshold_exceeded':
      return state;
  }
}

function eventId(event: UsageEvent): string {
  switch (event.type) {
    case 'billing.usage.recorded':
      return usageEventId(event.data.tenantId, event.data.scoringId);
    case 'ai.cost.threshold_exceeded':
      return deterministicEventId(ID_NAMESPACES.costThreshold, `${event.data.tenantId}/${event.data.period}/${event.data.thresholdPercent}/${event.data.scoringId ?? ''}`);
  }
}

/** The id of the usage event of one scoring: the same whenever and wherever it is decided. */
export function usageEventId(tenantId: string, scoringId: string): string {
  return deterministicEventId(ID_NAMESPACES.usage, `${tenantId}/${scoringId}`);
}

export const usagePeriodDecider: Decider<UsageCommand, UsageEvent, UsagePeriodState> = Object.freeze({
  initialState,
  decide,
  evolve,
  eventId,
  isCheckpoint: (event: UsageEvent) => event.type === 'billing.usage.recorded',
});
