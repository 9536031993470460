/** HTTP bodies of the subscription endpoints and the payment gateway webhook. */
import { Type, type Static } from 'typebox';
import { BillingPeriod, Cents, Currency, DateTime, Obj, PlanId, StringEnum, TenantId, type FieldError } from '../common.js';
import { GatewayReference, PAYMENT_GATEWAYS, PaymentId, SubscriptionId } from '../events/billing.js';

/** POST /subscriptions */
export const CreateSubscriptionBodySchema = Obj({ plan: PlanId }, { examples: [{ plan: 'pro' }] });
export type CreateSubscriptionBody = Static<typeof CreateSubscriptionBodySchema>;

/** PUT /subscription/plan */
export const ChangePlanBodySchema = Obj({ plan: PlanId }, { examples: [{ plan: 'enterprise' }] });
export type ChangePlanBody = Static<typeof ChangePlanBodySchema>;

/** POST /subscription/cancel (customers cannot claim fraud or payment failure). */
export const CancelSubscriptionBodySchema = Obj(
  {
    reason: Type.Optional(StringEnum(['customer_request', 'other'])),
    comment: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { examples: [{ reason: 'customer_request', comment: 'Switching vendor' }] },
);
export type CancelSubscriptionBody = Static<typeof CancelSubscriptionBodySchema>;

export const SUBSCRIPTION_STATUSES = ['active', 'past_due', 'cancelled'] as const;

export const SubscriptionViewSchema = Obj(
  {
    subscriptionId: SubscriptionId,
    tenantId: TenantId,
    plan: PlanId,
    status: StringEnum([...SUBSCRIPTION_STATUSES]),
    monthlyPriceCents: Cents(),
    includedScorings: Type.Integer({ minimum: 0 }),
    currentPeriod: Obj({ start: DateTime(), end: DateTime() }),
    cancelledAt: Type.Optional(DateTime()),
  },
  {
    examples: [
      {
        subscriptionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
        tenantId: 'acme-lending',
        plan: 'pro',
        status: 'active',
        monthlyPriceCents: 19_900,
        includedScorings: 500,
        currentPeriod: { start: '2025-03-14T09:26:53Z', end: '2025-04-01T00:00:00.000Z' },
      },
    ],
  },
);
export type SubscriptionView = Static<typeof SubscriptionViewSchema>;

/**
 * POST /webhooks/payments: the outcome of one charge, as relayed by the gateway adapter.
 * One object with an optional `failure` (not an anyOf of two bodies: Fastify's Ajv runs with
 * `removeAdditional`, which strips properties while trying anyOf branches). The rule "failure
 * is present iff outcome is failed" is in validatePaymentWebhookRules.
 */
export const PaymentWebhookBodySchema = Obj(
  {
    gatewayEventId: Type.String({ minLength: 1, maxLength: 255, description: "The gateway's id of this notification (dedupe key)" }),
    gateway: StringEnum([...PAYMENT_GATEWAYS]),
    outcome: StringEnum(['succeeded', 'failed']),
    paymentId: PaymentId,
    tenantId: TenantId,
    subscriptionId: SubscriptionId,
    amountCents: Cents({ minimum: 1 }),
    currency: Currency,
    gatewayReference: GatewayReference,
    billingPeriod: BillingPeriod,
    occurredAt: DateTime(),
    failure: Type.Optional(
      Obj({
        code: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_]+$' }),
        message: Type.String({ maxLength: 1000 }),
        attempt: Type.Integer({ minimum: 1, maximum: 100 }),
        nextRetryAt: Type.Optional(DateTime()),
      }),
    ),
  },
  {
    description: 'Payment outcome notification',
    examples: [
      {
        gatewayEventId: 'evt_1OqL2e2eZvKYlo2C',
        gateway: 'stripe',
        outcome: 'succeeded',
        paymentId: '9b2f4e1a-3c5d-4e6f-8a7b-1c2d3e4f5a6b',
        tenantId: 'acme-lending',
        subscriptionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
        amountCents: 19_900,
        currency: 'USD',
        gatewayReference: 'ch_3OqL2e2eZvKYlo2C1',
        billingPeriod: '2025-03',
        occurredAt: '2025-03-14T09:27:10Z',
      },
    ],
  },
);
export type PaymentWebhookBody = Static<typeof PaymentWebhookBodySchema>;

export function validatePaymentWebhookRules(body: PaymentWebhookBody): FieldError[] {
  if (body.outcome === 'failed' && body.failure === undefined) return [{ path: '/failure', message: 'is required when outcome is failed' }];
  if (body.outcome === 'succeeded' && body.failure !== undefined) return [{ path: '/failure', message: 'is not allowed when outcome is succeeded' }];
  return [];
}

export const WebhookAckSchema = Obj({ received: Type.Boolean() });
