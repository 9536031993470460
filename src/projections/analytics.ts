/**
 * analytics: per tenant (metadata.tenantId) and UTC day (of metadata.occurredAt):
 * - counts by event type (every domain event: ai., billing., analytics., notification.);
 * - scorings requested / completed / failed (attempts), success rate = completed / (completed +
 *   failed attempts);
 * - scoring time = first ai.scoring.requested (attempt 1) → ai.scoring.completed, by occurredAt,
 *   on the day of the completion: average and nearest-rank p95;
 * - revenue (billing.payment.succeeded amountCents) and AI cost (costCents of completed and
 *   failed attempts).
 *
 * KPI alerts: when a day's KPI is past a configured threshold (success rate below, p95 above,
 * AI cost above), the apply records an alert row (an outbox) keyed (tenant, day, metric,
 * threshold) in the same transaction; afterCommit then appends analytics.metric.updated with a
 * deterministic id from that key to `analytics-metrics-{tenantId}` (expected revision 'any') and
 * marks the row emitted. A crash between the two redoes the append with the same id. At most one
 * alert per key (the row's primary key), whatever the redeliveries. A rebuild replays alerts into
 * its own outbox but never emits them: the swap carries the serving set's statuses over and
 * suppresses what the live handler had already seen (see carryOver).
 *
 * Metric names are those of the analytics.metric.updated contract: success rate →
 * `scorings_completed` in `percent`, p95 → `scoring_latency_ms` in `ms`, daily AI cost →
 * `ai_cost_cents` in `cents`; window 'day', windowStart = the day at 00:00Z.
 */
import type { AnalyticsDay, AnalyticsSeries, MetricAlert } from '../contracts/api/read-models.js';
import { ANALYTICS_MAX_DAYS } from '../contracts/api/read-models.js';
import type { METRICS } from '../contracts/events/analytics.js';
import { toEventData, type DecodedEvent } from '../contracts/events/codec.js';
import { deterministicEventId } from '../contracts/ids.js';
import type { ReadModelDatabase } from '../readmodel/database.js';
import { activeTables, cachedStatement, type Projection, type ProjectionEffectDeps, type TableNames, type TableSwap } from './projection.js';

type Tables = 'daily' | 'event_counts' | 'scoring_starts' | 'durations' | 'alerts';
type T = TableNames<Tables>;
type Metric = (typeof METRICS)[number];
type Unit = MetricAlert['unit'];

/** Namespace of analytics.metric.updated ids, key `{tenantId}/{day}/{metric}/{threshold}` (never change it). */
export const METRIC_ALERT_NAMESPACE = '881131e4-716b-4e7e-8e71-4f29ecb40c25';

export interface AnalyticsThresholds {
  /** Alert when the day's success rate falls below this, percent. */
  readonly minSuccessRatePercent: number;
  /** Alert when the day's p95 scoring time exceeds this, ms. */
  readonly maxP95ScoringMs: number;
  /** Alert when the day's AI cost exceeds this, cents. */
  readonly maxDailyAiCostCents: number;
  /** Rate and percentile alerts need at least this many samples in the day. */
  readonly minSamples: number;
}

export const DEFAULT_ANALYTICS_THRESHOLDS: AnalyticsThresholds = Object.freeze({
  minSuccessRatePercent: 90,
  maxP95ScoringMs: 30_000,
  maxDailyAiCostCents: 50_00,
  minSamples: 10,
});

export function metricsStreamId(tenantId: string): string {
  return `analytics-metrics-${tenantId}`;
}

export function metricAlertEventId(tenantId: string, day: string, metric: Metric, threshold: number): string {
  return deterministicEventId(METRIC_ALERT_NAMESPACE, `${tenantId}/${day}/${metric}/${threshold}`);
}

interface DailyRow {
  tenant_id: string;
  day: string;
  scorings_requested: number;
  scorings_completed: number;
  scorings_failed: number;
  score_sum: number;
  duration_count: number;
  duration_sum_ms: number;
  p95_ms: number | null;
  revenue_cents: number;
  payments_succeeded: number;
  ai_cost_cents: number;
}

interface AlertRow {
  tenant_id: string;
  day: string;
  metric: Metric;
  threshold: number;
  value: number;
  previous_value: number | null;
  unit: Unit;
  event_id: string;
  trigger_event_id: string;
  correlation_id: string;
  occurred_at: string;
  status: MetricAlert['status'];
}

function dayOf(at: string): string {
  return new Date(Date.parse(at)).toISOString().slice(0, 10);
}

