/**
 * AI quotas: usage pushing the AI cost past 100 % of the plan's budget throttles new scorings
 * (QuotaExceeded, 429) until the quota changes (plan change) or a new billing period starts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PLANS } from '../../../src/contracts/plans.js';
import { QuotaExceeded } from '../../../src/http/errors.js';
import { readAiQuota } from '../../../src/process-managers/ai-quotas.js';
import { contextFor, eventsOfType, IDLE, request, startHarness, TestModel, WAIT, type Harness } from './support.js';

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const TENANT = 'acme-lending';

async function scoreAndSettle(h: Harness, tenantId = TENANT): Promise<string> {
  const { scoringId } = await h.deps.scoring.submit(contextFor(tenantId), request());
  await vi.waitFor(async () => expect((await h.deps.scoring.view(tenantId, scoringId))?.status).toBe('completed'), WAIT);
  await h.runner.waitForIdle(undefined, IDLE);
  return scoringId;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('AI quotas', () => {
  it('usage past 100 % of the AI budget → QuotaExceeded (429); an upgrade clears it, a downgrade below the spend sets it again', async () => {
    let now = new Date('2026-03-10T12:00:00Z');
    // 13 $ per scoring: two scorings spend 26 $ of the Starter plan's 25 $ budget.
    const model = new TestModel(undefined, { costCents: 1_300 });
    harness = await startHarness({ model, cache: false, clock: () => now });
    const { deps, runner } = harness;
    const admin = contextFor(TENANT);
    await deps.billing.create(admin, 'starter');
    await runner.waitForIdle(undefined, IDLE);
    expect(readAiQuota(deps.readDb, TENANT)).toMatchObject({ plan: 'starter', status: 'active', budgetCents: PLANS.starter.monthlyAiBudgetCents, throttled: false });

    await scoreAndSettle(harness);
    expect(readAiQuota(deps.readDb, TENANT)).toMatchObject({ period: '2026-03', periodAiCostCents: 1_300, throttled: false });
    await harness.ai.admission(TENANT);

    await scoreAndSettle(harness);
    expect(readAiQuota(deps.readDb, TENANT)).toMatchObject({ period: '2026-03', periodAiCostCents: 2_600, lastThresholdPercent: 100, throttled: true });
    const thresholds = await eventsOfType(deps, 'ai.cost.threshold_exceeded');
    expect(thresholds.map((e) => e.data.thresholdPercent)).toEqual([80, 100]);

    const refused = await rejection(deps.scoring.submit(contextFor(TENANT), request()));
    expect(refused).toBeInstanceOf(QuotaExceeded);
    expect(refused).toMatchObject({ statusCode: 429, code: 'QUOTA_EXCEEDED' });
    expect((refused as Error).message).toMatch(/Starter plan \(\$25\.00 a month\) is used up for 2026-03 \(\$26\.00 spent\)/);
    expect(model.calls).toBe(2);

    now = new Date('2026-03-11T09:00:00Z');
    await deps.billing.changePlan(admin, 'pro');
    await runner.waitForIdle(undefined, IDLE);
    expect(readAiQuota(deps.readDb, TENANT)).toMatchObject({ plan: 'pro', budgetCents: PLANS.pro.monthlyAiBudgetCents, periodAiCostCents: 2_600, throttled: false });
    await scoreAndSettle(harness);

    await deps.billing.changePlan(admin, 'starter');
    await runner.waitForIdle(undefined, IDLE);
    expect(readAiQuota(deps.readDb, TENANT)).toMatchObject({ plan: 'starter', periodAiCostCents: 3_900, throttled: true });
    expect(await rejection(harness.ai.admission(TENANT))).toBeInstanceOf(QuotaExceeded);
    // Other tenants are not affected.
    await harness.ai.admission('someone-else');
  });

  it('a new billing period clears the throttle; the first usage of the period starts its totals afresh', async () => {
    let now = new Date('2026-03-30T12:00:00Z');
    const model = new TestModel(undefined, { costCents: 2_500 });
    harness = await startHarness({ model, cache: false, clock: () => now });
    const { deps } = harness;
    await deps.billing.create(contextFor(TENANT), 'starter');
    await scoreAndSettle(harness);
    expect(readAiQuota(deps.readDb, TENANT)).toMatchObject({ period: '2026-03', throttled: true });
    expect(await rejection(harness.ai.admission(TENANT))).toBeInstanceOf(QuotaExceeded);

    now = new Date('2026-04-01T00:00:01Z');
    await harness.ai.admission(TENANT);
    model.costCents = 100;
    await scoreAndSettle(harness);
    expect(readAiQuota(deps.readDb, TENANT)).toMatchObject({ period: '2026-04', periodAiCostCents: 100, throttled: false });
  });

  it('applies each event once: a redelivered usage or threshold event changes nothing', async () => {
    const model = new TestModel(undefined, { costCents: 2_000 });
    harness = await startHarness({ model, cache: false });
    const { deps } = harness;
    await deps.billing.create(contextFor(TENANT), 'starter');
    await scoreAndSettle(harness);
    const before = readAiQuota(deps.readDb, TENANT);
    expect(before).toMatchObject({ periodAiCostCents: 2_000, lastThresholdPercent: 80, throttled: false });
    const quotas = harness.handler('ai-quotas');
    for await (const recorded of deps.store.readAll({ filter: { on: 'eventType', prefixes: ['billing.', 'ai.cost.'] } })) {
      await quotas.handle(recorded, { group: 'ai-quotas', retryCount: 1, attempt: 0, signal: new AbortController().signal });
    }
    expect(readAiQuota(deps.readDb, TENANT)).toEqual(before);
  });
});
