import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AnalyticsSeriesSchema, MetricAlertListSchema, ReportGeneratedSchema } from '../../src/contracts/api/read-models.js';
import { decodeEvent } from '../../src/contracts/events/codec.js';
import { isValid } from '../../src/contracts/validation.js';
import type { EngineDeps } from '../../src/engine/engine-deps.js';
import type { RecordedEvent } from '../../src/eventstore/port.js';
import {
  analyticsProjection,
  createAnalyticsProjection,
  getAnalyticsSeries,
  listMetricAlerts,
  metricAlertEventId,
  metricsStreamId,
} from '../../src/projections/analytics.js';
import { activeTables, projectionHandler } from '../../src/projections/projection.js';
import { generateReport, readReport, reportsStreamId } from '../../src/projections/reports.js';
import { REQUEST, deliver, recorded, result, snapshot, testDeps } from './support.js';

let deps: EngineDeps;
beforeEach(async () => {
  ({ deps } = await testDeps('2025-03-15T00:00:00.000Z'));
});
afterEach(async () => {
  await deps.store.close();
  deps.readDb.close();
});

const A = 'acme-lending';
const thresholds = { minSuccessRatePercent: 90, maxP95ScoringMs: 5_000, maxDailyAiCostCents: 300, minSamples: 10 };

function at(minutes: number, extraMs = 0): string {
  return new Date(Date.parse('2025-03-14T10:00:00Z') + minutes * 60_000 + extraMs).toISOString();
}

function day(): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (let i = 0; i < 10; i++) {
    const scoringId = randomUUID();
    events.push(recorded('ai.scoring.requested', { scoringId, tenantId: A, attempt: 1, request: REQUEST }, { tenantId: A, occurredAt: at(i) }));
    events.push(recorded('ai.scoring.completed', { scoringId, tenantId: A, attempt: 1, ...result(60 + i, 42) }, { tenantId: A, occurredAt: at(i, (i + 1) * 1_000) }));
  }
  for (let i = 0; i < 2; i++) {
    const scoringId = randomUUID();
    events.push(recorded('ai.scoring.requested', { scoringId, tenantId: A, attempt: 1, request: REQUEST }, { tenantId: A, occurredAt: at(30 + i) }));
    events.push(
      recorded('ai.scoring.failed', { scoringId, tenantId: A, attempt: 1, errorCode: 'model_timeout', reason: 'slow', retryable: true, costCents: 3 }, { tenantId: A, occurredAt: at(30 + i, 20_000) }),
    );
  }
  events.push(
    recorded(
      'billing.payment.succeeded',
      { paymentId: randomUUID(), subscriptionId: randomUUID(), tenantId: A, amountCents: 19_900, currency: 'USD', gateway: 'stripe', gatewayReference: 'ch_1', billingPeriod: '2025-03', paidAt: at(40) },
      { tenantId: A, occurredAt: at(40) },
    ),
  );
  events.push(recorded('analytics.event.recorded', { tenantId: A, action: 'page_view', category: 'navigation' }, { tenantId: A, occurredAt: '2025-03-15T08:00:00Z' }));
  return events;
}

async function metricEvents(): Promise<{ id: string; data: Record<string, unknown> }[]> {
  const out: { id: string; data: Record<string, unknown> }[] = [];
  try {
    for await (const event of deps.store.readStream(metricsStreamId(A))) {
      const decoded = decodeEvent(event);
      expect(decoded.ok).toBe(true);
      out.push({ id: event.id, data: event.data as Record<string, unknown> });
    }
  } catch {
    return out;
  }
  return out;
}

