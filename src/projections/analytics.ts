/**
 * analytics: per tenant (metadata.tenantId) and UTC day (of metadata.occurredAt):
 * - counts by event type (every domain event: ai., billing., analytics., notification.);
 * - scorings requested / completed / failed (attempts); success rate = completed / (completed +
 *   failed attempts);
 * - scoring time = first ai.scoring.requested (attempt 1) → ai.scoring.completed, by occurredAt,
 *   counted on the day of the completion: average, and nearest-rank p95 computed at query time
 *   from the day's durations (exact, no per-event percentile upkeep);
 * - revenue (billing.payment.succeeded amountCents) and AI cost (costCents of completed and
 *   failed attempts).
 *
 * KPI alerts: when a day's KPI goes past a configured threshold (success rate below, p95 above,
 * AI cost above) the apply records an alert row (an outbox) keyed (tenant, day, metric, threshold)
 * in the same transaction; at most one per key. "p95 above T" is checked in O(1) per event with a
 * per-day count of durations above T (p95 > T ⟺ count − above < ⌈0.95·count⌉); the p95 value is
 * read only when the condition turns true. afterCommit then appends analytics.metric.updated with
 * a deterministic id from that key to `analytics-metrics-{tenantId}` (expected revision 'any') and
 * marks the row emitted; a crash between the two redoes the append with the same id. A rebuild
 * replays alerts into its own outbox but never emits them: the swap carries the serving set's
 * statuses over and suppresses what the live handler had already seen (see carryOver).
 *
 * Metric names are those of the analytics.metric.updated contract: success rate →
 * `scorings_completed` in `percent`, p95 → `scoring_latency_ms` in `ms`, daily AI cost →
 * `ai_cost_cents` in `cents`; window 'day', windowStart = the day at 00:00Z. Thresholds are part
 * of the read model (the above-threshold count): changing them needs a rebuild.
 */
import type { AnalyticsDay, AnalyticsSeries, MetricAlert } from '../contracts/api/read-models.js';
import { ANALYTICS_MAX_DAYS } from '../contracts/api/read-models.js';
import type { METRICS } from '../contracts/events/analytics.js';
import { toEventData, type DecodedEvent } from '../contracts/events/codec.js';
import { deterministicEventId } from '../contracts/ids.js';
import type { ReadModelDatabase } from '../readmodel/database.js';
import { activeTables, cachedStatement, prepared, type Projection, type ProjectionEffectDeps, type TableNames, type TableSwap } from './projection.js';

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
  /** Durations above the configured maxP95ScoringMs: p95 > threshold ⟺ count − this < ⌈0.95 count⌉. */
  durations_over_threshold: number;
  revenue_cents: number;
  payments_succeeded: number;
  ai_cost_cents: number;
}

type Counters = Omit<DailyRow, 'tenant_id' | 'day'>;

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

const ISO_RE = /^\d{4}-\d{2}-\d{2}T/;

function dayOf(at: string): string {
  // Offsets other than Z move the UTC day: normalise those.
  return at.endsWith('Z') && ISO_RE.test(at) ? at.slice(0, 10) : new Date(Date.parse(at)).toISOString().slice(0, 10);
}

function successRate(completed: number, failed: number): number | undefined {
  const total = completed + failed;
  return total === 0 ? undefined : (completed * 100) / total;
}

function round2(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 100) / 100;
}

const EMPTY: Counters = Object.freeze({
  scorings_requested: 0,
  scorings_completed: 0,
  scorings_failed: 0,
  score_sum: 0,
  duration_count: 0,
  duration_sum_ms: 0,
  durations_over_threshold: 0,
  revenue_cents: 0,
  payments_succeeded: 0,
  ai_cost_cents: 0,
});

