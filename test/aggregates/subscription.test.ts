import { describe, expect, it } from 'vitest';
import { fold } from '../../src/aggregates/decider.js';
import { subscriptionStreamId } from '../../src/aggregates/streams.js';
import {
  MAX_PAYMENT_ATTEMPTS,
  subscriptionDecider as decider,
  usageContextOf,
  type PaymentDetails,
  type SubscriptionCommand,
  type SubscriptionEvent,
} from '../../src/aggregates/subscription.js';
import { ID_NAMESPACES, deterministicEventId } from '../../src/contracts/ids.js';
import { PLANS } from '../../src/contracts/plans.js';
import { given } from './given-when-then.js';

const tenantId = 'acme-lending';
const subscriptionId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const secondId = '8d0f7780-8536-41ef-a55c-f18ad2a01bf8';
const at = '2025-03-14T09:26:53Z';
const later = '2025-03-20T10:00:00Z';
const paymentId = '9b2f4e1a-3c5d-4e6f-8a7b-1c2d3e4f5a6b';

const payment: PaymentDetails = {
  paymentId,
  subscriptionId,
  amountCents: 19_900,
  currency: 'USD',
  gateway: 'stripe',
  gatewayReference: 'ch_3OqL2e2eZvKYlo2C1',
  billingPeriod: '2025-03',
};

const cmd = {
  create: (plan: 'starter' | 'pro' | 'enterprise' = 'pro', id = subscriptionId): SubscriptionCommand => ({ type: 'CreateSubscription', tenantId, subscriptionId: id, plan, at }),
  change: (plan: 'starter' | 'pro' | 'enterprise'): SubscriptionCommand => ({ type: 'ChangePlan', tenantId, plan, at: later }),
  cancel: { type: 'CancelSubscription', tenantId, reason: 'customer_request', comment: 'Switching vendor', at: later } as SubscriptionCommand,
  paid: (p: PaymentDetails = payment): SubscriptionCommand => ({ type: 'RecordPaymentSucceeded', tenantId, payment: p, paidAt: later }),
  failed: (attempt = 1, p: PaymentDetails = payment): SubscriptionCommand => ({
    type: 'RecordPaymentFailed',
    tenantId,
    payment: p,
    failure: { code: 'card_declined', message: 'Your card was declined.', attempt, nextRetryAt: '2025-03-23T10:00:00Z' },
    failedAt: later,
  }),
};

const ev = {
  created: (plan: 'starter' | 'pro' | 'enterprise' = 'pro', id = subscriptionId): SubscriptionEvent => ({
    type: 'billing.subscription.created',
    data: {
      subscriptionId: id,
      tenantId,
      plan,
      monthlyPriceCents: PLANS[plan].monthlyPriceCents,
      currency: 'USD',
      includedScorings: PLANS[plan].includedScorings,
      currentPeriod: { start: at, end: '2025-04-01T00:00:00.000Z' },
    },
  }),
  updated: (previousPlan: 'starter' | 'pro' | 'enterprise', plan: 'starter' | 'pro' | 'enterprise', change: 'upgrade' | 'downgrade'): SubscriptionEvent => ({
    type: 'billing.subscription.updated',
    data: {
      subscriptionId,
      tenantId,
      previousPlan,
      plan,
      change,
      monthlyPriceCents: PLANS[plan].monthlyPriceCents,
      includedScorings: PLANS[plan].includedScorings,
      effectiveAt: later,
    },
  }),
  cancelled: (reason: 'customer_request' | 'payment_failed' = 'customer_request', comment = 'Switching vendor', plan: 'starter' | 'pro' | 'enterprise' = 'pro'): SubscriptionEvent => ({
    type: 'billing.subscription.cancelled',
    data: { subscriptionId, tenantId, plan, reason, comment, cancelledAt: later },
  }),
  paid: (p: PaymentDetails = payment): SubscriptionEvent => ({ type: 'billing.payment.succeeded', data: { ...p, tenantId, paidAt: later } }),
  failed: (attempt = 1, p: PaymentDetails = payment): SubscriptionEvent => ({
    type: 'billing.payment.failed',
    data: {
      ...p,
      tenantId,
      failureCode: 'card_declined',
      failureMessage: 'Your card was declined.',
      attempt,
      nextRetryAt: '2025-03-23T10:00:00Z',
      failedAt: later,
    },
  }),
};

