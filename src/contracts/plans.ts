/**
 * The plan catalogue: the one place plan terms live. Aggregates price usage from it; events
 * snapshot the terms that applied (price on creation, unit price on each usage) so that history
 * never depends on today's catalogue.
 */
import type { PlanId } from './common.js';

export interface PlanTerms {
  readonly id: PlanId;
  readonly name: string;
  /** Orders plans: a change to a higher rank is an upgrade. */
  readonly rank: number;
  readonly monthlyPriceCents: number;
  readonly currency: 'USD';
  /** Scorings per billing period covered by the monthly price. */
  readonly includedScorings: number;
  /** Price of each scoring beyond the included ones. */
  readonly overagePriceCents: number;
  /** Monthly AI provider cost budget; crossing 80% alerts, 100% throttles. */
  readonly monthlyAiBudgetCents: number;
}

export const PLANS: Readonly<Record<PlanId, PlanTerms>> = Object.freeze({
  starter: Object.freeze({
    id: 'starter',
    name: 'Starter',
    rank: 1,
    monthlyPriceCents: 49_00,
    currency: 'USD',
    includedScorings: 50,
    overagePriceCents: 1_50,
    monthlyAiBudgetCents: 25_00,
  }),
  pro: Object.freeze({
    id: 'pro',
    name: 'Pro',
    rank: 2,
    monthlyPriceCents: 199_00,
    currency: 'USD',
    includedScorings: 500,
    overagePriceCents: 1_00,
    monthlyAiBudgetCents: 200_00,
  }),
  enterprise: Object.freeze({
    id: 'enterprise',
    name: 'Enterprise',
    rank: 3,
    monthlyPriceCents: 999_00,
    currency: 'USD',
    includedScorings: 5_000,
    overagePriceCents: 50,
    monthlyAiBudgetCents: 1_500_00,
  }),
});

/** AI cost budget thresholds, in percent of `monthlyAiBudgetCents`. */
export const AI_COST_THRESHOLDS = [80, 100] as const;
export type AiCostThreshold = (typeof AI_COST_THRESHOLDS)[number];

export function planTerms(plan: PlanId): PlanTerms {
  return PLANS[plan];
}