/** Nearest-rank p95 of a day's durations, optionally leaving one scoring out (the value before it). */
function p95(db: ReadModelDatabase, t: T, tenantId: string, day: string, count: number, without?: string): number | undefined {
  if (count <= 0) return undefined;
  const rank = Math.ceil(0.95 * count);
  const row = (
    without === undefined
      ? prepared(db, t, 'p95', (n) => `SELECT duration_ms FROM ${n.durations} WHERE tenant_id = ? AND day = ? ORDER BY duration_ms DESC LIMIT 1 OFFSET ?`).get(tenantId, day, count - rank)
      : prepared(db, t, 'p95-without', (n) => `SELECT duration_ms FROM ${n.durations} WHERE tenant_id = ? AND day = ? AND scoring_id <> ? ORDER BY duration_ms DESC LIMIT 1 OFFSET ?`).get(
          tenantId,
          day,
          without,
          count - rank,
        )
  ) as { duration_ms: number } | undefined;
  return row?.duration_ms;
}

function latencyOver(c: Counters, thresholds: AnalyticsThresholds): boolean {
  return c.duration_count >= thresholds.minSamples && c.duration_count - c.durations_over_threshold < Math.ceil(0.95 * c.duration_count);
}

function rateBelow(c: Counters, thresholds: AnalyticsThresholds): boolean {
  const rate = successRate(c.scorings_completed, c.scorings_failed);
  return rate !== undefined && c.scorings_completed + c.scorings_failed >= thresholds.minSamples && rate < thresholds.minSuccessRatePercent;
}

/**
 * One transaction's worth of analytics: daily counters and event counts are folded in memory
 * (loaded once per tenant and day, written once), scoring starts, durations and alerts are
 * written as they come. Thresholds are checked after every event on the exact counters, so the
 * result does not depend on how events are batched (live: one at a time; rebuild: many).
 * An alert is recorded when its condition turns true (at most once per key: the primary key).
 */
class AnalyticsBatch {
  readonly #days = new Map<string, { tenantId: string; day: string; counters: Counters }>();
  readonly #counts = new Map<string, { tenantId: string; day: string; type: string; n: number }>();

  constructor(
    private readonly db: ReadModelDatabase,
    private readonly t: T,
    private readonly thresholds: AnalyticsThresholds,
  ) {}

