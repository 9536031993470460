import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { usageEventId } from '../../src/aggregates/usage-period.js';
import { InvoiceListSchema, InvoiceSchema } from '../../src/contracts/api/read-models.js';
import type { PlanId } from '../../src/contracts/common.js';
import { isValid } from '../../src/contracts/validation.js';
import type { EngineDeps } from '../../src/engine/engine-deps.js';
import type { RecordedEvent } from '../../src/eventstore/port.js';
import { activeTables, applyEvents, decodeForProjection, projectionHandler, type Projection } from '../../src/projections/projection.js';
import { getInvoice, listInvoices, periodBounds, prorate, usageInvoicesProjection } from '../../src/projections/usage-invoices.js';
import { again, deliver, prng, recorded, snapshot, testDeps } from './support.js';

let deps: EngineDeps;
beforeEach(async () => {
  ({ deps } = await testDeps());
});
afterEach(async () => {
  await deps.store.close();
  deps.readDb.close();
});

const tenantId = 'acme-lending';
const subscriptionId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const createdAt = '2025-03-14T09:26:53Z';

function created(): RecordedEvent {
  return recorded(
    'billing.subscription.created',
    { subscriptionId, tenantId, plan: 'starter', monthlyPriceCents: 4_900, currency: 'USD', includedScorings: 50, currentPeriod: { start: createdAt, end: '2025-04-01T00:00:00.000Z' } },
    { tenantId, occurredAt: createdAt },
  );
}

/** A usage as the UsagePeriod aggregate prices it (n-th usage of the period, plan terms given). */
function usage(n: number, at: string, plan: PlanId, included: number, overagePrice: number): RecordedEvent {
  const scoringId = randomUUID();
  const isIncluded = n <= included;
  const unitPriceCents = isIncluded ? 0 : overagePrice;
  return recorded(
    'billing.usage.recorded',
    {
      tenantId,
      subscriptionId,
      scoringId,
      period: at.slice(0, 7),
      plan,
      quantity: 1,
      unitPriceCents,
      amountCents: unitPriceCents,
      billing: isIncluded ? 'included' : 'overage',
      aiCostCents: 40,
      recordedAt: at,
      periodTotals: { usageCount: n, includedCount: Math.min(n, included), overageCount: Math.max(0, n - included), amountCents: Math.max(0, n - included) * overagePrice, aiCostCents: 40 * n },
    },
    { tenantId, occurredAt: at, id: usageEventId(tenantId, scoringId), streamId: `usage-${tenantId}-${at.slice(0, 7)}` },
  );
}

function history(): RecordedEvent[] {
  const events: RecordedEvent[] = [created()];
  for (let n = 1; n <= 52; n++) events.push(usage(n, `2025-03-1${n % 5}T10:${String(n).padStart(2, '0')}:00Z`, 'starter', 50, 150));
  events.push(
    recorded(
      'billing.subscription.updated',
      { subscriptionId, tenantId, previousPlan: 'starter', plan: 'pro', change: 'upgrade', monthlyPriceCents: 19_900, includedScorings: 500, effectiveAt: '2025-03-20T00:00:00Z' },
      { tenantId, occurredAt: '2025-03-20T00:00:00Z' },
    ),
  );
  events.push(
    recorded(
      'billing.payment.succeeded',
      {
        paymentId: randomUUID(),
        subscriptionId,
        tenantId,
        amountCents: 4_900,
        currency: 'USD',
        gateway: 'stripe',
        gatewayReference: 'ch_1',
        billingPeriod: '2025-03',
        paidAt: '2025-03-21T00:00:00Z',
      },
      { tenantId, occurredAt: '2025-03-21T00:00:00Z' },
    ),
  );
  for (let n = 1; n <= 3; n++) events.push(usage(n, `2025-04-0${n}T08:00:00Z`, 'pro', 500, 100));
  return events;
}

