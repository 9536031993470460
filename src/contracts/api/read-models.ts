/**
 * HTTP bodies of the read models (src/projections): the scoring list, invoices, the analytics
 * series, reports and projection rebuilds. Every query is tenant-scoped (the tenant comes from
 * authentication). Money in integer cents; days `YYYY-MM-DD` (UTC); billing periods `YYYY-MM`.
 */
import { Type, type Static } from 'typebox';
import { BillingPeriod, Cents, Currency, DateTime, IsoDate, MAX_CENTS, Obj, PlanId, ScoringId, StringEnum, TenantId, Uuid } from '../common.js';
import { AttemptSchema, RISK_BANDS, SCORING_ERROR_CODES } from '../events/ai.js';
import { METRICS } from '../events/analytics.js';
import { SubscriptionId } from '../events/billing.js';
import { SCORING_STATUSES } from './scoring.js';
import { SUBSCRIPTION_STATUSES } from './billing.js';

const Cursor = Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$', description: 'Opaque cursor from the previous page' });
const SignedCents = (options: Record<string, unknown> = {}) => Type.Integer({ minimum: -MAX_CENTS, maximum: MAX_CENTS, ...options });
const Count = (options: Record<string, unknown> = {}) => Type.Integer({ minimum: 0, ...options });

// ---------------------------------------------------------------------------------------------
// Scoring requests

export const SCORING_LIST_MAX_LIMIT = 100;
export const SCORING_LIST_DEFAULT_LIMIT = 20;

/** GET /scorings querystring: newest first; `from` inclusive, `to` exclusive, on requestedAt. */
export const ScoringListQuerySchema = Obj({
  status: Type.Optional(StringEnum([...SCORING_STATUSES])),
  from: Type.Optional(DateTime({ description: 'Requested at or after' })),
  to: Type.Optional(DateTime({ description: 'Requested before' })),
  cursor: Type.Optional(Cursor),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SCORING_LIST_MAX_LIMIT, default: SCORING_LIST_DEFAULT_LIMIT })),
});
export type ScoringListQuery = Static<typeof ScoringListQuerySchema>;

export const ScoringSummarySchema = Obj(
  {
    scoringId: ScoringId,
    status: StringEnum([...SCORING_STATUSES]),
    attempt: AttemptSchema,
    requestedAt: DateTime(),
    updatedAt: DateTime(),
    matchScore: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    riskBand: Type.Optional(StringEnum([...RISK_BANDS])),
    errorCode: Type.Optional(StringEnum([...SCORING_ERROR_CODES])),
  },
  { description: 'One scoring request in a list (no personal data; read the request for details)' },
);
export type ScoringSummary = Static<typeof ScoringSummarySchema>;

export const ScoringPageSchema = Obj({
  items: Type.Array(ScoringSummarySchema, { maxItems: SCORING_LIST_MAX_LIMIT }),
  nextCursor: Type.Optional(Type.String({ maxLength: 512, description: 'Absent on the last page' })),
});
export type ScoringPage = Static<typeof ScoringPageSchema>;

// ---------------------------------------------------------------------------------------------
// Invoices

export const INVOICE_LINE_KINDS = ['plan_fee', 'plan_change_credit', 'plan_change_charge', 'included_usage', 'overage_usage'] as const;
export const INVOICE_STATUSES = ['open', 'settled'] as const;

export const InvoiceLineSchema = Obj({
  kind: StringEnum([...INVOICE_LINE_KINDS]),
  description: Type.String({ maxLength: 500 }),
  plan: PlanId,
  quantity: Count(),
  unitPriceCents: SignedCents({ description: 'Negative for credits' }),
  amountCents: SignedCents({ description: 'quantity × unitPriceCents; negative for credits' }),
});
export type InvoiceLine = Static<typeof InvoiceLineSchema>;

const invoiceSummaryProperties = {
  subscriptionId: SubscriptionId,
  tenantId: TenantId,
  period: BillingPeriod,
  plan: PlanId,
  subscriptionStatus: StringEnum([...SUBSCRIPTION_STATUSES, 'unknown']),
  currency: Currency,
  totalCents: SignedCents(),
  paidCents: Cents(),
  balanceDueCents: SignedCents({ description: 'totalCents - paidCents' }),
  status: StringEnum([...INVOICE_STATUSES], { description: 'settled when nothing is due' }),
  usage: Obj({ scorings: Count(), included: Count(), overage: Count() }),
  aiCostCents: Cents({ description: 'AI provider cost of the period (not billed; for admins)' }),
};