describe('Subscription: create', () => {
  it('creates with the plan terms snapshot and a first period up to the next UTC month', () => {
    given(decider, []).when(cmd.create('pro')).then([ev.created('pro')]);
    given(decider, []).when(cmd.create('starter')).then([ev.created('starter')]);
  });

  it('one active subscription per tenant: create on an active or past-due one is a rule error', () => {
    given(decider, [ev.created('pro')]).when(cmd.create('enterprise', secondId)).thenThrows('SUBSCRIPTION_ALREADY_ACTIVE');
    given(decider, [ev.created('pro'), ev.failed(1)]).when(cmd.create('pro', secondId)).thenThrows('SUBSCRIPTION_ALREADY_ACTIVE');
    given(decider, [ev.created('pro')]).when(cmd.create('starter')).thenThrows('SUBSCRIPTION_ALREADY_ACTIVE');
  });

  it('the same create again is idempotent', () => {
    given(decider, [ev.created('pro')]).when(cmd.create('pro')).then([]);
  });

  it('a new subscription may be created after cancellation, with a new id', () => {
    given(decider, [ev.created('pro'), ev.cancelled()]).when(cmd.create('starter', secondId)).then([ev.created('starter', secondId)]);
    given(decider, [ev.created('pro'), ev.cancelled()]).when(cmd.create('pro')).thenThrows('SUBSCRIPTION_ID_REUSED');
  });

  it('the stream is per tenant', () => {
    expect(subscriptionStreamId(tenantId)).toBe('subscription-acme-lending');
  });
});

describe('Subscription: change plan', () => {
  it('upgrades and downgrades by plan rank', () => {
    given(decider, [ev.created('pro')]).when(cmd.change('enterprise')).then([ev.updated('pro', 'enterprise', 'upgrade')]);
    given(decider, [ev.created('pro')]).when(cmd.change('starter')).then([ev.updated('pro', 'starter', 'downgrade')]);
    given(decider, [ev.created('pro'), ev.updated('pro', 'starter', 'downgrade')]).when(cmd.change('pro')).then([ev.updated('starter', 'pro', 'upgrade')]);
  });

  it('is allowed while past due', () => {
    given(decider, [ev.created('pro'), ev.failed(1)]).when(cmd.change('starter')).then([ev.updated('pro', 'starter', 'downgrade')]);
  });

  it('changing to the same plan is a rule error', () => {
    given(decider, [ev.created('pro')]).when(cmd.change('pro')).thenThrows('SAME_PLAN');
    given(decider, [ev.created('pro'), ev.updated('pro', 'enterprise', 'upgrade')]).when(cmd.change('enterprise')).thenThrows('SAME_PLAN');
  });

  it('no plan change on a cancelled or missing subscription', () => {
    given(decider, [ev.created('pro'), ev.cancelled()]).when(cmd.change('enterprise')).thenThrows('SUBSCRIPTION_CANCELLED');
    given(decider, []).when(cmd.change('enterprise')).thenThrows('SUBSCRIPTION_NOT_FOUND');
  });

  it("another tenant's command is refused", () => {
    given(decider, [ev.created('pro')]).when({ type: 'ChangePlan', tenantId: 'other', plan: 'starter', at: later }).thenThrows('TENANT_MISMATCH');
  });
});

describe('Subscription: cancel', () => {
  it('cancels with reason and optional comment', () => {
    given(decider, [ev.created('pro')]).when(cmd.cancel).then([ev.cancelled()]);
    given(decider, [ev.created('pro')])
      .when({ type: 'CancelSubscription', tenantId, reason: 'other', at: later })
      .then([{ type: 'billing.subscription.cancelled', data: { subscriptionId, tenantId, plan: 'pro', reason: 'other', cancelledAt: later } }]);
  });

  it('cancelling twice, or nothing, is a rule error', () => {
    given(decider, [ev.created('pro'), ev.cancelled()]).when(cmd.cancel).thenThrows('SUBSCRIPTION_ALREADY_CANCELLED');
    given(decider, []).when(cmd.cancel).thenThrows('SUBSCRIPTION_NOT_FOUND');
  });
});

