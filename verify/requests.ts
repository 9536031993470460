/** Valid request bodies, varied so the model's result cache does not answer them all. */
import { randomUUID } from 'node:crypto';
import { EXAMPLE_SCORING_REQUEST, type ScoringRequest } from '../src/contracts/scoring-request.js';
import { randomInt } from './common.js';

/** A valid purchase request: 20 % down, loan = value − down, a random credit score and income. */
export function scoringBody(random: () => number): ScoringRequest {
  const propertyValue = randomInt(random, 200, 800) * 100_000;
  const downPayment = propertyValue / 5;
  return {
    ...EXAMPLE_SCORING_REQUEST,
    applicant: { ...EXAMPLE_SCORING_REQUEST.applicant },
    employment: { ...EXAMPLE_SCORING_REQUEST.employment },
    property: { ...EXAMPLE_SCORING_REQUEST.property },
    creditScore: randomInt(random, 580, 850),
    annualIncome: randomInt(random, 50, 400) * 100_000 + randomInt(random, 0, 99_999),
    propertyValue,
    downPayment,
    loanAmount: propertyValue - downPayment,
  };
}

export interface ActionBody {
  readonly action: string;
  readonly category: 'navigation' | 'scoring' | 'billing' | 'account' | 'other';
  readonly page?: string;
  readonly sessionId?: string;
}

export function actionBody(random: () => number): ActionBody {
  const actions = [
    { action: 'page_view', category: 'navigation' as const, page: `/scorings/${randomInt(random, 1, 9999)}` },
    { action: 'scoring.result_viewed', category: 'scoring' as const },
    { action: 'invoice.opened', category: 'billing' as const, sessionId: `s-${randomInt(random, 1, 1_000_000)}` },
  ];
  return actions[randomInt(random, 0, actions.length - 1)]!;
}

export interface PaymentWebhook {
  readonly gatewayEventId: string;
  readonly gateway: 'stripe';
  readonly outcome: 'succeeded';
  readonly paymentId: string;
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly amountCents: number;
  readonly currency: 'USD';
  readonly gatewayReference: string;
  readonly billingPeriod: string;
  readonly occurredAt: string;
}

/** A succeeded payment of the current billing period. */
export function paymentBody(random: () => number, tenantId: string, subscriptionId: string, paymentId: string = randomUUID()): PaymentWebhook {
  const now = new Date().toISOString();
  return {
    gatewayEventId: `evt_${randomUUID().replace(/-/g, '')}`,
    gateway: 'stripe',
    outcome: 'succeeded',
    paymentId,
    tenantId,
    subscriptionId,
    amountCents: randomInt(random, 100, 5_000),
    currency: 'USD',
    gatewayReference: `ch_${randomUUID().replace(/-/g, '').slice(0, 20)}`,
    billingPeriod: now.slice(0, 7),
    occurredAt: now,
  };
}