describe('analytics projection', () => {
  it('counts events by type and computes success rate, scoring time (avg, p95), revenue and AI cost per day', async () => {
    await deliver(projectionHandler(deps, createAnalyticsProjection(thresholds)), day());
    const series = getAnalyticsSeries(deps.readDb, A, { from: '2025-03-01', to: '2025-03-31' });
    expect(isValid(AnalyticsSeriesSchema, series)).toBe(true);
    expect(series.days).toHaveLength(2);
    expect(series.days[0]).toEqual({
      day: '2025-03-14',
      eventCounts: { 'ai.scoring.requested': 12, 'ai.scoring.completed': 10, 'ai.scoring.failed': 2, 'billing.payment.succeeded': 1 },
      scoringsRequested: 12,
      scoringsCompleted: 10,
      scoringsFailed: 2,
      successRatePercent: 83.33,
      avgScoringMs: 5_500,
      p95ScoringMs: 10_000,
      avgMatchScore: 64.5,
      revenueCents: 19_900,
      paymentsSucceeded: 1,
      aiCostCents: 10 * 42 + 2 * 3,
    });
    expect(series.days[1]).toMatchObject({ day: '2025-03-15', eventCounts: { 'analytics.event.recorded': 1 }, scoringsRequested: 0 });
    expect(series.totals).toMatchObject({ scoringsCompleted: 10, revenueCents: 19_900, eventCounts: { 'ai.scoring.requested': 12, 'analytics.event.recorded': 1 } });
    expect(getAnalyticsSeries(deps.readDb, 'beta-bank', { from: '2025-03-01', to: '2025-03-31' }).days).toEqual([]);
    expect(() => getAnalyticsSeries(deps.readDb, A, { from: '2025-03-31', to: '2025-03-01' })).toThrow(RangeError);
  });

  it('emits analytics.metric.updated once per (tenant, day, metric, threshold), with deterministic ids, also under redelivery', async () => {
    const projection = createAnalyticsProjection(thresholds);
    const handler = projectionHandler(deps, projection);
    await deliver(handler, day(), 2);
    const alerts = listMetricAlerts(deps.readDb, A, projection);
    expect(isValid(MetricAlertListSchema, { alerts })).toBe(true);
    expect(alerts.map((a) => [a.metric, a.threshold, a.value, a.status])).toEqual([
      ['ai_cost_cents', 300, 336, 'emitted'],
      ['scoring_latency_ms', 5_000, 10_000, 'emitted'],
      ['scorings_completed', 90, 83.33, 'emitted'],
    ]);
    const emitted = await metricEvents();
    expect(emitted.map((e) => e.id).sort()).toEqual(
      [
        metricAlertEventId(A, '2025-03-14', 'ai_cost_cents', 300),
        metricAlertEventId(A, '2025-03-14', 'scoring_latency_ms', 5_000),
        metricAlertEventId(A, '2025-03-14', 'scorings_completed', 90),
      ].sort(),
    );
    const rate = emitted.find((e) => e.data['metric'] === 'scorings_completed');
    expect(rate?.data).toEqual({ tenantId: A, metric: 'scorings_completed', value: 83.33, previousValue: 90.91, unit: 'percent', window: 'day', windowStart: '2025-03-14T00:00:00.000Z' });
    expect(emitted.find((e) => e.data['metric'] === 'scoring_latency_ms')?.data).toMatchObject({ value: 10_000, previousValue: 9_000, unit: 'ms' });
  });

  it('redoes the append after a crash between the transaction and the append (same id: no duplicate)', async () => {
    const projection = createAnalyticsProjection(thresholds);
    const handler = projectionHandler(deps, projection);
    const events = day();
    await deliver(handler, events);
    const t = activeTables(deps.readDb, projection);
    // As if the process died after the SQLite commit, before (or during) the append.
    deps.readDb.prepare(`UPDATE ${t.alerts} SET status = 'pending', emitted_at = NULL`).run();
    await deliver(handler, [events[0] as RecordedEvent]); // the redelivery of an already handled event
    expect(listMetricAlerts(deps.readDb, A, projection).every((a) => a.status === 'emitted')).toBe(true);
    expect(await metricEvents()).toHaveLength(3);
  });

  it('does not alert below the minimum sample count', async () => {
    const handler = projectionHandler(deps, createAnalyticsProjection({ ...thresholds, maxDailyAiCostCents: 1_000_000 }));
    const scoringId = randomUUID();
    await deliver(handler, [
      recorded('ai.scoring.requested', { scoringId, tenantId: A, attempt: 1, request: REQUEST }, { tenantId: A, occurredAt: at(0) }),
      recorded('ai.scoring.failed', { scoringId, tenantId: A, attempt: 1, errorCode: 'model_timeout', reason: 'slow', retryable: true, costCents: 3 }, { tenantId: A, occurredAt: at(1) }),
    ]);
    expect(listMetricAlerts(deps.readDb, A)).toEqual([]);
    expect(await metricEvents()).toEqual([]);
  });

  it('is exact when every event is delivered twice', async () => {
    const events = day();
    const { deps: other } = await testDeps();
    try {
      await deliver(projectionHandler(other, analyticsProjection), events);
      await deliver(projectionHandler(deps, analyticsProjection), events, 2);
      expect(snapshot(deps.readDb, analyticsProjection)).toEqual(snapshot(other.readDb, analyticsProjection));
    } finally {
      await other.store.close();
      other.readDb.close();
    }
  });
});

describe('generateReport', () => {
  it('stores the report and appends analytics.report.generated (idempotent per report id)', async () => {
    await deliver(projectionHandler(deps, analyticsProjection), day());
    const reportId = randomUUID();
    const generated = await generateReport(deps, A, { from: '2025-03-01', to: '2025-03-31' }, { reportType: 'scoring_performance', format: 'json', reportId });
    expect(isValid(ReportGeneratedSchema, generated)).toBe(true);
    expect(generated).toMatchObject({ reportId, tenantId: A, reportType: 'scoring_performance', from: '2025-03-01', to: '2025-03-31', format: 'json', location: `mmp-report://${A}/${reportId}.json` });
    await generateReport(deps, A, { from: '2025-03-01', to: '2025-03-31' }, { reportType: 'scoring_performance', format: 'json', reportId });

    const stream = [];
    for await (const event of deps.store.readStream(reportsStreamId(A))) stream.push(event);
    expect(stream).toHaveLength(1);
    const decoded = decodeEvent(stream[0] as RecordedEvent);
    expect(decoded.ok && decoded.event.type === 'analytics.report.generated' && decoded.event.data).toEqual(generated);

    const stored = await readReport(deps, A, reportId);
    expect(stored?.contentType).toBe('application/json');
    expect(Buffer.byteLength(stored?.content ?? '')).toBe(generated.sizeBytes);
    const document = JSON.parse(stored?.content ?? '{}') as { totals: { scoringsCompleted: number }; days: unknown[] };
    expect(document.totals.scoringsCompleted).toBe(10);
    expect(document.days).toHaveLength(2);
    expect(await readReport(deps, 'beta-bank', reportId)).toBeUndefined();

    const csv = await generateReport(deps, A, { from: '2025-03-14', to: '2025-03-14' }, { format: 'csv' });
    const csvContent = (await readReport(deps, A, csv.reportId))?.content ?? '';
    expect(csvContent.split('\n')[0]).toMatch(/^day,scoringsRequested,/);
    expect(csvContent.split('\n')[1]).toMatch(/^2025-03-14,12,10,2,83.33,5500,10000,/);
    await expect(generateReport(deps, A, { from: '2025-03-31', to: '2025-03-01' })).rejects.toThrow(RangeError);
  });
});
