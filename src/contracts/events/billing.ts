/** Payloads of the billing domain events. Money in integer cents. */
import { Type } from 'typebox';
import { BillingPeriod, Cents, Currency, DateTime, Obj, PlanId, ScoringId, StringEnum, TenantId, Uuid } from '../common.js';

const EXAMPLE_SUBSCRIPTION_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const EXAMPLE_PAYMENT_ID = '9b2f4e1a-3c5d-4e6f-8a7b-1c2d3e4f5a6b';

export const SubscriptionId = Uuid({ description: 'Subscription id (a tenant has at most one active subscription)' });
export const PaymentId = Uuid({ description: 'Payment id (one charge attempt)' });

export const CANCELLATION_REASONS = ['customer_request', 'payment_failed', 'fraud', 'other'] as const;
export const PAYMENT_GATEWAYS = ['stripe', 'braintree', 'adyen'] as const;

export const GatewayReference = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x21-\\x7e]+$',
  description: "The gateway's id of the charge",
  examples: ['ch_3OqL2e2eZvKYlo2C1'],
});

export const BillingSubscriptionCreatedV1 = Obj(
  {
    subscriptionId: SubscriptionId,
    tenantId: TenantId,
    plan: PlanId,
    monthlyPriceCents: Cents(),
    currency: Currency,
    includedScorings: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
    currentPeriod: Obj(
      { start: DateTime(), end: DateTime() },
      { description: 'First billing period: from creation to the start of the next UTC calendar month' },
    ),
  },
  {
    description: 'A tenant subscribed to a plan (terms as they were at creation).',
    examples: [
      {
        subscriptionId: EXAMPLE_SUBSCRIPTION_ID,
        tenantId: 'acme-lending',
        plan: 'pro',
        monthlyPriceCents: 19_900,
        currency: 'USD',
        includedScorings: 500,
        currentPeriod: { start: '2025-03-14T09:26:53Z', end: '2025-04-01T00:00:00.000Z' },
      },
    ],
  },
);

export const BillingSubscriptionUpdatedV1 = Obj(
  {
    subscriptionId: SubscriptionId,
    tenantId: TenantId,
    previousPlan: PlanId,
    plan: PlanId,
    change: StringEnum(['upgrade', 'downgrade']),
    monthlyPriceCents: Cents(),
    includedScorings: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
    effectiveAt: DateTime(),
  },
  {
    description: 'The plan of a subscription changed.',
    examples: [
      {
        subscriptionId: EXAMPLE_SUBSCRIPTION_ID,
        tenantId: 'acme-lending',
        previousPlan: 'pro',
        plan: 'enterprise',
        change: 'upgrade',
        monthlyPriceCents: 99_900,
        includedScorings: 5_000,
        effectiveAt: '2025-03-20T10:00:00Z',
      },
    ],
  },
);

export const BillingSubscriptionCancelledV1 = Obj(
  {
    subscriptionId: SubscriptionId,
    tenantId: TenantId,
    plan: PlanId,
    reason: StringEnum([...CANCELLATION_REASONS]),
    comment: Type.Optional(Type.String({ maxLength: 1000 })),
    cancelledAt: DateTime(),
  },
  {
    description: 'A subscription ended (by the customer, or as compensation after repeated payment failures).',
    examples: [
      { subscriptionId: EXAMPLE_SUBSCRIPTION_ID, tenantId: 'acme-lending', plan: 'pro', reason: 'customer_request', comment: 'Switching vendor', cancelledAt: '2025-06-30T17:00:00Z' },
    ],
  },
);

const paymentProperties = {
  paymentId: PaymentId,
  subscriptionId: SubscriptionId,
  tenantId: TenantId,
  amountCents: Cents({ minimum: 1 }),
  currency: Currency,
  gateway: StringEnum([...PAYMENT_GATEWAYS]),
  gatewayReference: GatewayReference,
  billingPeriod: BillingPeriod,
};

export const BillingPaymentSucceededV1 = Obj(
  { ...paymentProperties, paidAt: DateTime() },
  {
    description: 'A payment for a billing period went through.',
    examples: [
      {
        paymentId: EXAMPLE_PAYMENT_ID,
        subscriptionId: EXAMPLE_SUBSCRIPTION_ID,
        tenantId: 'acme-lending',
        amountCents: 19_900,
        currency: 'USD',
        gateway: 'stripe',
        gatewayReference: 'ch_3OqL2e2eZvKYlo2C1',
        billingPeriod: '2025-03',
        paidAt: '2025-03-14T09:27:10Z',
      },
    ],
  },
);

export const BillingPaymentFailedV1 = Obj(
  {
    ...paymentProperties,
    failureCode: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_]+$', examples: ['card_declined'] }),
    failureMessage: Type.String({ maxLength: 1000 }),
    attempt: Type.Integer({ minimum: 1, maximum: 100, description: 'Collection attempt for this billing period' }),
    nextRetryAt: Type.Optional(DateTime()),
    failedAt: DateTime(),
  },
  {
    description: 'A payment attempt failed.',
    examples: [
      {
        paymentId: EXAMPLE_PAYMENT_ID,
        subscriptionId: EXAMPLE_SUBSCRIPTION_ID,
        tenantId: 'acme-lending',
        amountCents: 19_900,
        currency: 'USD',
        gateway: 'stripe',
        gatewayReference: 'ch_3OqL2e2eZvKYlo2C1',
        billingPeriod: '2025-03',
        failureCode: 'card_declined',
        failureMessage: 'Your card was declined.',
        attempt: 1,
        nextRetryAt: '2025-03-17T09:27:10Z',
        failedAt: '2025-03-14T09:27:10Z',
      },
    ],
  },
);

export const UsagePeriodTotalsSchema = Obj(
  {
    usageCount: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    includedCount: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    overageCount: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    amountCents: Cents({ description: 'Overage billed so far in the period' }),
    aiCostCents: Cents({ description: 'AI provider cost so far in the period' }),
  },
  { description: 'Running totals of the billing period after this usage (the usage stream checkpoint)' },
);

export const BillingUsageRecordedV1 = Obj(
  {
    tenantId: TenantId,
    subscriptionId: SubscriptionId,
    scoringId: ScoringId,
    period: BillingPeriod,
    plan: PlanId,
    quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
    unitPriceCents: Cents({ description: '0 within the included scorings, the overage price beyond' }),
    amountCents: Cents({ description: 'quantity × unitPriceCents' }),
    billing: StringEnum(['included', 'overage']),
    aiCostCents: Cents({ maximum: 100_000 }),
    recordedAt: DateTime(),
    periodTotals: UsagePeriodTotalsSchema,
  },
  {
    description: "One scoring counted against a tenant's billing period. The event id derives from (tenantId, scoringId).",
    examples: [
      {
        tenantId: 'acme-lending',
        subscriptionId: EXAMPLE_SUBSCRIPTION_ID,
        scoringId: '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b',
        period: '2025-03',
        plan: 'pro',
        quantity: 1,
        unitPriceCents: 0,
        amountCents: 0,
        billing: 'included',
        aiCostCents: 42,
        recordedAt: '2025-03-14T09:30:00Z',
        periodTotals: { usageCount: 1, includedCount: 1, overageCount: 0, amountCents: 0, aiCostCents: 42 },
      },
    ],
  },
);