describe('usage_invoices projection', () => {
  it('prices a period: prorated first fee, included and overage scorings, plan change credit and charge, payments', async () => {
    await deliver(projectionHandler(deps, usageInvoicesProjection), history());

    const march = periodBounds('2025-03');
    const month = march.end - march.start;
    const firstFee = prorate(4_900, march.end - Date.parse(createdAt), month);
    const left = march.end - Date.parse('2025-03-20T00:00:00Z');
    const credit = prorate(4_900, left, month);
    const charge = prorate(19_900, left, month);
    expect(firstFee).toBe(Math.round((4_900 * (march.end - Date.parse(createdAt))) / month));
    expect(credit).toBe(1_897); // 4900 × 12/31
    expect(charge).toBe(7_703); // 19900 × 12/31

    const invoice = getInvoice(deps.readDb, tenantId, subscriptionId, '2025-03');
    expect(isValid(InvoiceSchema, invoice)).toBe(true);
    expect(invoice?.lines).toEqual([
      { kind: 'plan_fee', description: 'Starter plan 2025-03-14 to 2025-04-01 (prorated)', plan: 'starter', quantity: 1, unitPriceCents: firstFee, amountCents: firstFee },
      { kind: 'included_usage', description: 'Scorings included in the Starter plan', plan: 'starter', quantity: 50, unitPriceCents: 0, amountCents: 0 },
      { kind: 'overage_usage', description: 'Overage scorings (Starter plan) at 150 cents', plan: 'starter', quantity: 2, unitPriceCents: 150, amountCents: 300 },
      { kind: 'plan_change_credit', description: 'Unused Starter plan time from 2025-03-20 (upgrade to Pro)', plan: 'starter', quantity: 1, unitPriceCents: -credit, amountCents: -credit },
      { kind: 'plan_change_charge', description: 'Pro plan from 2025-03-20 (prorated)', plan: 'pro', quantity: 1, unitPriceCents: charge, amountCents: charge },
    ]);
    const total = firstFee + 300 - credit + charge;
    expect(invoice).toMatchObject({
      period: '2025-03',
      plan: 'pro',
      subscriptionStatus: 'active',
      currency: 'USD',
      totalCents: total,
      paidCents: 4_900,
      balanceDueCents: total - 4_900,
      status: 'open',
      usage: { scorings: 52, included: 50, overage: 2 },
      aiCostCents: 52 * 40,
    });

    const april = getInvoice(deps.readDb, tenantId, subscriptionId, '2025-04');
    expect(april?.lines).toEqual([
      { kind: 'plan_fee', description: 'Pro plan 2025-04', plan: 'pro', quantity: 1, unitPriceCents: 19_900, amountCents: 19_900 },
      { kind: 'included_usage', description: 'Scorings included in the Pro plan', plan: 'pro', quantity: 3, unitPriceCents: 0, amountCents: 0 },
    ]);
    expect(april).toMatchObject({ totalCents: 19_900, paidCents: 0, status: 'open', usage: { scorings: 3, included: 3, overage: 0 } });

    const list = listInvoices(deps.readDb, tenantId);
    expect(isValid(InvoiceListSchema, list)).toBe(true);
    expect(list.invoices.map((i) => i.period)).toEqual(['2025-04', '2025-03']);
    expect(listInvoices(deps.readDb, tenantId, { period: '2025-03' }).invoices).toHaveLength(1);
  });

  it('is exact when every event is delivered twice (redelivery)', async () => {
    const events = history();
    const { deps: other } = await testDeps();
    try {
      await deliver(projectionHandler(other, usageInvoicesProjection), events, 1);
      await deliver(projectionHandler(deps, usageInvoicesProjection), events, 2);
      expect(snapshot(deps.readDb, usageInvoicesProjection)).toEqual(snapshot(other.readDb, usageInvoicesProjection));
      expect(getInvoice(deps.readDb, tenantId, subscriptionId, '2025-03')?.usage).toEqual({ scorings: 52, included: 50, overage: 2 });
    } finally {
      await other.store.close();
      other.readDb.close();
    }
  });

  it('counts a usage event stored twice with the same id (EventStoreDB duplicate) once', async () => {
    const events = history();
    const handler = projectionHandler(deps, usageInvoicesProjection);
    const withDuplicates = events.flatMap((event) => (event.type.startsWith('billing.usage.recorded') ? [event, again(event, true)] : [event]));
    await deliver(handler, withDuplicates);
    expect(getInvoice(deps.readDb, tenantId, subscriptionId, '2025-03')).toMatchObject({ usage: { scorings: 52, included: 50, overage: 2 }, aiCostCents: 52 * 40 });
    expect(getInvoice(deps.readDb, tenantId, subscriptionId, '2025-04')?.usage.scorings).toBe(3);
  });

  it('is tenant-scoped', async () => {
    await deliver(projectionHandler(deps, usageInvoicesProjection), history());
    expect(getInvoice(deps.readDb, 'beta-bank', subscriptionId, '2025-03')).toBeUndefined();
    expect(listInvoices(deps.readDb, 'beta-bank').invoices).toEqual([]);
  });

  it('cancellation: no credit, the subscription shows cancelled; later periods get no fee', async () => {
    const handler = projectionHandler(deps, usageInvoicesProjection);
    await deliver(handler, [
      created(),
      recorded('billing.subscription.cancelled', { subscriptionId, tenantId, plan: 'starter', reason: 'customer_request', cancelledAt: '2025-03-25T00:00:00Z' }, { tenantId, occurredAt: '2025-03-25T00:00:00Z' }),
      recorded(
        'billing.payment.succeeded',
        { paymentId: randomUUID(), subscriptionId, tenantId, amountCents: 100, currency: 'USD', gateway: 'stripe', gatewayReference: 'ch_2', billingPeriod: '2025-04', paidAt: '2025-04-02T00:00:00Z' },
        { tenantId, occurredAt: '2025-04-02T00:00:00Z' },
      ),
    ]);
    const march = getInvoice(deps.readDb, tenantId, subscriptionId, '2025-03');
    expect(march?.subscriptionStatus).toBe('cancelled');
    expect(march?.lines.map((l) => l.kind)).toEqual(['plan_fee']);
    const april = getInvoice(deps.readDb, tenantId, subscriptionId, '2025-04');
    expect(april).toMatchObject({ lines: [], totalCents: 0, paidCents: 100, balanceDueCents: -100, status: 'settled' });
  });

  it('applies a batch exactly as one event at a time, however the events are split (the rebuild path)', async () => {
    const payment = (outcome: 'succeeded' | 'failed', period: string, at: string, amountCents: number): RecordedEvent =>
      outcome === 'succeeded'
        ? recorded(
            'billing.payment.succeeded',
            { paymentId: randomUUID(), subscriptionId, tenantId, amountCents, currency: 'USD', gateway: 'stripe', gatewayReference: `ch_${at}`, billingPeriod: period, paidAt: at },
            { tenantId, occurredAt: at },
          )
        : recorded(
            'billing.payment.failed',
            {
              paymentId: randomUUID(),
              subscriptionId,
              tenantId,
              amountCents,
              currency: 'USD',
              gateway: 'stripe',
              gatewayReference: `ch_${at}`,
              billingPeriod: period,
              failureCode: 'card_declined',
              failureMessage: 'declined',
              attempt: 1,
              failedAt: at,
            },
            { tenantId, occurredAt: at },
          );
    // Every event type: payments before the subscription exists, a fee opening a later period,
    // past_due and back, a second plan change, cancellation, then usage and a payment in a period
    // that opens without a fee.
    const events: RecordedEvent[] = [
      payment('succeeded', '2025-03', '2025-03-10T00:00:00Z', 100),
      ...history(),
      payment('failed', '2025-04', '2025-04-05T00:00:00Z', 19_900),
      payment('succeeded', '2025-04', '2025-04-06T00:00:00Z', 19_900),
      recorded(
        'billing.subscription.updated',
        { subscriptionId, tenantId, previousPlan: 'pro', plan: 'starter', change: 'downgrade', monthlyPriceCents: 4_900, includedScorings: 50, effectiveAt: '2025-04-10T00:00:00Z' },
        { tenantId, occurredAt: '2025-04-10T00:00:00Z' },
      ),
      ...[4, 5, 6].map((n) => usage(n, `2025-04-1${n}T08:00:00Z`, 'starter', 50, 150)),
      payment('failed', '2025-05', '2025-05-02T00:00:00Z', 4_900),
      recorded('billing.subscription.cancelled', { subscriptionId, tenantId, plan: 'starter', reason: 'payment_failed', cancelledAt: '2025-05-03T00:00:00Z' }, { tenantId, occurredAt: '2025-05-03T00:00:00Z' }),
      usage(1, '2025-06-01T08:00:00Z', 'starter', 50, 150),
      payment('succeeded', '2025-06', '2025-06-02T00:00:00Z', 4_900),
    ];
    await deliver(projectionHandler(deps, usageInvoicesProjection), events);
    const live = snapshot(deps.readDb, usageInvoicesProjection);
    expect(live['lines']?.length).toBeGreaterThan(8);

    const decoded = events.map(decodeForProjection);
    const random = prng(42);
    for (let split = 0; split < 6; split++) {
      const projection: Projection = { ...usageInvoicesProjection, name: `split_${split}` };
      const tables = activeTables(deps.readDb, projection);
      for (let i = 0; i < decoded.length; ) {
        const size = split === 0 ? decoded.length : 1 + Math.floor(random() * 12);
        applyEvents(deps.readDb, projection, tables, decoded.slice(i, i + size));
        i += size;
      }
      expect(snapshot(deps.readDb, projection), projection.name).toEqual(live);
    }
  });
});
