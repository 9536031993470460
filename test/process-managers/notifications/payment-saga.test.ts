/**
 * The payment saga and the billing notifications end to end: real engine deps (in-memory embedded
 * store), a subscription runner with tiny retry delays, the simulated gateway and the outbox.
 */
import { firstPeriodFeeCents } from '../../../src/aggregates/pricing.js';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { subscriptionStreamId } from '../../../src/aggregates/streams.js';
import { billingPeriodOf } from '../../../src/contracts/common.js';
import { OutboxEmailTransport } from '../../../src/integrations/email/outbox.js';
import { SimulatedPaymentGateway } from '../../../src/integrations/payments/simulated.js';
import { createNotificationProcessManagers, type NotificationProcessManagerOptions } from '../../../src/process-managers/index-notifications.js';
import { notificationIdFor, notificationStreamId } from '../../../src/process-managers/notifications.js';
import { GATEWAY_UNAVAILABLE_CODE, paymentIdFor } from '../../../src/process-managers/payment-saga.js';
import { commandContext, harness, ofType, OFFICER, readDecoded, SETTINGS, startRunner, until, type Harness } from './support.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

async function setUp(extra: Partial<NotificationProcessManagerOptions> = {}) {
  h = await harness();
  const outbox = new OutboxEmailTransport(h.deps.readDb);
  const gateway = new SimulatedPaymentGateway();
  const pm = createNotificationProcessManagers(h.deps, { email: outbox, gateway, settings: SETTINGS, ...extra });
  const runner = await startRunner(h, pm.handlers, { onBusinessError: pm.onBusinessError });
  return { outbox, gateway, pm, runner };
}

function templates(outbox: OutboxEmailTransport, tenantId: string): string[] {
  return outbox
    .list({ tenantId })
    .map((email) => email.tags['template'] ?? '')
    .reverse();
}