  #day(tenantId: string, day: string): Counters {
    const key = `${tenantId}\u0000${day}`;
    let entry = this.#days.get(key);
    if (!entry) {
      const row = prepared(this.db, this.t, 'daily', (n) => `SELECT * FROM ${n.daily} WHERE tenant_id = ? AND day = ?`).get(tenantId, day) as DailyRow | undefined;
      const { tenant_id: _t, day: _d, ...counters } = row ?? { tenant_id: tenantId, day, ...EMPTY };
      entry = { tenantId, day, counters };
      this.#days.set(key, entry);
    }
    return entry.counters;
  }

  apply(event: DecodedEvent): void {
    const { db, t, thresholds } = this;
    const tenantId = event.metadata.tenantId;
    const day = dayOf(event.metadata.occurredAt);
    const countKey = `${tenantId}\u0000${day}\u0000${event.type}`;
    const count = this.#counts.get(countKey);
    if (count) count.n += 1;
    else this.#counts.set(countKey, { tenantId, day, type: event.type, n: 1 });

    const c = this.#day(tenantId, day);
    const before: Counters = { ...c };
    switch (event.type) {
      case 'ai.scoring.requested':
        c.scorings_requested += 1;
        if (event.data.attempt === 1) {
          prepared(db, t, 'start', (n) => `INSERT OR IGNORE INTO ${n.scoring_starts} (scoring_id, tenant_id, requested_at_ms) VALUES (?, ?, ?)`).run(
            event.data.scoringId,
            tenantId,
            Date.parse(event.metadata.occurredAt),
          );
        }
        return;
      case 'ai.scoring.completed': {
        const d = event.data;
        c.scorings_completed += 1;
        c.score_sum += d.matchScore;
        c.ai_cost_cents += d.costCents;
        const start = prepared(db, t, 'start-of', (n) => `SELECT requested_at_ms FROM ${n.scoring_starts} WHERE scoring_id = ?`).get(d.scoringId) as { requested_at_ms: number } | undefined;
        if (start) {
          const duration = Math.max(0, Date.parse(event.metadata.occurredAt) - start.requested_at_ms);
          const inserted = prepared(db, t, 'duration', (n) => `INSERT OR IGNORE INTO ${n.durations} (tenant_id, day, scoring_id, duration_ms) VALUES (?, ?, ?, ?)`).run(tenantId, day, d.scoringId, duration);
          if (inserted.changes > 0) {
            c.duration_count += 1;
            c.duration_sum_ms += duration;
            if (duration > thresholds.maxP95ScoringMs) c.durations_over_threshold += 1;
            if (latencyOver(c, thresholds) && !latencyOver(before, thresholds)) {
              const value = p95(db, t, tenantId, day, c.duration_count) ?? duration;
              this.#alert(event, day, { metric: 'scoring_latency_ms', threshold: thresholds.maxP95ScoringMs, value, previous: p95(db, t, tenantId, day, before.duration_count, d.scoringId), unit: 'ms' });
            }
          }
        }
        break;
      }
      case 'ai.scoring.failed':
        c.scorings_failed += 1;
        c.ai_cost_cents += event.data.costCents;
        break;
      case 'billing.payment.succeeded':
        c.revenue_cents += event.data.amountCents;
        c.payments_succeeded += 1;
        return;
      default:
        return;
    }
    if (rateBelow(c, thresholds) && !rateBelow(before, thresholds)) {
      this.#alert(event, day, {
        metric: 'scorings_completed',
        threshold: thresholds.minSuccessRatePercent,
        value: round2(successRate(c.scorings_completed, c.scorings_failed)) ?? 0,
        previous: round2(successRate(before.scorings_completed, before.scorings_failed)),
        unit: 'percent',
      });
    }
    if (c.ai_cost_cents > thresholds.maxDailyAiCostCents && before.ai_cost_cents <= thresholds.maxDailyAiCostCents) {
      this.#alert(event, day, { metric: 'ai_cost_cents', threshold: thresholds.maxDailyAiCostCents, value: c.ai_cost_cents, previous: before.ai_cost_cents, unit: 'cents' });
    }
  }

  #alert(event: DecodedEvent, day: string, alert: { metric: Metric; threshold: number; value: number; previous: number | undefined; unit: Unit }): void {
    const tenantId = event.metadata.tenantId;
    prepared(
      this.db,
      this.t,
      'alert',
      (n) => `INSERT OR IGNORE INTO ${n.alerts} (tenant_id, day, metric, threshold, value, previous_value, unit, event_id, trigger_event_id, correlation_id, occurred_at, status)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
    ).run(
      tenantId,
      day,
      alert.metric,
      alert.threshold,
      alert.value,
      alert.previous ?? null,
      alert.unit,
      metricAlertEventId(tenantId, day, alert.metric, alert.threshold),
      event.id,
      event.metadata.correlationId,
      event.metadata.occurredAt,
    );
  }

  flush(): void {
    const { db, t } = this;
    const upsertCount = prepared(
      db,
      t,
      'count',
      (n) => `INSERT INTO ${n.event_counts} (tenant_id, day, event_type, count) VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, day, event_type) DO UPDATE SET count = count + excluded.count`,
    );
    for (const c of this.#counts.values()) upsertCount.run(c.tenantId, c.day, c.type, c.n);
    const upsertDay = prepared(
      db,
      t,
      'upsert-daily',
      (n) => `INSERT OR REPLACE INTO ${n.daily} (tenant_id, day, scorings_requested, scorings_completed, scorings_failed, score_sum, duration_count, duration_sum_ms,
                durations_over_threshold, revenue_cents, payments_succeeded, ai_cost_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const { tenantId, day, counters: c } of this.#days.values()) {
      upsertDay.run(
        tenantId,
        day,
        c.scorings_requested,
        c.scorings_completed,
        c.scorings_failed,
        c.score_sum,
        c.duration_count,
        c.duration_sum_ms,
        c.durations_over_threshold,
        c.revenue_cents,
        c.payments_succeeded,
        c.ai_cost_cents,
      );
    }
  }
}