function successRate(completed: number, failed: number): number | undefined {
  const total = completed + failed;
  return total === 0 ? undefined : (completed * 100) / total;
}

function daily(db: ReadModelDatabase, t: T, tenantId: string, day: string): DailyRow {
  cachedStatement(db, `INSERT OR IGNORE INTO ${t.daily} (tenant_id, day) VALUES (?, ?)`).run(tenantId, day);
  return cachedStatement(db, `SELECT * FROM ${t.daily} WHERE tenant_id = ? AND day = ?`).get(tenantId, day) as DailyRow;
}

function bump(db: ReadModelDatabase, t: T, tenantId: string, day: string, changes: Partial<Record<Exclude<keyof DailyRow, 'tenant_id' | 'day' | 'p95_ms'>, number>>): void {
  const entries = Object.entries(changes).filter(([, v]) => v !== undefined && v !== 0);
  if (entries.length === 0) return;
  cachedStatement(db, `UPDATE ${t.daily} SET ${entries.map(([k]) => `${k} = ${k} + @${k}`).join(', ')} WHERE tenant_id = @tenant AND day = @day`).run({
    ...Object.fromEntries(entries),
    tenant: tenantId,
    day,
  });
}

/** Nearest-rank p95 of the day's durations. */
function p95(db: ReadModelDatabase, t: T, tenantId: string, day: string, count: number): number | null {
  if (count === 0) return null;
  const rank = Math.ceil(0.95 * count);
  const row = cachedStatement(db, `SELECT duration_ms FROM ${t.durations} WHERE tenant_id = ? AND day = ? ORDER BY duration_ms DESC LIMIT 1 OFFSET ?`).get(tenantId, day, count - rank) as
    | { duration_ms: number }
    | undefined;
  return row?.duration_ms ?? null;
}

function recordAlert(
  db: ReadModelDatabase,
  t: T,
  event: DecodedEvent,
  day: string,
  alert: { metric: Metric; threshold: number; value: number; previous: number | undefined; unit: Unit },
): void {
  const tenantId = event.metadata.tenantId;
  cachedStatement(
    db,
    `INSERT OR IGNORE INTO ${t.alerts} (tenant_id, day, metric, threshold, value, previous_value, unit, event_id, trigger_event_id, correlation_id, occurred_at, status)
     VALUES (@tenantId, @day, @metric, @threshold, @value, @previous, @unit, @eventId, @trigger, @correlation, @occurredAt, 'pending')`,
  ).run({
    tenantId,
    day,
    metric: alert.metric,
    threshold: alert.threshold,
    value: alert.value,
    previous: alert.previous ?? null,
    unit: alert.unit,
    eventId: metricAlertEventId(tenantId, day, alert.metric, alert.threshold),
    trigger: event.id,
    correlation: event.metadata.correlationId,
    occurredAt: event.metadata.occurredAt,
  });
}

function checkThresholds(db: ReadModelDatabase, t: T, event: DecodedEvent, day: string, before: DailyRow, thresholds: AnalyticsThresholds): void {
  const after = daily(db, t, event.metadata.tenantId, day);
  const samples = after.scorings_completed + after.scorings_failed;
  const rate = successRate(after.scorings_completed, after.scorings_failed);
  if (rate !== undefined && samples >= thresholds.minSamples && rate < thresholds.minSuccessRatePercent) {
    recordAlert(db, t, event, day, {
      metric: 'scorings_completed',
      threshold: thresholds.minSuccessRatePercent,
      value: Math.round(rate * 100) / 100,
      previous: roundOrUndefined(successRate(before.scorings_completed, before.scorings_failed)),
      unit: 'percent',
    });
  }
  if (after.p95_ms !== null && after.duration_count >= thresholds.minSamples && after.p95_ms > thresholds.maxP95ScoringMs) {
    recordAlert(db, t, event, day, { metric: 'scoring_latency_ms', threshold: thresholds.maxP95ScoringMs, value: after.p95_ms, previous: before.p95_ms ?? undefined, unit: 'ms' });
  }
  if (after.ai_cost_cents > thresholds.maxDailyAiCostCents) {
    recordAlert(db, t, event, day, { metric: 'ai_cost_cents', threshold: thresholds.maxDailyAiCostCents, value: after.ai_cost_cents, previous: before.ai_cost_cents, unit: 'cents' });
  }
}

function roundOrUndefined(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 100) / 100;
}

