/**
 * Every handler delivered twice: the handler function runs twice on the same RecordedEvent (what
 * a redelivery after a message timeout or a crash before the ack looks like) → one charge, one
 * e-mail, one notification event. No runner: the deliveries are explicit.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scoringStreamId, subscriptionStreamId } from '../../../src/aggregates/streams.js';
import { EXAMPLE_SCORING_REQUEST } from '../../../src/contracts/scoring-request.js';
import type { EventHandler } from '../../../src/engine/subscription-runner.js';
import type { RecordedEvent } from '../../../src/eventstore/port.js';
import { OutboxEmailTransport } from '../../../src/integrations/email/outbox.js';
import { SimulatedPaymentGateway } from '../../../src/integrations/payments/simulated.js';
import { createNotificationProcessManagers, type NotificationProcessManagers } from '../../../src/process-managers/index-notifications.js';
import { notificationIdFor, notificationStreamId } from '../../../src/process-managers/notifications.js';
import { appendEvent, commandContext, envelope, handlerContext, harness, ofType, OFFICER, readDecoded, readRecorded, type Harness , CountingTransport } from './support.js';


let h: Harness;
let transport: CountingTransport;
let gateway: SimulatedPaymentGateway;
let pm: NotificationProcessManagers;
let saga: EventHandler;
let notifications: EventHandler;

beforeEach(async () => {
  h = await harness();
  transport = new CountingTransport(new OutboxEmailTransport(h.deps.readDb));
  gateway = new SimulatedPaymentGateway();
  pm = createNotificationProcessManagers(h.deps, { email: transport, gateway, metricAlerts: { scorings_failed: { above: 10 } } });
  [saga, notifications] = pm.handlers as [EventHandler, EventHandler];
});
afterEach(async () => {
  await h.close();
});

async function twice(handler: EventHandler, event: RecordedEvent): Promise<void> {
  await handler.handle(event, handlerContext(handler.name));
  await handler.handle(event, { ...handlerContext(handler.name), retryCount: 1 });
}

describe('redelivery', () => {
  it('payment saga: subscription.created and payment.failed handled twice → one charge and one recorded outcome each', async () => {
    const tenantId = 'twice-lending';
    await h.deps.billing.create(commandContext(tenantId), 'pro', randomUUID());
    const [created] = await readRecorded(h, subscriptionStreamId(tenantId));
    await twice(saga, created as RecordedEvent);
    expect(gateway.charges).toHaveLength(1);
    expect(ofType(await readDecoded(h, subscriptionStreamId(tenantId)), 'billing.payment.succeeded')).toHaveLength(1);

    const declined = 'twice-declined';
    gateway.setOutcome(declined, 'decline');
    await h.deps.billing.create(commandContext(declined), 'pro', randomUUID());
    await twice(saga, (await readRecorded(h, subscriptionStreamId(declined)))[0] as RecordedEvent);
    const firstFailure = (await readRecorded(h, subscriptionStreamId(declined)))[1] as RecordedEvent;
    expect(firstFailure.type).toBe('billing.payment.failed.v1');
    await twice(saga, firstFailure);
    const failed = ofType(await readDecoded(h, subscriptionStreamId(declined)), 'billing.payment.failed');
    expect(failed.map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(gateway.chargesFor(failed[0]?.data.paymentId ?? '').map((c) => c.attempt)).toEqual([1, 2]);
  });

  it('notifications: every trigger handled twice → one e-mail and one notification event per notification', async () => {
    const tenantId = 'twice-lending';
    pm.contacts.setContactEmail(tenantId, 'officers@twice.example');
    // Billing events from the real decider.
    await h.deps.billing.create(commandContext(tenantId), 'pro', randomUUID());
    await twice(saga, (await readRecorded(h, subscriptionStreamId(tenantId)))[0] as RecordedEvent);
    await h.deps.billing.cancel(commandContext(tenantId), { reason: 'customer_request' });
    const billing = await readRecorded(h, subscriptionStreamId(tenantId)); // created, succeeded, cancelled
    const failing = 'twice-failing';
    gateway.setOutcome(failing, 'decline');
    await h.deps.billing.create(commandContext(failing), 'starter', randomUUID());
    await twice(saga, (await readRecorded(h, subscriptionStreamId(failing)))[0] as RecordedEvent);
    const failed = (await readRecorded(h, subscriptionStreamId(failing)))[1] as RecordedEvent;

    // AI and analytics events appended as their producers would.
    const scoringId = randomUUID();
    await appendEvent(h, scoringStreamId(scoringId), 'ai.scoring.requested', { scoringId, tenantId, attempt: 1, request: EXAMPLE_SCORING_REQUEST }, envelope(tenantId, OFFICER));
    const completed = await appendEvent(
      h,
      scoringStreamId(scoringId),
      'ai.scoring.completed',
      {
        scoringId,
        tenantId,
        attempt: 1,
        matchScore: 78,
        riskBand: 'moderate',
        eligibleProducts: [],
        reasons: [{ code: 'DTI_BELOW_36', detail: 'Debt-to-income ratio is 8.2%' }],
        costCents: 42,
        modelVersion: 'mmp-score-2025.03.1',
        explanation: 'Score 78/100, moderate risk.',
      },
      envelope(tenantId),
    );
    const cost = await appendEvent(
      h,
      `usage-${tenantId}-2025-03`,
      'ai.cost.threshold_exceeded',
      { tenantId, period: '2025-03', plan: 'pro', budgetCents: 200_00, spentCents: 200_10, thresholdPercent: 100, action: 'throttle' },
      envelope(tenantId),
    );
    const metric = await appendEvent(
      h,
      `analytics-${tenantId}`,
      'analytics.metric.updated',
      { tenantId, metric: 'scorings_failed', value: 11, previousValue: 10, unit: 'count', window: 'day', windowStart: '2025-03-14T00:00:00Z' },
      envelope(tenantId),
    );

    const triggers = [...billing, failed, completed, cost, metric];
    for (const event of triggers) await twice(notifications, event);

    const stream = await readDecoded(h, notificationStreamId(tenantId));
    const ids = stream.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    // created, succeeded, cancelled: 1 e-mail each; completed: e-mail + user; cost and metric: admin e-mail + admin.
    expect(stream).toHaveLength(3 + 2 + 2 + 2);
    const failingStream = await readDecoded(h, notificationStreamId(failing));
    // Only its payment.failed was handled: tenant e-mail + user + admin e-mail + admin.
    expect(failingStream.map((e) => e.type).sort()).toEqual(['notification.admin.sent', 'notification.email.sent', 'notification.email.sent', 'notification.user.sent']);

    const outbox = transport.outbox;
    expect(transport.sends).toBe(outbox.count());
    expect(outbox.count()).toBe(3 + 1 + 1 + 1 + 2); // tenant: 6 (incl. 2 admin e-mails); failing: tenant + admin
    for (const event of triggers) {
      const emailId = notificationIdFor(event.id, 'email');
      if (outbox.get(emailId)) expect(stream.concat(failingStream).filter((e) => e.id === emailId)).toHaveLength(1);
    }

    // The scoring e-mail goes to the tenant's contact, the user notification to the submitting officer.
    const scoringEmail = outbox.get(notificationIdFor(completed.id, 'email'));
    expect(scoringEmail?.to).toBe('officers@twice.example');
    expect(outbox.list().some((e) => e.to === EXAMPLE_SCORING_REQUEST.applicant.email)).toBe(false);
    const user = ofType(stream, 'notification.user.sent')[0];
    expect(user?.data).toMatchObject({ recipientUserId: OFFICER, template: 'scoring_completed', relatedEventId: completed.id, channel: 'in_app' });
    expect(ofType(stream, 'notification.admin.sent').map((e) => [e.data.template, e.data.severity])).toEqual([
      ['ai_cost_threshold', 'critical'],
      ['metric_threshold', 'warning'],
    ]);
  });

  it('a crash between the outbox send and the ledger write still stores the e-mail once (the outbox row is keyed by the notification id)', async () => {
    const tenantId = 'crashy-lending';
    await h.deps.billing.create(commandContext(tenantId), 'pro', randomUUID());
    const [created] = await readRecorded(h, subscriptionStreamId(tenantId));
    const id = notificationIdFor((created as RecordedEvent).id, 'email');
    // "Sent" before the crash: in the outbox, not in the ledger, no event.
    await transport.outbox.send({ to: `${tenantId}@tenants.mortgagematchpro.local`, subject: 'Welcome', text: 'x', idempotencyKey: id, tenantId });
    await twice(notifications, created as RecordedEvent);
    expect(transport.outbox.list({ tenantId })).toHaveLength(1);
    expect((await readDecoded(h, notificationStreamId(tenantId))).map((e) => e.id)).toEqual([id]);
  });

  it('metric updates alert only when they cross the threshold', async () => {
    const tenantId = 'metric-lending';
    const base = { tenantId, metric: 'scorings_failed', unit: 'count', window: 'day', windowStart: '2025-03-14T00:00:00Z' } as const;
    const below = await appendEvent(h, 'analytics-m', 'analytics.metric.updated', { ...base, value: 9, previousValue: 8 }, envelope(tenantId));
    const crossing = await appendEvent(h, 'analytics-m', 'analytics.metric.updated', { ...base, value: 12, previousValue: 9 }, envelope(tenantId));
    const stillAbove = await appendEvent(h, 'analytics-m', 'analytics.metric.updated', { ...base, value: 13, previousValue: 12 }, envelope(tenantId));
    const other = await appendEvent(h, 'analytics-m', 'analytics.metric.updated', { ...base, metric: 'revenue_cents', unit: 'cents', value: 1e9 }, envelope(tenantId));
    for (const event of [below, crossing, stillAbove, other]) await notifications.handle(event, handlerContext('notifications'));
    const admins = ofType(await readDecoded(h, notificationStreamId(tenantId)), 'notification.admin.sent');
    expect(admins.map((e) => e.data.relatedEventId)).toEqual([crossing.id]);
    expect(admins[0]?.data.message).toContain('above 10');
  });
});