describe('payment saga', () => {
  it('subscription created → charged once → payment succeeded → welcome and receipt e-mails to the tenant contact', async () => {
    const { outbox, gateway, pm, runner } = await setUp();
    const tenantId = 'acme-lending';
    pm.contacts.setContactEmail(tenantId, 'loans@acme.example');
    const subscriptionId = randomUUID();
    const created = await h.deps.billing.create(commandContext(tenantId), 'pro', subscriptionId);

    await until(runner, () => templates(outbox, tenantId).includes('payment_receipt') && templates(outbox, tenantId).includes('subscription_welcome'));

    const startedAt = created.events[0]?.type === 'billing.subscription.created' ? created.events[0].data.currentPeriod.start : '';
    const period = billingPeriodOf(startedAt);
    const paymentId = paymentIdFor(subscriptionId, period);
    // The first month is charged prorated from the start, as the invoice bills it.
    const firstFee = firstPeriodFeeCents(199_00, startedAt);
    expect(firstFee).toBeGreaterThan(0);
    expect(firstFee).toBeLessThanOrEqual(199_00);
    expect(gateway.charges).toEqual([{ tenantId, subscriptionId, paymentId, amountCents: firstFee, currency: 'USD', billingPeriod: period, attempt: 1 }]);

    const billing = await readDecoded(h, subscriptionStreamId(tenantId));
    const succeeded = ofType(billing, 'billing.payment.succeeded');
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]?.data).toMatchObject({ paymentId, gateway: 'stripe', amountCents: firstFee });
    // The saga's step is traced to the subscription it charged for.
    expect(succeeded[0]?.metadata).toMatchObject({ correlationId: billing[0]?.metadata.correlationId, causationId: created.eventIds[0], userId: OFFICER });
    expect((await h.deps.billing.state(tenantId)).status).toBe('active');

    const emails = outbox.list({ tenantId });
    expect(emails.map((e) => e.to)).toEqual(['loans@acme.example', 'loans@acme.example']);
    expect(templates(outbox, tenantId).sort()).toEqual(['payment_receipt', 'subscription_welcome']);
    const receipt = emails.find((e) => e.tags['template'] === 'payment_receipt');
    expect(receipt?.text).toContain(`${(firstFee / 100).toFixed(2)} USD`);
    expect(receipt?.id).toBe(notificationIdFor(succeeded[0]?.id ?? '', 'email'));

    const notifications = await readDecoded(h, notificationStreamId(tenantId));
    expect(notifications.map((e) => e.type)).toEqual(['notification.email.sent', 'notification.email.sent']);
    expect(notifications.map((e) => e.id).sort()).toEqual([notificationIdFor(created.eventIds[0] ?? '', 'email'), notificationIdFor(succeeded[0]?.id ?? '', 'email')].sort());
    expect(await h.deps.store.listParkedMessages({ kind: 'all' }, 'payment-saga')).toEqual([]);
    expect(await h.deps.store.listParkedMessages({ kind: 'all' }, 'notifications')).toEqual([]);
  });

  it('gateway declines three times → subscription cancelled (payment_failed) as compensation, retention e-mail, users and admins told', async () => {
    const { outbox, gateway, runner } = await setUp();
    const tenantId = 'declined-bank';
    gateway.setOutcome(tenantId, 'decline');
    const subscriptionId = randomUUID();
    await h.deps.billing.create(commandContext(tenantId), 'starter', subscriptionId);

    await until(runner, () => templates(outbox, tenantId).includes('subscription_retention'));

    const billing = await readDecoded(h, subscriptionStreamId(tenantId));
    const failed = ofType(billing, 'billing.payment.failed');
    expect(failed.map((e) => e.data.attempt)).toEqual([1, 2, 3]);
    expect(new Set(failed.map((e) => e.data.paymentId)).size).toBe(1);
    expect(failed.every((e) => e.data.failureCode === 'card_declined')).toBe(true);
    const cancelled = ofType(billing, 'billing.subscription.cancelled');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]?.data.reason).toBe('payment_failed');
    expect((await h.deps.billing.state(tenantId)).status).toBe('cancelled');
    expect(gateway.charges.map((c) => c.attempt)).toEqual([1, 2, 3]);

    const retention = outbox.list({ tenantId }).find((e) => e.tags['template'] === 'subscription_retention');
    expect(retention?.to).toBe('declined-bank@tenants.mortgagematchpro.local');
    expect(retention?.text).toContain('could not collect');

    const notifications = await readDecoded(h, notificationStreamId(tenantId));
    const admins = ofType(notifications, 'notification.admin.sent');
    expect(admins.map((e) => e.data.severity)).toEqual(['warning', 'warning', 'critical']);
    expect(admins.every((e) => e.data.template === 'payment_failed' && e.data.channel === 'email')).toBe(true);
    const users = ofType(notifications, 'notification.user.sent');
    expect(users).toHaveLength(3);
    expect(users.every((e) => e.data.recipientUserId === OFFICER && e.data.template === 'payment_failed')).toBe(true);
    // welcome + 3 × (tenant e-mail + admin e-mail) + retention
    expect(ofType(notifications, 'notification.email.sent')).toHaveLength(8);
    expect(outbox.list({ tenantId }).filter((e) => e.to === 'ops@mortgagematchpro.local')).toHaveLength(3);
  });

  it('gateway unavailable beyond the retries → failed attempts recorded as gateway_unavailable, the saga goes on to the compensation', async () => {
    const { gateway, runner } = await setUp({ paymentSaga: { maxGatewayCalls: 2 } });
    const tenantId = 'outage-bank';
    gateway.setOutcome(tenantId, 'unavailable');
    await h.deps.billing.create(commandContext(tenantId), 'starter', randomUUID());

    await until(runner, async () => (await h.deps.billing.state(tenantId)).status === 'cancelled');
    const failed = ofType(await readDecoded(h, subscriptionStreamId(tenantId)), 'billing.payment.failed');
    expect(failed.map((e) => [e.data.attempt, e.data.failureCode])).toEqual([
      [1, GATEWAY_UNAVAILABLE_CODE],
      [2, GATEWAY_UNAVAILABLE_CODE],
      [3, GATEWAY_UNAVAILABLE_CODE],
    ]);
    expect(gateway.charges).toEqual([]); // no money moved
    expect(gateway.calls).toBeGreaterThanOrEqual(3);
  });

  it("onGatewayUnavailable 'park': the message is parked, admins told; replaying it after the outage charges once", async () => {
    const { outbox, gateway, runner } = await setUp({ paymentSaga: { maxGatewayCalls: 2, onGatewayUnavailable: 'park' } });
    const tenantId = 'patient-bank';
    gateway.setOutcome(tenantId, 'unavailable');
    const created = await h.deps.billing.create(commandContext(tenantId), 'pro', randomUUID());
    const createdId = created.eventIds[0] ?? '';

    await until(runner, async () => (await h.deps.store.listParkedMessages({ kind: 'all' }, 'payment-saga')).length === 1);
    expect((await h.deps.billing.state(tenantId)).status).toBe('active');
    const alert = ofType(await readDecoded(h, notificationStreamId(tenantId)), 'notification.admin.sent');
    expect(alert.map((e) => [e.id, e.data.template, e.data.relatedEventId])).toEqual([[notificationIdFor(createdId, 'parked/payment-saga'), 'event_parked', createdId]]);
    expect(alert[0]?.data.message).toContain('PAYMENT_GATEWAY_UNAVAILABLE');
    expect(outbox.list().some((e) => e.to === 'ops@mortgagematchpro.local' && e.tags['template'] === 'event_parked')).toBe(true);

    gateway.setOutcome(tenantId, 'succeed');
    await h.deps.store.replayParkedMessages({ kind: 'all' }, 'payment-saga');
    await until(runner, async () => ofType(await readDecoded(h, subscriptionStreamId(tenantId)), 'billing.payment.succeeded').length === 1);
    expect(gateway.charges).toHaveLength(1);
  });
});
