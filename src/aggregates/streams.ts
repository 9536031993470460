/**
 * Stream names. The category (before the first '-') groups streams for EventStoreDB's `$ce-`
 * projections and subscriptions: `scoring`, `subscription`, `usage`.
 */
import { billingPeriodOf, type BillingPeriod } from '../contracts/common.js';

/** One stream per scoring request. */
export function scoringStreamId(scoringId: string): string {
  return `scoring-${scoringId}`;
}

/** One stream per tenant: at most one active subscription at a time (a new one after cancellation continues the stream). */
export function subscriptionStreamId(tenantId: string): string {
  return `subscription-${tenantId}`;
}

/** One usage stream per tenant and billing period (UTC calendar month). */
export function usagePeriodStreamId(tenantId: string, period: BillingPeriod): string {
  return `usage-${tenantId}-${period}`;
}

/** The usage stream a usage at `recordedAt` belongs to. */
export function usageStreamFor(command: { readonly tenantId: string; readonly recordedAt: string }): string {
  return usagePeriodStreamId(command.tenantId, billingPeriodOf(command.recordedAt));
}
