import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fold, stateFromNewestFirst } from '../../src/aggregates/decider.js';
import { usagePeriodStreamId, usageStreamFor } from '../../src/aggregates/streams.js';
import type { UsageSubscriptionContext } from '../../src/aggregates/subscription.js';
import { usageEventId, usagePeriodDecider as decider, type RecordUsage, type UsageEvent, type UsagePeriodState } from '../../src/aggregates/usage-period.js';
import type { PlanId } from '../../src/contracts/common.js';
import { ID_NAMESPACES, deterministicEventId } from '../../src/contracts/ids.js';
import { PLANS } from '../../src/contracts/plans.js';
import { given } from './given-when-then.js';

const tenantId = 'acme-lending';
const subscriptionId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const recordedAt = '2025-03-14T09:30:00Z';
const active = (plan: PlanId = 'starter'): UsageSubscriptionContext => ({ status: 'active', subscriptionId, plan });

function scoringId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

function record(n: number, options: { plan?: PlanId; aiCostCents?: number; subscription?: UsageSubscriptionContext; at?: string } = {}): RecordUsage {
  return {
    type: 'RecordUsage',
    tenantId,
    scoringId: scoringId(n),
    aiCostCents: options.aiCostCents ?? 10,
    recordedAt: options.at ?? recordedAt,
    subscription: options.subscription ?? active(options.plan),
  };
}

/** Replays commands through the decider, as a handler would: the history of events. */
function history(commands: readonly RecordUsage[]): UsageEvent[] {
  const events: UsageEvent[] = [];
  let state = decider.initialState;
  for (const command of commands) {
    const decided = decider.decide(command, state);
    events.push(...decided);
    state = fold(decider, decided, state);
  }
  return events;
}

function usages(count: number, options: Parameters<typeof record>[1] = {}): RecordUsage[] {
  return Array.from({ length: count }, (_, i) => record(i + 1, options));
}

describe('UsagePeriod: pricing', () => {
  it('the first usage is included, with the period totals after it', () => {
    given(decider, [])
      .when(record(1))
      .then([
        {
          type: 'billing.usage.recorded',
          data: {
            tenantId,
            subscriptionId,
            scoringId: scoringId(1),
            period: '2025-03',
            plan: 'starter',
            quantity: 1,
            unitPriceCents: 0,
            amountCents: 0,
            billing: 'included',
            aiCostCents: 10,
            recordedAt,
            periodTotals: { usageCount: 1, includedCount: 1, overageCount: 0, amountCents: 0, aiCostCents: 10 },
          },
        },
      ]);
  });

  it(`usage beyond the plan's included scorings is overage at the plan's price`, () => {
    const included = PLANS.starter.includedScorings;
    const past = history(usages(included, { aiCostCents: 0 }));
    const [event] = given(decider, past).when(record(included + 1, { aiCostCents: 0 })).then([
      {
        type: 'billing.usage.recorded',
        data: {
          tenantId,
          subscriptionId,
          scoringId: scoringId(included + 1),
          period: '2025-03',
          plan: 'starter',
          quantity: 1,
          unitPriceCents: PLANS.starter.overagePriceCents,
          amountCents: PLANS.starter.overagePriceCents,
          billing: 'overage',
          aiCostCents: 0,
          recordedAt,
          periodTotals: { usageCount: included + 1, includedCount: included, overageCount: 1, amountCents: PLANS.starter.overagePriceCents, aiCostCents: 0 },
        },
      },
    ]);
    expect(event?.type).toBe('billing.usage.recorded');
    // The last included one:
    const before = history(usages(included - 1, { aiCostCents: 0 }));
    const [last] = decider.decide(record(included, { aiCostCents: 0 }), fold(decider, before));
    expect(last?.type === 'billing.usage.recorded' && last.data.billing).toBe('included');
  });

  it('an upgrade mid-period gives room again; a downgrade prices at the new plan', () => {
    const full = history(usages(PLANS.starter.includedScorings, { aiCostCents: 0 }));
    const [upgraded] = decider.decide(record(1000, { plan: 'pro', aiCostCents: 0 }), fold(decider, full));
    expect(upgraded?.type === 'billing.usage.recorded' && [upgraded.data.billing, upgraded.data.plan]).toEqual(['included', 'pro']);
    const fiftyOnPro = history(usages(60, { plan: 'pro', aiCostCents: 0 }));
    const [downgraded] = decider.decide(record(1000, { plan: 'starter', aiCostCents: 0 }), fold(decider, fiftyOnPro));
    expect(downgraded?.type === 'billing.usage.recorded' && [downgraded.data.billing, downgraded.data.unitPriceCents]).toEqual(['overage', PLANS.starter.overagePriceCents]);
  });

  it('usage is allowed while the subscription is past due', () => {
    given(decider, [])
      .when(record(1, { subscription: { status: 'past_due', subscriptionId, plan: 'pro' } }))
      .then([expect.objectContaining({ type: 'billing.usage.recorded', data: expect.objectContaining({ plan: 'pro', billing: 'included' }) }) as UsageEvent]);
  });
});