export const InvoiceSummarySchema = Obj(invoiceSummaryProperties, { description: 'An invoice of one subscription and billing period, without its lines' });
export type InvoiceSummary = Static<typeof InvoiceSummarySchema>;

export const InvoiceSchema = Obj(
  { ...invoiceSummaryProperties, lines: Type.Array(InvoiceLineSchema, { maxItems: 1000 }) },
  {
    description: 'An invoice: plan fee (prorated in the first period and on plan changes), included and overage scorings',
    examples: [
      {
        subscriptionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
        tenantId: 'acme-lending',
        period: '2025-03',
        plan: 'pro',
        subscriptionStatus: 'active',
        currency: 'USD',
        totalCents: 11_655,
        paidCents: 0,
        balanceDueCents: 11_655,
        status: 'open',
        usage: { scorings: 2, included: 2, overage: 0 },
        aiCostCents: 84,
        lines: [
          { kind: 'plan_fee', description: 'Pro plan 2025-03-14 to 2025-04-01 (prorated)', plan: 'pro', quantity: 1, unitPriceCents: 11_655, amountCents: 11_655 },
          { kind: 'included_usage', description: 'Scorings included in the Pro plan', plan: 'pro', quantity: 2, unitPriceCents: 0, amountCents: 0 },
        ],
      },
    ],
  },
);
export type Invoice = Static<typeof InvoiceSchema>;

export const InvoiceListQuerySchema = Obj({
  period: Type.Optional(BillingPeriod),
  subscriptionId: Type.Optional(SubscriptionId),
});
export type InvoiceListQuery = Static<typeof InvoiceListQuerySchema>;

export const InvoiceListSchema = Obj({ invoices: Type.Array(InvoiceSummarySchema, { maxItems: 10_000 }) });
export type InvoiceList = Static<typeof InvoiceListSchema>;

export const InvoiceParamsSchema = Obj({ subscriptionId: SubscriptionId, period: BillingPeriod });
export type InvoiceParams = Static<typeof InvoiceParamsSchema>;

// ---------------------------------------------------------------------------------------------
// Analytics

export const ANALYTICS_MAX_DAYS = 366;

/** GET /analytics/daily querystring: both days inclusive, at most ANALYTICS_MAX_DAYS. */
export const AnalyticsSeriesQuerySchema = Obj({ from: IsoDate(), to: IsoDate() });
export type AnalyticsSeriesQuery = Static<typeof AnalyticsSeriesQuerySchema>;

const EventCounts = Type.Record(Type.String({ maxLength: 128 }), Count(), { description: 'Events of the day by type (unversioned)' });

const kpiProperties = {
  scoringsRequested: Count({ description: 'ai.scoring.requested (attempts, retries included)' }),
  scoringsCompleted: Count(),
  scoringsFailed: Count({ description: 'Failed attempts' }),
  successRatePercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'completed / (completed + failed attempts)' })),
  avgScoringMs: Type.Optional(Type.Number({ minimum: 0, description: 'First request → completion (occurredAt), completions of the day' })),
  p95ScoringMs: Type.Optional(Type.Number({ minimum: 0, description: 'Nearest-rank 95th percentile of the same' })),
  avgMatchScore: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  revenueCents: Cents({ description: 'billing.payment.succeeded' }),
  paymentsSucceeded: Count(),
  aiCostCents: Cents({ description: 'AI provider cost of completed and failed attempts' }),
};

export const AnalyticsDaySchema = Obj({ day: IsoDate(), eventCounts: EventCounts, ...kpiProperties });
export type AnalyticsDay = Static<typeof AnalyticsDaySchema>;