function applyWith(thresholds: AnalyticsThresholds) {
  return (db: ReadModelDatabase, event: DecodedEvent, t: T): void => {
    const tenantId = event.metadata.tenantId;
    const day = dayOf(event.metadata.occurredAt);
    cachedStatement(db, `INSERT INTO ${t.event_counts} (tenant_id, day, event_type, count) VALUES (?, ?, ?, 1) ON CONFLICT (tenant_id, day, event_type) DO UPDATE SET count = count + 1`).run(
      tenantId,
      day,
      event.type,
    );
    const before = daily(db, t, tenantId, day);
    switch (event.type) {
      case 'ai.scoring.requested': {
        bump(db, t, tenantId, day, { scorings_requested: 1 });
        cachedStatement(db, `INSERT OR IGNORE INTO ${t.scoring_starts} (scoring_id, tenant_id, requested_at_ms) VALUES (?, ?, ?)`).run(
          event.data.scoringId,
          tenantId,
          Date.parse(event.metadata.occurredAt),
        );
        return;
      }
      case 'ai.scoring.completed': {
        const d = event.data;
        bump(db, t, tenantId, day, { scorings_completed: 1, score_sum: d.matchScore, ai_cost_cents: d.costCents });
        const start = cachedStatement(db, `SELECT requested_at_ms FROM ${t.scoring_starts} WHERE scoring_id = ?`).get(d.scoringId) as { requested_at_ms: number } | undefined;
        if (start) {
          const duration = Math.max(0, Date.parse(event.metadata.occurredAt) - start.requested_at_ms);
          const inserted = cachedStatement(db, `INSERT OR IGNORE INTO ${t.durations} (tenant_id, day, scoring_id, duration_ms) VALUES (?, ?, ?, ?)`).run(tenantId, day, d.scoringId, duration);
          if (inserted.changes > 0) {
            const count = before.duration_count + 1;
            bump(db, t, tenantId, day, { duration_count: 1, duration_sum_ms: duration });
            cachedStatement(db, `UPDATE ${t.daily} SET p95_ms = ? WHERE tenant_id = ? AND day = ?`).run(p95(db, t, tenantId, day, count), tenantId, day);
          }
        }
        break;
      }
      case 'ai.scoring.failed':
        bump(db, t, tenantId, day, { scorings_failed: 1, ai_cost_cents: event.data.costCents });
        break;
      case 'billing.payment.succeeded':
        bump(db, t, tenantId, day, { revenue_cents: event.data.amountCents, payments_succeeded: 1 });
        break;
      default:
        return;
    }
    checkThresholds(db, t, event, day, before, thresholds);
  };
}

/** Appends the pending alerts (deterministic ids, 'any'), then marks them emitted. */
async function emitPendingAlerts(deps: ProjectionEffectDeps, t: T): Promise<void> {
  const db = deps.readDb;
  for (;;) {
    const pending = cachedStatement(db, `SELECT * FROM ${t.alerts} WHERE status = 'pending' ORDER BY occurred_at, tenant_id, day, metric LIMIT 50`).all() as AlertRow[];
    if (pending.length === 0) return;
    for (const alert of pending) {
      const data = {
        tenantId: alert.tenant_id,
        metric: alert.metric,
        value: alert.value,
        ...(alert.previous_value !== null ? { previousValue: alert.previous_value } : {}),
        unit: alert.unit,
        window: 'day' as const,
        windowStart: `${alert.day}T00:00:00.000Z`,
      };
      const envelope = { correlationId: alert.correlation_id, causationId: alert.trigger_event_id, tenantId: alert.tenant_id, occurredAt: alert.occurred_at };
      await deps.store.append(metricsStreamId(alert.tenant_id), [toEventData('analytics.metric.updated', data, envelope, alert.event_id)], { expectedRevision: 'any' });
      cachedStatement(db, `UPDATE ${t.alerts} SET status = 'emitted', emitted_at = ? WHERE tenant_id = ? AND day = ? AND metric = ? AND threshold = ?`).run(
        deps.clock().toISOString(),
        alert.tenant_id,
        alert.day,
        alert.metric,
        alert.threshold,
      );
      deps.logger.info({ tenantId: alert.tenant_id, day: alert.day, metric: alert.metric, value: alert.value, threshold: alert.threshold }, 'KPI threshold crossed: analytics.metric.updated emitted');
    }
  }
}

