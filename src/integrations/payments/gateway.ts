/**
 * The payment gateway port used by the payment saga.
 *
 * Contract: charges are idempotent by `paymentId`. Once a paymentId succeeded, every later charge
 * of it (any attempt) answers that same success without moving money again; a charge repeated
 * with the same (paymentId, attempt) answers the first outcome of that attempt. A new attempt of
 * a failed payment is a new try. Declines are OUTCOMES (`{ outcome: 'failed' }`), not errors;
 * thrown errors are typed: PaymentGatewayUnavailableError (transient: network, 5xx, timeout)
 * and PaymentRequestRejectedError (business: the gateway refuses the request itself).
 */
import type { PAYMENT_GATEWAYS } from '../../contracts/events/billing.js';

export type PaymentGatewayName = (typeof PAYMENT_GATEWAYS)[number];

export interface ChargeRequest {
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly paymentId: string;
  readonly amountCents: number;
  readonly currency: string;
  /** YYYY-MM. */
  readonly billingPeriod: string;
  /** Collection attempt for this payment, from 1. */
  readonly attempt: number;
}

export type ChargeResult =
  | { readonly outcome: 'succeeded'; readonly gatewayReference: string }
  | { readonly outcome: 'failed'; readonly code: string; readonly message: string; readonly gatewayReference?: string };

export interface PaymentGateway {
  /** Recorded as `gateway` on billing.payment.* events (the contract's PAYMENT_GATEWAYS). */
  readonly name: PaymentGatewayName;
  charge(request: ChargeRequest): Promise<ChargeResult>;
}

/** billing.payment.failed's failureCode: lower-case snake, at most 64 characters. */
export function normaliseFailureCode(code: string): string {
  const normalised = code
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
  return normalised === '' ? 'payment_failed' : normalised;
}
