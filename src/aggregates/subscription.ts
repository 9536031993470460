/**
 * Subscription: a tenant's plan and payments, stream `subscription-{tenantId}`.
 *
 * One stream per tenant is what makes "one active subscription per tenant" a plain rule: a
 * create on an active (or past-due) subscription is SUBSCRIPTION_ALREADY_ACTIVE, a create after
 * cancellation starts a new subscription (new id) in the same stream.
 *
 *   (none | cancelled) --create--> active <--payment succeeded-- past_due
 *                                    |  --payment failed-->        |
 *                                    +------ cancel / MAX_PAYMENT_ATTEMPTS failures ------> cancelled
 *
 * - Plan terms come from the plan catalogue (contracts/plans.ts) and are snapshot in the events.
 * - Billing periods are UTC calendar months; the first one runs from creation to the next month.
 * - Payments: recorded whatever the status (money moved, even after cancellation), for the
 *   current subscription only. Gateways redeliver webhooks: a payment outcome already recorded
 *   (same paymentId and outcome, and attempt for failures) emits nothing; the set of recorded
 *   outcomes is tiny (a few per month) and their event ids are deterministic as well.
 * - The failure of attempt MAX_PAYMENT_ATTEMPTS cancels the subscription (reason payment_failed):
 *   the compensation step of the billing saga.
 * - Usage is not recorded here (this stream would grow with every scoring) but in per-period
 *   usage streams: see usage-period.ts, which takes `usageContextOf(state)` from this aggregate.
 */
import type { PlanId } from '../contracts/common.js';
import { startOfNextPeriod } from '../contracts/common.js';
import type { EventBodyOf } from '../contracts/events/catalog.js';
import type { PAYMENT_GATEWAYS } from '../contracts/events/billing.js';
import { ID_NAMESPACES, deterministicEventId } from '../contracts/ids.js';
import { planTerms } from '../contracts/plans.js';
import type { Decider } from './decider.js';
import { BusinessRuleError } from './errors.js';

export const MAX_PAYMENT_ATTEMPTS = 3;

export interface PaymentDetails {
  readonly paymentId: string;
  readonly subscriptionId: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly gateway: (typeof PAYMENT_GATEWAYS)[number];
  readonly gatewayReference: string;
  readonly billingPeriod: string;
}

export interface PaymentFailure {
  readonly code: string;
  readonly message: string;
  readonly attempt: number;
  readonly nextRetryAt?: string;
}

export type SubscriptionCommand =
  | { readonly type: 'CreateSubscription'; readonly tenantId: string; readonly subscriptionId: string; readonly plan: PlanId; readonly at: string }
  | { readonly type: 'ChangePlan'; readonly tenantId: string; readonly plan: PlanId; readonly at: string }
  | {
      readonly type: 'CancelSubscription';
      readonly tenantId: string;
      readonly reason: 'customer_request' | 'payment_failed' | 'fraud' | 'other';
      readonly comment?: string;
      readonly at: string;
    }
  | { readonly type: 'RecordPaymentSucceeded'; readonly tenantId: string; readonly payment: PaymentDetails; readonly paidAt: string }
  | { readonly type: 'RecordPaymentFailed'; readonly tenantId: string; readonly payment: PaymentDetails; readonly failure: PaymentFailure; readonly failedAt: string };

export type SubscriptionEvent = EventBodyOf<
  | 'billing.subscription.created'
  | 'billing.subscription.updated'
  | 'billing.subscription.cancelled'
  | 'billing.payment.succeeded'
  | 'billing.payment.failed'
>;

export type SubscriptionStatus = 'active' | 'past_due' | 'cancelled';

export type SubscriptionState =
  | { readonly status: 'none' }
  | {
      readonly status: SubscriptionStatus;
      readonly subscriptionId: string;
      readonly tenantId: string;
      readonly plan: PlanId;
      readonly currentPeriod: { readonly start: string; readonly end: string };
      readonly cancelledAt?: string;
      /** Payment outcomes recorded for this subscription: `{paymentId}/succeeded`, `{paymentId}/failed/{attempt}`. */
      readonly recordedPayments: readonly string[];
    };