/**
 * In the swap: the rebuilt outbox takes the serving set's statuses (emitted / pending) where it has
 * the same key; a rebuilt row whose triggering event the serving set had already handled, but
 * which the serving set never recorded, is history and is suppressed; rows triggered by events
 * the serving set had not seen yet stay pending (the live handler will not see those events again).
 */
function carryOver(db: ReadModelDatabase, swap: TableSwap<Tables>): void {
  const { from, to } = swap;
  db.prepare(
    `UPDATE ${to.alerts} SET status = 'suppressed'
     WHERE status = 'pending' AND EXISTS (SELECT 1 FROM handled_events h WHERE h.group_name = ? AND h.event_id = ${to.alerts}.trigger_event_id)`,
  ).run(swap.fromGroup);
  db.exec(
    `UPDATE ${to.alerts} SET status = f.status, emitted_at = f.emitted_at
     FROM ${from.alerts} f
     WHERE f.tenant_id = ${to.alerts}.tenant_id AND f.day = ${to.alerts}.day AND f.metric = ${to.alerts}.metric AND f.threshold = ${to.alerts}.threshold`,
  );
  // Pending rows of the serving set the replay did not produce (e.g. other thresholds then): keep them.
  db.exec(
    `INSERT OR IGNORE INTO ${to.alerts} SELECT * FROM ${from.alerts} WHERE status = 'pending'`,
  );
}

/** The analytics projection with the given alert thresholds. */
export function createAnalyticsProjection(thresholds: Partial<AnalyticsThresholds> = {}): Projection<Tables> {
  const config: AnalyticsThresholds = { ...DEFAULT_ANALYTICS_THRESHOLDS, ...thresholds };
  return Object.freeze({
    name: 'analytics',
    eventTypes: ['ai.', 'billing.', 'analytics.', 'notification.'],
    tables: ['daily', 'event_counts', 'scoring_starts', 'durations', 'alerts'] as const,
    migrations: [
      {
        version: 1,
        sql: (t: T) => `
          CREATE TABLE ${t.daily} (
            tenant_id TEXT NOT NULL,
            day TEXT NOT NULL,
            scorings_requested INTEGER NOT NULL DEFAULT 0,
            scorings_completed INTEGER NOT NULL DEFAULT 0,
            scorings_failed INTEGER NOT NULL DEFAULT 0,
            score_sum INTEGER NOT NULL DEFAULT 0,
            duration_count INTEGER NOT NULL DEFAULT 0,
            duration_sum_ms INTEGER NOT NULL DEFAULT 0,
            p95_ms INTEGER,
            revenue_cents INTEGER NOT NULL DEFAULT 0,
            payments_succeeded INTEGER NOT NULL DEFAULT 0,
            ai_cost_cents INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, day)
          );
          CREATE TABLE ${t.event_counts} (
            tenant_id TEXT NOT NULL,
            day TEXT NOT NULL,
            event_type TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, day, event_type)
          );
          CREATE TABLE ${t.scoring_starts} (
            scoring_id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            requested_at_ms INTEGER NOT NULL
          );
          CREATE TABLE ${t.durations} (
            tenant_id TEXT NOT NULL,
            day TEXT NOT NULL,
            scoring_id TEXT NOT NULL,
            duration_ms INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, day, scoring_id)
          );
          CREATE INDEX ${t.durations}_by_duration ON ${t.durations} (tenant_id, day, duration_ms);
          CREATE TABLE ${t.alerts} (
            tenant_id TEXT NOT NULL,
            day TEXT NOT NULL,
            metric TEXT NOT NULL,
            threshold REAL NOT NULL,
            value REAL NOT NULL,
            previous_value REAL,
            unit TEXT NOT NULL,
            event_id TEXT NOT NULL,
            trigger_event_id TEXT NOT NULL,
            correlation_id TEXT NOT NULL,
            occurred_at TEXT NOT NULL,
            status TEXT NOT NULL,
            emitted_at TEXT,
            PRIMARY KEY (tenant_id, day, metric, threshold)
          );
          CREATE INDEX ${t.alerts}_pending ON ${t.alerts} (status) WHERE status = 'pending';`,
      },
    ],
    apply: applyWith(config),
    afterCommit: emitPendingAlerts,
    carryOver,
  });
}

/** The analytics projection with the default thresholds. */
export const analyticsProjection: Projection<Tables> = createAnalyticsProjection();

// ---------------------------------------------------------------------------------------------
// Queries (tenant-scoped). Any analytics projection instance serves: they share the tables.