export const AnalyticsSeriesSchema = Obj(
  {
    tenantId: TenantId,
    from: IsoDate(),
    to: IsoDate(),
    days: Type.Array(AnalyticsDaySchema, { maxItems: ANALYTICS_MAX_DAYS, description: 'Days with activity only, ascending' }),
    totals: Obj({ eventCounts: EventCounts, ...kpiProperties }, { description: 'The whole range (p95 over all its scorings)' }),
  },
  { description: 'Daily KPIs of a tenant' },
);
export type AnalyticsSeries = Static<typeof AnalyticsSeriesSchema>;

export const MetricAlertSchema = Obj({
  day: IsoDate(),
  metric: StringEnum([...METRICS]),
  threshold: Type.Number(),
  value: Type.Number(),
  unit: StringEnum(['count', 'cents', 'percent', 'score', 'ms']),
  status: StringEnum(['pending', 'emitted', 'suppressed'], { description: 'suppressed: found by a rebuild replay, never emitted' }),
  eventId: Uuid({ description: 'Id of the analytics.metric.updated event' }),
});
export type MetricAlert = Static<typeof MetricAlertSchema>;

export const MetricAlertListSchema = Obj({ alerts: Type.Array(MetricAlertSchema, { maxItems: 10_000 }) });

// ---------------------------------------------------------------------------------------------
// Reports

export const REPORT_TYPES = ['usage_summary', 'scoring_performance', 'revenue', 'ai_cost'] as const;
export const REPORT_FORMATS = ['json', 'csv'] as const;

/** POST /analytics/reports (both days inclusive). */
export const GenerateReportBodySchema = Obj(
  {
    reportType: StringEnum([...REPORT_TYPES]),
    from: IsoDate(),
    to: IsoDate(),
    format: Type.Optional(StringEnum([...REPORT_FORMATS], { default: 'json' })),
  },
  { examples: [{ reportType: 'usage_summary', from: '2025-03-01', to: '2025-03-31', format: 'csv' }] },
);
export type GenerateReportBody = Static<typeof GenerateReportBodySchema>;

export const ReportGeneratedSchema = Obj({
  reportId: Uuid(),
  tenantId: TenantId,
  reportType: StringEnum([...REPORT_TYPES]),
  from: IsoDate(),
  to: IsoDate(),
  format: StringEnum([...REPORT_FORMATS]),
  location: Type.String({ maxLength: 1024 }),
  sizeBytes: Count(),
});
export type ReportGenerated = Static<typeof ReportGeneratedSchema>;

// ---------------------------------------------------------------------------------------------
// Projection rebuilds (admin)

const DecimalPosition = Type.String({ pattern: '^[0-9]{1,20}$', description: 'Commit position in $all, decimal' });

export const REBUILD_PHASES = ['starting', 'replaying', 'catching_up', 'swapping', 'done'] as const;
export const REBUILD_STATES = ['running', 'completed', 'failed'] as const;

export const RebuildProgressSchema = Obj({
  phase: StringEnum([...REBUILD_PHASES]),
  events: Count({ description: 'Events replayed so far' }),
  position: Type.Optional(DecimalPosition),
  headPosition: Type.Optional(DecimalPosition),
  eventsPerSecond: Type.Number({ minimum: 0 }),
  etaSeconds: Type.Optional(Type.Number({ minimum: 0 })),
});
export type RebuildProgressView = Static<typeof RebuildProgressSchema>;

export const RebuildStatusSchema = Obj({
  id: Uuid(),
  projection: Type.String({ maxLength: 64 }),
  state: StringEnum([...REBUILD_STATES]),
  startedAt: DateTime(),
  finishedAt: Type.Optional(DateTime()),
  progress: RebuildProgressSchema,
  result: Type.Optional(
    Obj({
      generation: Type.Integer({ minimum: 1 }),
      events: Count(),
      skippedCorrupt: Count(),
      durationMs: Type.Number({ minimum: 0 }),
      eventsPerSecond: Type.Number({ minimum: 0 }),
    }),
  ),
  error: Type.Optional(Type.String({ maxLength: 2000 })),
});
export type RebuildStatusView = Static<typeof RebuildStatusSchema>;

export const RebuildParamsSchema = Obj({ projection: Type.String({ pattern: '^[a-z][a-z0-9_]{0,47}$' }) });
export const RebuildIdParamsSchema = Obj({ rebuildId: Uuid() });