describe('UsagePeriod: rules', () => {
  it('no usage on a cancelled subscription, nor without one', () => {
    given(decider, []).when(record(1, { subscription: { status: 'cancelled', subscriptionId, plan: 'pro' } })).thenThrows('SUBSCRIPTION_CANCELLED');
    given(decider, []).when(record(1, { subscription: { status: 'none' } })).thenThrows('SUBSCRIPTION_NOT_FOUND');
  });

  it('usage recorded once per scoring id: the immediate second record emits nothing', () => {
    given(decider, history([record(1)])).when(record(1)).then([]);
    given(decider, history([record(1), record(2)])).when(record(2)).then([]);
  });

  it('a re-decided duplicate carries the same deterministic event id, so the store / projections dedupe it', () => {
    const first = history([record(1)]);
    const again = decider.decide(record(1), fold(decider, history([record(1), record(2)])));
    expect(again).toHaveLength(1);
    const eventId = decider.eventId;
    if (eventId === undefined || first[0] === undefined || again[0] === undefined) throw new Error('setup');
    expect(eventId(again[0])).toBe(eventId(first[0]));
    expect(eventId(first[0])).toBe(usageEventId(tenantId, scoringId(1)));
    expect(usageEventId(tenantId, scoringId(1))).toBe(deterministicEventId(ID_NAMESPACES.usage, `${tenantId}/${scoringId(1)}`));
    expect(usageEventId('other-tenant', scoringId(1))).not.toBe(usageEventId(tenantId, scoringId(1)));
  });

  it('a usage outside the stream period is refused', () => {
    given(decider, history([record(1)])).when(record(2, { at: '2025-04-01T00:00:00Z' })).thenThrows('USAGE_PERIOD_MISMATCH');
    given(decider, history([record(1)]))
      .when(record(2, { at: '2025-03-31T23:59:59Z' }))
      .then([expect.objectContaining({ type: 'billing.usage.recorded', data: expect.objectContaining({ period: '2025-03' }) }) as UsageEvent]);
  });

  it("another tenant's usage is refused", () => {
    given(decider, history([record(1)])).when({ ...record(2), tenantId: 'other-tenant' }).thenThrows('TENANT_MISMATCH');
  });

  it('the stream is per tenant and UTC month of the usage', () => {
    expect(usagePeriodStreamId(tenantId, '2025-03')).toBe('usage-acme-lending-2025-03');
    expect(usageStreamFor(record(1, { at: '2025-02-28T23:30:00-05:00' }))).toBe('usage-acme-lending-2025-03');
  });
});