function kpis(row: Omit<DailyRow, 'tenant_id' | 'day'>): Omit<AnalyticsDay, 'day' | 'eventCounts'> {
  const rate = successRate(row.scorings_completed, row.scorings_failed);
  return {
    scoringsRequested: row.scorings_requested,
    scoringsCompleted: row.scorings_completed,
    scoringsFailed: row.scorings_failed,
    ...(rate !== undefined ? { successRatePercent: Math.round(rate * 100) / 100 } : {}),
    ...(row.duration_count > 0 ? { avgScoringMs: Math.round(row.duration_sum_ms / row.duration_count) } : {}),
    ...(row.p95_ms !== null ? { p95ScoringMs: row.p95_ms } : {}),
    ...(row.scorings_completed > 0 ? { avgMatchScore: Math.round((row.score_sum * 100) / row.scorings_completed) / 100 } : {}),
    revenueCents: row.revenue_cents,
    paymentsSucceeded: row.payments_succeeded,
    aiCostCents: row.ai_cost_cents,
  };
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

/** The tenant's daily KPIs from `from` to `to` (days, inclusive; days without activity are left out) and their totals. */
export function getAnalyticsSeries(db: ReadModelDatabase, tenantId: string, range: { readonly from: string; readonly to: string }, projection: Projection<Tables> = analyticsProjection): AnalyticsSeries {
  const span = daysBetween(range.from, range.to);
  if (!Number.isFinite(span) || span < 1 || span > ANALYTICS_MAX_DAYS) throw new RangeError(`The range must be 1 to ${ANALYTICS_MAX_DAYS} days, from <= to`);
  const t = activeTables(db, projection);
  const rows = cachedStatement(db, `SELECT * FROM ${t.daily} WHERE tenant_id = ? AND day >= ? AND day <= ? ORDER BY day`).all(tenantId, range.from, range.to) as DailyRow[];
  const counts = cachedStatement(db, `SELECT day, event_type, count FROM ${t.event_counts} WHERE tenant_id = ? AND day >= ? AND day <= ? ORDER BY day, event_type`).all(tenantId, range.from, range.to) as {
    day: string;
    event_type: string;
    count: number;
  }[];
  const countsByDay = new Map<string, Record<string, number>>();
  const totalCounts: Record<string, number> = {};
  for (const c of counts) {
    const byType = countsByDay.get(c.day) ?? {};
    byType[c.event_type] = c.count;
    countsByDay.set(c.day, byType);
    totalCounts[c.event_type] = (totalCounts[c.event_type] ?? 0) + c.count;
  }
  const days = new Set([...rows.map((r) => r.day), ...countsByDay.keys()]);
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const empty: Omit<DailyRow, 'tenant_id' | 'day'> = {
    scorings_requested: 0,
    scorings_completed: 0,
    scorings_failed: 0,
    score_sum: 0,
    duration_count: 0,
    duration_sum_ms: 0,
    p95_ms: null,
    revenue_cents: 0,
    payments_succeeded: 0,
    ai_cost_cents: 0,
  };
  const total = { ...empty };
  for (const row of rows) {
    total.scorings_requested += row.scorings_requested;
    total.scorings_completed += row.scorings_completed;
    total.scorings_failed += row.scorings_failed;
    total.score_sum += row.score_sum;
    total.duration_count += row.duration_count;
    total.duration_sum_ms += row.duration_sum_ms;
    if (row.p95_ms !== null) total.p95_ms = Math.max(total.p95_ms ?? 0, row.p95_ms);
    total.revenue_cents += row.revenue_cents;
    total.payments_succeeded += row.payments_succeeded;
    total.ai_cost_cents += row.ai_cost_cents;
  }
  return {
    tenantId,
    from: range.from,
    to: range.to,
    days: [...days].sort().map((day) => ({ day, eventCounts: countsByDay.get(day) ?? {}, ...kpis(byDay.get(day) ?? empty) })),
    totals: { eventCounts: totalCounts, ...kpis(total) },
  };
}

/** The tenant's KPI alerts, newest day first. */
export function listMetricAlerts(db: ReadModelDatabase, tenantId: string, projection: Projection<Tables> = analyticsProjection): MetricAlert[] {
  const t = activeTables(db, projection);
  const rows = cachedStatement(db, `SELECT * FROM ${t.alerts} WHERE tenant_id = ? ORDER BY day DESC, metric, threshold`).all(tenantId) as AlertRow[];
  return rows.map((row) => ({ day: row.day, metric: row.metric, threshold: row.threshold, value: row.value, unit: row.unit, status: row.status, eventId: row.event_id }));
}