type Existing = Exclude<SubscriptionState, { status: 'none' }>;

function succeededKey(paymentId: string): string {
  return `${paymentId}/succeeded`;
}
function failedKey(paymentId: string, attempt: number): string {
  return `${paymentId}/failed/${attempt}`;
}

function existing(state: SubscriptionState, tenantId: string): Existing {
  if (state.status === 'none') throw new BusinessRuleError('SUBSCRIPTION_NOT_FOUND', `Tenant ${tenantId} has no subscription`);
  if (state.tenantId !== tenantId) throw new BusinessRuleError('TENANT_MISMATCH', `This subscription belongs to tenant ${state.tenantId}, not ${tenantId}`);
  return state;
}

function checkPayment(state: Existing, payment: PaymentDetails): void {
  if (payment.subscriptionId !== state.subscriptionId) {
    throw new BusinessRuleError('SUBSCRIPTION_MISMATCH', `Payment ${payment.paymentId} is for subscription ${payment.subscriptionId}, not ${state.subscriptionId}`);
  }
  const currency = planTerms(state.plan).currency;
  if (payment.currency !== currency) throw new BusinessRuleError('CURRENCY_MISMATCH', `Payment currency ${payment.currency} is not ${currency}`);
}

function decide(command: SubscriptionCommand, state: SubscriptionState): readonly SubscriptionEvent[] {
  switch (command.type) {
    case 'CreateSubscription': {
      if (state.status === 'active' || state.status === 'past_due') {
        if (state.subscriptionId === command.subscriptionId && state.plan === command.plan && state.tenantId === command.tenantId) return [];
        throw new BusinessRuleError('SUBSCRIPTION_ALREADY_ACTIVE', `Tenant ${command.tenantId} already has subscription ${state.subscriptionId}`);
      }
      if (state.status === 'cancelled' && state.subscriptionId === command.subscriptionId) {
        throw new BusinessRuleError('SUBSCRIPTION_ID_REUSED', `Subscription ${command.subscriptionId} was cancelled; create a new one`);
      }
      const terms = planTerms(command.plan);
      return [
        {
          type: 'billing.subscription.created',
          data: {
            subscriptionId: command.subscriptionId,
            tenantId: command.tenantId,
            plan: command.plan,
            monthlyPriceCents: terms.monthlyPriceCents,
            currency: terms.currency,
            includedScorings: terms.includedScorings,
            currentPeriod: { start: command.at, end: startOfNextPeriod(command.at) },
          },
        },
      ];
    }

    case 'ChangePlan': {
      const s = existing(state, command.tenantId);
      if (s.status === 'cancelled') throw new BusinessRuleError('SUBSCRIPTION_CANCELLED', `Subscription ${s.subscriptionId} is cancelled`);
      if (s.plan === command.plan) throw new BusinessRuleError('SAME_PLAN', `Subscription ${s.subscriptionId} is already on plan ${command.plan}`);
      const from = planTerms(s.plan);
      const to = planTerms(command.plan);
      return [
        {
          type: 'billing.subscription.updated',
          data: {
            subscriptionId: s.subscriptionId,
            tenantId: s.tenantId,
            previousPlan: s.plan,
            plan: command.plan,
            change: to.rank > from.rank ? 'upgrade' : 'downgrade',
            monthlyPriceCents: to.monthlyPriceCents,
            includedScorings: to.includedScorings,
            effectiveAt: command.at,
          },
        },
      ];
    }

    case 'CancelSubscription': {
      const s = existing(state, command.tenantId);
      if (s.status === 'cancelled') throw new BusinessRuleError('SUBSCRIPTION_ALREADY_CANCELLED', `Subscription ${s.subscriptionId} is already cancelled`);
      return [
        {
          type: 'billing.subscription.cancelled',
          data: {
            subscriptionId: s.subscriptionId,
            tenantId: s.tenantId,
            plan: s.plan,
            reason: command.reason,
            ...(command.comment !== undefined ? { comment: command.comment } : {}),
            cancelledAt: command.at,
          },
        },
      ];
    }

    case 'RecordPaymentSucceeded': {
      const s = existing(state, command.tenantId);
      checkPayment(s, command.payment);
      if (s.recordedPayments.includes(succeededKey(command.payment.paymentId))) return [];
      return [{ type: 'billing.payment.succeeded', data: { ...command.payment, tenantId: s.tenantId, paidAt: command.paidAt } }];
    }

    case 'RecordPaymentFailed': {
      const s = existing(state, command.tenantId);
      checkPayment(s, command.payment);
      const { paymentId } = command.payment;
      if (s.recordedPayments.includes(succeededKey(paymentId))) {
        throw new BusinessRuleError('PAYMENT_ALREADY_SUCCEEDED', `Payment ${paymentId} already succeeded`);
      }
      if (s.recordedPayments.includes(failedKey(paymentId, command.failure.attempt))) return [];
      const failed: SubscriptionEvent = {
        type: 'billing.payment.failed',
        data: {
          ...command.payment,
          tenantId: s.tenantId,
          failureCode: command.failure.code,
          failureMessage: command.failure.message,
          attempt: command.failure.attempt,
          ...(command.failure.nextRetryAt !== undefined ? { nextRetryAt: command.failure.nextRetryAt } : {}),
          failedAt: command.failedAt,
        },
      };
      if (s.status === 'cancelled' || command.failure.attempt < MAX_PAYMENT_ATTEMPTS) return [failed];
      return [
        failed,
        {
          type: 'billing.subscription.cancelled',
          data: {
            subscriptionId: s.subscriptionId,
            tenantId: s.tenantId,
            plan: s.plan,
            reason: 'payment_failed',
            comment: `Payment ${paymentId} failed ${command.failure.attempt} times`,
            cancelledAt: command.failedAt,
          },
        },
      ];
    }
  }
  throw new TypeError(`Unknown subscription command ${(command as { type?: unknown }).type as string}`);
}

