import { BusinessRuleError } from '../aggregates/errors.js';
import { subscriptionStreamId, usageStreamFor } from '../aggregates/streams.js';
import { subscriptionDecider, usageContextOf, type SubscriptionCommand, type SubscriptionEvent, type SubscriptionState } from '../aggregates/subscription.js';
import { usagePeriodDecider, type RecordUsage, type UsageEvent, type UsagePeriodState } from '../aggregates/usage-period.js';
import type { CancelSubscriptionBody, PaymentWebhookBody, SubscriptionView } from '../contracts/api/billing.js';
import type { PlanId } from '../contracts/common.js';
import { planTerms } from '../contracts/plans.js';
import { WrongExpectedVersionError } from '../eventstore/errors.js';
import type { AppendCondition } from '../eventstore/port.js';
import type { CommandHandler, CommandOutcome } from './command-handler.js';
import { ConcurrencyConflictError } from './command-handler.js';
import { envelopeOf, type Clock, type CommandContext } from './request-context.js';
import { newId } from '../contracts/ids.js';

export function subscriptionView(state: SubscriptionState): SubscriptionView | undefined {
  if (state.status === 'none') return undefined;
  const terms = planTerms(state.plan);
  return {
    subscriptionId: state.subscriptionId,
    tenantId: state.tenantId,
    plan: state.plan,
    status: state.status,
    monthlyPriceCents: terms.monthlyPriceCents,
    includedScorings: terms.includedScorings,
    currentPeriod: state.currentPeriod,
    ...(state.cancelledAt !== undefined ? { cancelledAt: state.cancelledAt } : {}),
  };
}

function isActive(state: SubscriptionState): boolean {
  return state.status === 'active' || state.status === 'past_due';
}

/** Subscriptions, payments and usage: the billing commands, each one decider on one stream. */
export class BillingService {
  constructor(
    private readonly commands: CommandHandler,
    private readonly clock: Clock,
  ) {}

  async state(tenantId: string): Promise<SubscriptionState> {
    return (await this.commands.load(subscriptionStreamId(tenantId), subscriptionDecider)).state;
  }

  async view(tenantId: string): Promise<SubscriptionView | undefined> {
    return subscriptionView(await this.state(tenantId));
  }

  /** Throws NO_ACTIVE_SUBSCRIPTION (422) unless the tenant's subscription is active or past due. */
  async requireActive(tenantId: string): Promise<SubscriptionState> {
    const state = await this.state(tenantId);
    if (!isActive(state)) throw new BusinessRuleError('NO_ACTIVE_SUBSCRIPTION', `Tenant ${tenantId} has no active subscription`);
    return state;
  }

  /**
   * requireActive for the admission of a command on another stream (a scoring), returning the
   * conditions for that command's append. The subscription stream is read on every request
   * otherwise, a SQLite read on the event loop for each scoring; on a store with conditional
   * appends an active state already cached answers instead, and the returned condition (the
   * subscription stream still at that state's revision) makes the scoring's append commit only
   * if the subscription did not change meanwhile, here or in another process: the admission is
   * then decided on the state at commit time, and when the condition fails the caller asks again
   * with `fresh`. A refusal is always decided on a fresh read.
   */
  async admit(tenantId: string, options: { readonly fresh: boolean }): Promise<readonly AppendCondition[]> {
    if (!options.fresh) {
      const stream = subscriptionStreamId(tenantId);
      const cached = this.commands.cachedState(stream, subscriptionDecider);
      if (cached !== undefined && isActive(cached.state)) return [{ stream, revision: cached.revision }];
    }
    await this.requireActive(tenantId);
    return [];
  }

  create(context: CommandContext, plan: PlanId, subscriptionId: string = newId()) {
    const at = this.clock().toISOString();
    return this.execute(context, { type: 'CreateSubscription', tenantId: context.tenantId, subscriptionId, plan, at }, at);
  }

  changePlan(context: CommandContext, plan: PlanId) {
    const at = this.clock().toISOString();
    return this.execute(context, { type: 'ChangePlan', tenantId: context.tenantId, plan, at }, at);
  }

  cancel(context: CommandContext, body: CancelSubscriptionBody) {
    const at = this.clock().toISOString();
    return this.execute(context, { type: 'CancelSubscription', tenantId: context.tenantId, reason: body.reason ?? 'customer_request', ...(body.comment !== undefined ? { comment: body.comment } : {}), at }, at);
  }

  recordPayment(context: CommandContext, body: PaymentWebhookBody) {
    const payment = {
      paymentId: body.paymentId,
      subscriptionId: body.subscriptionId,
      amountCents: body.amountCents,
      currency: body.currency,
      gateway: body.gateway,
      gatewayReference: body.gatewayReference,
      billingPeriod: body.billingPeriod,
    };
    const command: SubscriptionCommand =
      body.outcome === 'succeeded' || body.failure === undefined
        ? { type: 'RecordPaymentSucceeded', tenantId: context.tenantId, payment, paidAt: body.occurredAt }
        : { type: 'RecordPaymentFailed', tenantId: context.tenantId, payment, failure: body.failure, failedAt: body.occurredAt };
    return this.execute(context, command, body.occurredAt);
  }

  execute(context: CommandContext, command: SubscriptionCommand, at: string): Promise<CommandOutcome<SubscriptionEvent, SubscriptionState>> {
    return this.commands.execute(subscriptionStreamId(command.tenantId), subscriptionDecider, command, envelopeOf(context, at));
  }

  /**
   * Records the usage of one completed scoring, once. The usage event's id derives from the
   * scoring, so a redelivered completion re-appends the same id: the store acknowledges it without
   * writing, or (embedded store, after newer usages) refuses it with a conflict at an unchanged
   * revision, which means "already recorded".
   */
  async recordUsage(context: CommandContext, usage: Omit<RecordUsage, 'type' | 'subscription'>): Promise<CommandOutcome<UsageEvent, UsagePeriodState> | 'already_recorded'> {
    const subscription = usageContextOf(await this.state(usage.tenantId));
    const stream = usageStreamFor(usage);
    try {
      return await this.commands.execute(stream, usagePeriodDecider, { type: 'RecordUsage', ...usage, subscription }, envelopeOf(context, usage.recordedAt));
    } catch (error) {
      const conflict = error instanceof ConcurrencyConflictError ? error.cause : undefined;
      if (conflict instanceof WrongExpectedVersionError && conflict.actualVersion === conflict.expectedVersion) return 'already_recorded';
      throw error;
    }
  }
}
