/**
 * The payment saga (group 'payment-saga'): collects the money of a subscription's billing period.
 *
 *   billing.subscription.created ──charge attempt 1──► billing.payment.succeeded            (done)
 *                                                   └► billing.payment.failed { attempt: 1 }
 *   billing.payment.failed { attempt n < MAX } ──charge attempt n+1──► succeeded | failed { n+1 }
 *   billing.payment.failed { attempt MAX }: the subscription decider also emits
 *   billing.subscription.cancelled { reason: payment_failed } — the compensation step.
 *
 * Idempotency: the paymentId is deterministic from (subscriptionId, billingPeriod), the gateway
 * is idempotent by paymentId (a succeeded payment is never charged again; a repeated attempt
 * answers its first outcome), and the subscription decider records each outcome once (its event
 * ids derive from paymentId + outcome + attempt). Before charging, the saga reads the
 * subscription: a stale subscription, a cancelled one, an already paid paymentId or an attempt
 * already recorded means a redelivery or an overtaken step — nothing is charged.
 *
 * Gateway failures: declines are outcomes (recorded as failed attempts). Thrown errors go through
 * the 'payment-gateway' circuit breaker; a transient one (network, 5xx, timeout, breaker open) is
 * retried in process by the subscription runner. DECISION: when it is still transient on the
 * last gateway call the saga allows (`maxGatewayCalls`, default 4 = the first call plus the
 * spec's 3 retries), the attempt is RECORDED as failed with failureCode 'gateway_unavailable':
 * the subscription becomes past_due (visible, users and admins notified) and the saga moves on to
 * the next attempt instead of stalling in the dead-letter stream. Consequence: an outage longer
 * than MAX_PAYMENT_ATTEMPTS rounds of retries cancels the subscription (compensation) — money
 * never moves twice (idempotent charges) but a tenant may be cancelled for the gateway's fault.
 * Deployments preferring to stall can set `onGatewayUnavailable: 'park'`: the message is parked
 * with a BusinessError (admins told through onBusinessError) and "Replay Parked Messages"
 * resumes the saga once the gateway is back. Retrying attempts right away (no dunning delay, no
 * nextRetryAt) is a simplification: a real schedule needs a due-time scheduler.
 */
import { firstPeriodFeeCents } from '../aggregates/pricing.js';
import { BusinessRuleError } from '../aggregates/errors.js';
import { MAX_PAYMENT_ATTEMPTS, type PaymentDetails, type SubscriptionCommand } from '../aggregates/subscription.js';
import { billingPeriodOf } from '../contracts/common.js';
import type { DecodedEvent } from '../contracts/events/codec.js';
import { deterministicEventId } from '../contracts/ids.js';
import type { BreakerOptions } from '../engine/breakers.js';
import { decodeOrThrow, CorruptEventError } from '../engine/command-handler.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import { BusinessError, classify, describeError } from '../engine/failures.js';
import type { CommandContext } from '../engine/request-context.js';
import type { EventHandler, HandlerContext } from '../engine/subscription-runner.js';
import type { PersistentSubscriptionSettings, RecordedEvent } from '../eventstore/port.js';
import type { ChargeRequest, ChargeResult, PaymentGateway } from '../integrations/payments/gateway.js';

export const PAYMENT_SAGA_GROUP = 'payment-saga';
export const PAYMENT_GATEWAY_BREAKER = 'payment-gateway';
/** failureCode of an attempt recorded because the gateway stayed unreachable. */
export const GATEWAY_UNAVAILABLE_CODE = 'gateway_unavailable';
/** Namespace of saga payment ids, key `{subscriptionId}/{billingPeriod}` (fixed: never change it). */
export const PAYMENT_ID_NAMESPACE = 'b0172f24-40cd-4df6-903f-89e15985b078';

/** The one paymentId of a subscription's billing period: redeliveries and retries charge it, never a new one. */
export function paymentIdFor(subscriptionId: string, billingPeriod: string): string {
  return deterministicEventId(PAYMENT_ID_NAMESPACE, `${subscriptionId}/${billingPeriod}`);
}

export interface PaymentSagaOptions {
  readonly gateway: PaymentGateway;
  /** Gateway calls per triggering event before a transient failure counts as a failed attempt. Default 4. */
  readonly maxGatewayCalls?: number;
  /** 'record_failure' (default, see the header) or 'park'. */
  readonly onGatewayUnavailable?: 'record_failure' | 'park';
  /** Options of the 'payment-gateway' breaker. */
  readonly breaker?: BreakerOptions;
  /** Persistent subscription settings of the group (default: Pinned, so one tenant's events stay in order). */
  readonly settings?: Partial<PersistentSubscriptionSettings>;
}

/** Decider rule violations are business errors for the runner (park, admins told), not unknown (transient) ones. */
export function asClassifiedError(error: unknown): unknown {
  if (error instanceof BusinessRuleError) return new BusinessError(error.code, error.message, { cause: error });
  if (error instanceof CorruptEventError) return new BusinessError(error.code, error.message, { cause: error });
  return error;
}

/** decodeOrThrow with a corrupt event reported as a BusinessError. */
export function decodeForHandler(recorded: RecordedEvent): DecodedEvent {
  try {
    return decodeOrThrow(recorded);
  } catch (error) {
    throw asClassifiedError(error);
  }
}