describe('UsagePeriod: AI cost budget', () => {
  const budget = PLANS.starter.monthlyAiBudgetCents; // 2,500
  const threshold = (thresholdPercent: 80 | 100, spentCents: number, n: number): UsageEvent => ({
    type: 'ai.cost.threshold_exceeded',
    data: {
      tenantId,
      period: '2025-03',
      plan: 'starter',
      budgetCents: budget,
      spentCents,
      thresholdPercent,
      action: thresholdPercent === 100 ? 'throttle' : 'alert',
      scoringId: scoringId(n),
    },
  });

  it('crossing 80% alerts, once', () => {
    const past = history([record(1, { aiCostCents: 1_999 })]);
    const events = given(decider, past).when(record(2, { aiCostCents: 1 })).then([expect.objectContaining({ type: 'billing.usage.recorded' }) as UsageEvent, threshold(80, 2_000, 2)]);
    expect(events).toHaveLength(2);
    given(decider, [...past, ...events]).when(record(3, { aiCostCents: 1 })).then([expect.objectContaining({ type: 'billing.usage.recorded' }) as UsageEvent]);
  });

  it('crossing 100% throttles; jumping over both emits both', () => {
    const past = history([record(1, { aiCostCents: 2_400 })]);
    given(decider, past).when(record(2, { aiCostCents: 100 })).then([expect.objectContaining({ type: 'billing.usage.recorded' }) as UsageEvent, threshold(100, 2_500, 2)]);
    given(decider, []).when(record(1, { aiCostCents: 3_000 })).then([expect.objectContaining({ type: 'billing.usage.recorded' }) as UsageEvent, threshold(80, 3_000, 1), threshold(100, 3_000, 1)]);
  });

  it('threshold events get deterministic ids too', () => {
    const eventId = decider.eventId;
    if (eventId === undefined) throw new Error('eventId expected');
    expect(eventId(threshold(80, 2_000, 2))).toBe(deterministicEventId(ID_NAMESPACES.costThreshold, `${tenantId}/2025-03/80/${scoringId(2)}`));
    expect(eventId(threshold(80, 2_000, 2))).not.toBe(eventId(threshold(100, 2_000, 2)));
  });
});

describe('UsagePeriod: cost independent of history', () => {
  it('usage events are checkpoints; threshold events are not', () => {
    const [usage, alert] = history([record(1, { aiCostCents: 3_000 })]);
    if (usage === undefined || alert === undefined) throw new Error('setup');
    expect(decider.isCheckpoint?.(usage)).toBe(true);
    expect(decider.isCheckpoint?.(alert)).toBe(false);
  });

  it('the state is O(1): the same size after 5 or 5,000 usages', () => {
    const small = fold(decider, history(usages(5)));
    const large = fold(decider, history(usages(5_000)));
    expect(Object.keys(large).sort()).toEqual(Object.keys(small).sort());
    expect(JSON.stringify(large).length).toBeLessThan(400);
    expect(large).toMatchObject({ usageCount: 5_000, includedCount: 50, overageCount: 4_950, amountCents: 4_950 * 150, aiCostCents: 50_000 });
  });

  it('loading reads at most 3 events, even behind a million recorded usages', () => {
    const N = 1_000_000;
    let pulled = 0;
    function* newestFirst(): Generator<UsageEvent> {
      for (let n = N; n >= 1; n--) {
        pulled++;
        yield {
          type: 'billing.usage.recorded',
          data: {
            tenantId,
            subscriptionId,
            scoringId: scoringId(n),
            period: '2025-03',
            plan: 'enterprise',
            quantity: 1,
            unitPriceCents: 50,
            amountCents: 50,
            billing: 'overage',
            aiCostCents: 1,
            recordedAt,
            periodTotals: { usageCount: n, includedCount: 5_000, overageCount: n - 5_000, amountCents: (n - 5_000) * 50, aiCostCents: n },
          },
        };
      }
    }
    const { state, read } = stateFromNewestFirst(decider, newestFirst());
    expect(read).toBe(1);
    expect(pulled).toBe(1);
    expect(state).toMatchObject({ usageCount: N, lastScoringId: scoringId(N) });
    const next = decider.decide(record(N + 1, { plan: 'enterprise', aiCostCents: 1 }), state);
    expect(next[0]?.type === 'billing.usage.recorded' && next[0].data.periodTotals.usageCount).toBe(N + 1);
  });

  it('property: folding from the newest checkpoint equals folding the whole stream', () => {
    const commandArb = fc.record({
      n: fc.integer({ min: 1, max: 40 }),
      aiCostCents: fc.integer({ min: 0, max: 900 }),
      plan: fc.constantFrom<PlanId>('starter', 'pro', 'enterprise'),
    });
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 60 }), (specs) => {
        const events = history(specs.map((s) => record(s.n, { aiCostCents: s.aiCostCents, plan: s.plan })));
        const full: UsagePeriodState = fold(decider, events);
        const { state, read } = stateFromNewestFirst(decider, [...events].reverse());
        expect(state).toEqual(full);
        expect(read).toBeLessThanOrEqual(3);
      }),
      { numRuns: 300 },
    );
  });
});