describe('Subscription: payments', () => {
  it('records a successful payment; past due becomes active again', () => {
    given(decider, [ev.created('pro')]).when(cmd.paid()).then([ev.paid()]);
    const recovered = fold(decider, [ev.created('pro'), ev.failed(1, { ...payment, paymentId: secondId }), ev.paid()]);
    expect(recovered.status).toBe('active');
  });

  it('records a failed payment; the subscription becomes past due', () => {
    given(decider, [ev.created('pro')]).when(cmd.failed(1)).then([ev.failed(1)]);
    expect(fold(decider, [ev.created('pro'), ev.failed(1)]).status).toBe('past_due');
  });

  it(`the failure of attempt ${MAX_PAYMENT_ATTEMPTS} cancels the subscription (saga compensation)`, () => {
    expect(MAX_PAYMENT_ATTEMPTS).toBe(3);
    given(decider, [ev.created('pro'), ev.failed(1), ev.failed(2)])
      .when(cmd.failed(3))
      .then([ev.failed(3), ev.cancelled('payment_failed', `Payment ${paymentId} failed 3 times`)]);
    expect(fold(decider, [ev.created('pro'), ev.failed(1), ev.failed(2), ev.failed(3), ev.cancelled('payment_failed', 'x')]).status).toBe('cancelled');
  });

  it('payments are still recorded after cancellation, without a second cancellation', () => {
    given(decider, [ev.created('pro'), ev.cancelled()]).when(cmd.paid()).then([ev.paid()]);
    given(decider, [ev.created('pro'), ev.cancelled()]).when(cmd.failed(3)).then([ev.failed(3)]);
    expect(fold(decider, [ev.created('pro'), ev.cancelled(), ev.paid()]).status).toBe('cancelled');
  });

  it('a redelivered outcome is idempotent', () => {
    given(decider, [ev.created('pro'), ev.paid()]).when(cmd.paid()).then([]);
    given(decider, [ev.created('pro'), ev.failed(1)]).when(cmd.failed(1)).then([]);
    given(decider, [ev.created('pro'), ev.paid(), ev.paid({ ...payment, paymentId: secondId })]).when(cmd.paid()).then([]);
  });

  it('a later attempt of a failed payment is recorded; a success after failures too', () => {
    given(decider, [ev.created('pro'), ev.failed(1)]).when(cmd.failed(2)).then([ev.failed(2)]);
    given(decider, [ev.created('pro'), ev.failed(1)]).when(cmd.paid()).then([ev.paid()]);
  });

  it('a failure reported after the payment succeeded is a rule error', () => {
    given(decider, [ev.created('pro'), ev.paid()]).when(cmd.failed(1)).thenThrows('PAYMENT_ALREADY_SUCCEEDED');
  });

  it('payments must be for the current subscription, in the plan currency', () => {
    given(decider, [ev.created('pro')]).when(cmd.paid({ ...payment, subscriptionId: secondId })).thenThrows('SUBSCRIPTION_MISMATCH');
    given(decider, [ev.created('pro')]).when(cmd.failed(1, { ...payment, subscriptionId: secondId })).thenThrows('SUBSCRIPTION_MISMATCH');
    given(decider, [ev.created('pro')]).when(cmd.paid({ ...payment, currency: 'EUR' })).thenThrows('CURRENCY_MISMATCH');
    given(decider, []).when(cmd.paid()).thenThrows('SUBSCRIPTION_NOT_FOUND');
    given(decider, []).when(cmd.failed(1)).thenThrows('SUBSCRIPTION_NOT_FOUND');
  });

  it('payment events get deterministic ids (webhook redelivery collapses in the store)', () => {
    const eventId = decider.eventId;
    if (eventId === undefined) throw new Error('eventId expected');
    expect(eventId(ev.paid())).toBe(deterministicEventId(ID_NAMESPACES.payment, `${paymentId}/succeeded`));
    expect(eventId(ev.failed(2))).toBe(deterministicEventId(ID_NAMESPACES.payment, `${paymentId}/failed/2`));
    expect(eventId(ev.failed(1))).not.toBe(eventId(ev.failed(2)));
    expect(eventId(ev.created())).toBeUndefined();
  });
});

describe('Subscription: usage context and evolve', () => {
  it('exposes what usage recording needs', () => {
    expect(usageContextOf(decider.initialState)).toEqual({ status: 'none' });
    expect(usageContextOf(fold(decider, [ev.created('pro')]))).toEqual({ status: 'active', subscriptionId, plan: 'pro' });
    expect(usageContextOf(fold(decider, [ev.created('pro'), ev.updated('pro', 'enterprise', 'upgrade'), ev.failed(1)]))).toEqual({
      status: 'past_due',
      subscriptionId,
      plan: 'enterprise',
    });
    expect(usageContextOf(fold(decider, [ev.created('pro'), ev.cancelled()])).status).toBe('cancelled');
  });

  it('ignores events without a subscription (corrupt history) instead of crashing', () => {
    expect(fold(decider, [ev.updated('pro', 'starter', 'downgrade'), ev.cancelled(), ev.paid(), ev.failed(1)])).toEqual({ status: 'none' });
  });

  it('rejects an unknown command kind from untyped callers', () => {
    expect(() => decider.decide({ type: 'Explode' } as unknown as SubscriptionCommand, decider.initialState)).toThrow(TypeError);
  });
});