/** The command context of a step caused by `event`: same correlation, causation = the event. */
export function contextOf(event: DecodedEvent, tenantId: string): CommandContext {
  return {
    tenantId,
    correlationId: event.metadata.correlationId,
    causationId: event.id,
    ...(event.metadata.userId !== undefined ? { userId: event.metadata.userId } : {}),
  };
}

export function createPaymentSaga(deps: EngineDeps, options: PaymentSagaOptions): EventHandler {
  const { gateway } = options;
  const maxGatewayCalls = options.maxGatewayCalls ?? 4;
  if (!Number.isSafeInteger(maxGatewayCalls) || maxGatewayCalls < 1) throw new RangeError('maxGatewayCalls must be a positive integer');
  const onUnavailable = options.onGatewayUnavailable ?? 'record_failure';
  const logger = deps.logger.child({ component: PAYMENT_SAGA_GROUP });
  const breaker = deps.breakers.create(PAYMENT_GATEWAY_BREAKER, (request: ChargeRequest) => gateway.charge(request), options.breaker);

  async function charge(request: ChargeRequest, context: HandlerContext): Promise<ChargeResult> {
    try {
      return await breaker.fire(request);
    } catch (error) {
      if (classify(error) !== 'transient') throw asClassifiedError(error);
      if (context.attempt + 1 < maxGatewayCalls) throw error;
      if (onUnavailable === 'park') {
        throw new BusinessError('PAYMENT_GATEWAY_UNAVAILABLE', `Payment gateway still unavailable after ${context.attempt + 1} calls: ${describeError(error)}`, { cause: error });
      }
      logger.warn({ paymentId: request.paymentId, attempt: request.attempt, err: error }, 'payment gateway stayed unavailable: recording a failed attempt');
      return { outcome: 'failed', code: GATEWAY_UNAVAILABLE_CODE, message: describeError(error).slice(0, 1000) };
    }
  }

  async function collect(event: DecodedEvent, request: ChargeRequest, context: HandlerContext): Promise<void> {
    const state = await deps.billing.state(request.tenantId);
    const recorded = state.status === 'none' ? [] : state.recordedPayments;
    const skip =
      state.status === 'none' || state.subscriptionId !== request.subscriptionId
        ? 'not the current subscription'
        : recorded.includes(`${request.paymentId}/succeeded`)
          ? 'already paid'
          : recorded.includes(`${request.paymentId}/failed/${request.attempt}`)
            ? 'attempt already recorded'
            : state.status === 'cancelled'
              ? 'subscription cancelled'
              : undefined;
    if (skip !== undefined) {
      logger.debug({ paymentId: request.paymentId, attempt: request.attempt, skip }, 'nothing to charge');
      return;
    }

    const result = await charge(request, context);
    const at = deps.clock().toISOString();
    const payment: PaymentDetails = {
      paymentId: request.paymentId,
      subscriptionId: request.subscriptionId,
      amountCents: request.amountCents,
      currency: request.currency,
      gateway: gateway.name,
      gatewayReference: result.gatewayReference ?? `none:${request.paymentId}:${request.attempt}`,
      billingPeriod: request.billingPeriod,
    };
    const command: SubscriptionCommand =
      result.outcome === 'succeeded'
        ? { type: 'RecordPaymentSucceeded', tenantId: request.tenantId, payment, paidAt: at }
        : {
            type: 'RecordPaymentFailed',
            tenantId: request.tenantId,
            payment,
            failure: { code: result.code, message: result.message.slice(0, 1000), attempt: request.attempt },
            failedAt: at,
          };
    try {
      await deps.billing.execute(contextOf(event, request.tenantId), command, at);
    } catch (error) {
      // A webhook recorded the success meanwhile: the failure no longer matters.
      if (error instanceof BusinessRuleError && error.code === 'PAYMENT_ALREADY_SUCCEEDED') return;
      throw asClassifiedError(error);
    }
    logger.info({ paymentId: request.paymentId, attempt: request.attempt, outcome: result.outcome }, 'payment attempt recorded');
  }

  return {
    name: PAYMENT_SAGA_GROUP,
    source: { kind: 'all', filter: { on: 'eventType', prefixes: ['billing.subscription.created.', 'billing.payment.failed.'] } },
    settings: { consumerStrategyName: 'Pinned', ...options.settings },
    // The gateway calls, plus two more runs in which only recording the outcome may still fail.
    retryPolicy: { maxRetries: maxGatewayCalls + 1 },
    async handle(recorded, context) {
      const event = decodeForHandler(recorded);
      if (event.type === 'billing.subscription.created') {
        const { tenantId, subscriptionId, monthlyPriceCents, currency, currentPeriod } = event.data;
        if (monthlyPriceCents < 1) return;
        const billingPeriod = billingPeriodOf(currentPeriod.start);
        // The first month is charged prorated, exactly as the invoice bills it.
        const amountCents = firstPeriodFeeCents(monthlyPriceCents, currentPeriod.start);
        if (amountCents < 1) return;
        await collect(event, { tenantId, subscriptionId, paymentId: paymentIdFor(subscriptionId, billingPeriod), amountCents, currency, billingPeriod, attempt: 1 }, context);
        return;
      }
      if (event.type === 'billing.payment.failed') {
        const { tenantId, subscriptionId, paymentId, amountCents, currency, billingPeriod, attempt } = event.data;
        if (attempt >= MAX_PAYMENT_ATTEMPTS) return; // the decider cancelled the subscription (compensation)
        await collect(event, { tenantId, subscriptionId, paymentId, amountCents, currency, billingPeriod, attempt: attempt + 1 }, context);
      }
    },
  };
}