function evolve(state: SubscriptionState, event: SubscriptionEvent): SubscriptionState {
  switch (event.type) {
    case 'billing.subscription.created': {
      const { subscriptionId, tenantId, plan, currentPeriod } = event.data;
      return { status: 'active', subscriptionId, tenantId, plan, currentPeriod, recordedPayments: [] };
    }
    case 'billing.subscription.updated':
      return state.status === 'none' ? state : { ...state, plan: event.data.plan };
    case 'billing.subscription.cancelled':
      return state.status === 'none' ? state : { ...state, status: 'cancelled', cancelledAt: event.data.cancelledAt };
    case 'billing.payment.succeeded':
      if (state.status === 'none') return state;
      return {
        ...state,
        status: state.status === 'cancelled' ? 'cancelled' : 'active',
        recordedPayments: [...state.recordedPayments, succeededKey(event.data.paymentId)],
      };
    case 'billing.payment.failed':
      if (state.status === 'none') return state;
      return {
        ...state,
        status: state.status === 'cancelled' ? 'cancelled' : 'past_due',
        recordedPayments: [...state.recordedPayments, failedKey(event.data.paymentId, event.data.attempt)],
      };
  }
}

/** Deterministic ids for payment outcomes: a redelivered webhook collapses in the store too. */
function eventId(event: SubscriptionEvent): string | undefined {
  switch (event.type) {
    case 'billing.payment.succeeded':
      return deterministicEventId(ID_NAMESPACES.payment, succeededKey(event.data.paymentId));
    case 'billing.payment.failed':
      return deterministicEventId(ID_NAMESPACES.payment, failedKey(event.data.paymentId, event.data.attempt));
    default:
      return undefined;
  }
}

export const subscriptionDecider: Decider<SubscriptionCommand, SubscriptionEvent, SubscriptionState> = Object.freeze({
  initialState: { status: 'none' } as SubscriptionState,
  decide,
  evolve,
  eventId,
});

/** What usage recording needs to know about the tenant's subscription. */
export type UsageSubscriptionContext =
  | { readonly status: 'none' }
  | { readonly status: SubscriptionStatus; readonly subscriptionId: string; readonly plan: PlanId };

export function usageContextOf(state: SubscriptionState): UsageSubscriptionContext {
  return state.status === 'none' ? { status: 'none' } : { status: state.status, subscriptionId: state.subscriptionId, plan: state.plan };
}