function applierWith(thresholds: AnalyticsThresholds): (db: ReadModelDatabase, events: readonly DecodedEvent[], t: T) => void {
  return (db, events, t) => {
    const batch = new AnalyticsBatch(db, t, thresholds);
    for (const event of events) batch.apply(event);
    batch.flush();
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
  const applyEvents = applierWith(config);
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
            durations_over_threshold INTEGER NOT NULL DEFAULT 0,
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
    apply: (db: ReadModelDatabase, event: DecodedEvent, t: T) => applyEvents(db, [event], t),
    applyBatch: applyEvents,
    afterCommit: emitPendingAlerts,
    carryOver,
  });
}

/** The analytics projection with the default thresholds. */
export const analyticsProjection: Projection<Tables> = createAnalyticsProjection();

// ---------------------------------------------------------------------------------------------
// Queries (tenant-scoped). Any analytics projection instance serves: they share the tables.

function kpis(row: Counters, p95Ms: number | undefined): Omit<AnalyticsDay, 'day' | 'eventCounts'> {
  const rate = successRate(row.scorings_completed, row.scorings_failed);
  return {
    scoringsRequested: row.scorings_requested,
    scoringsCompleted: row.scorings_completed,
    scoringsFailed: row.scorings_failed,
    ...(rate !== undefined ? { successRatePercent: Math.round(rate * 100) / 100 } : {}),
    ...(row.duration_count > 0 ? { avgScoringMs: Math.round(row.duration_sum_ms / row.duration_count) } : {}),
    ...(p95Ms !== undefined ? { p95ScoringMs: p95Ms } : {}),
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
  const total: Counters = { ...EMPTY };
  for (const row of rows) {
    for (const key of Object.keys(EMPTY) as (keyof Counters)[]) total[key] += row[key];
  }
  const rangeP95 =
    total.duration_count > 0
      ? (
          prepared(db, t, 'p95-range', (n) => `SELECT duration_ms FROM ${n.durations} WHERE tenant_id = ? AND day >= ? AND day <= ? ORDER BY duration_ms DESC LIMIT 1 OFFSET ?`).get(
            tenantId,
            range.from,
            range.to,
            total.duration_count - Math.ceil(0.95 * total.duration_count),
          ) as { duration_ms: number } | undefined
        )?.duration_ms
      : undefined;
  return {
    tenantId,
    from: range.from,
    to: range.to,
    days: [...days].sort().map((day) => {
      const row = byDay.get(day);
      return { day, eventCounts: countsByDay.get(day) ?? {}, ...kpis(row ?? EMPTY, row ? p95(db, t, tenantId, day, row.duration_count) : undefined) };
    }),
    totals: { eventCounts: totalCounts, ...kpis(total, rangeP95) },
  };
}

/** The tenant's KPI alerts, newest day first. */
export function listMetricAlerts(db: ReadModelDatabase, tenantId: string, projection: Projection<Tables> = analyticsProjection): MetricAlert[] {
  const t = activeTables(db, projection);
  const rows = cachedStatement(db, `SELECT * FROM ${t.alerts} WHERE tenant_id = ? ORDER BY day DESC, metric, threshold`).all(tenantId) as AlertRow[];
  return rows.map((row) => ({ day: row.day, metric: row.metric, threshold: row.threshold, value: row.value, unit: row.unit, status: row.status, eventId: row.event_id }));
}
