/** Payloads of the analytics domain events. */
import { Type } from 'typebox';
import { DateTime, IsoDate, Obj, StringEnum, TenantId, Uuid } from '../common.js';

export const ACTION_CATEGORIES = ['navigation', 'scoring', 'billing', 'account', 'other'] as const;

export const ActionName = Type.String({
  pattern: '^[a-z][a-z0-9_.]{0,63}$',
  maxLength: 64,
  description: 'What the user did, snake/dot case',
  examples: ['page_view', 'scoring.result_viewed'],
});

/** Free-form action properties: up to 30 flat scalar values, keys in snake case. No personal data. */
export const ActionProperties = Type.Record(
  Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$' }),
  Type.Union([Type.String({ maxLength: 500 }), Type.Number(), Type.Boolean(), Type.Null()]),
  { maxProperties: 30, additionalProperties: false, description: 'Flat scalar properties of the action (no personal data)' },
);

/** The part of a user action a client sends (see api/analytics.ts); the event adds the tenant. */
export const userActionProperties = {
  action: ActionName,
  category: StringEnum([...ACTION_CATEGORIES]),
  properties: Type.Optional(ActionProperties),
  sessionId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' })),
  page: Type.Optional(Type.String({ maxLength: 2048, description: 'Path of the page in the web app', examples: ['/scorings/new'] })),
  clientTimestamp: Type.Optional(DateTime({ description: "When the client saw the action (the server's time is metadata.occurredAt)" })),
};

export const AnalyticsEventRecordedV1 = Obj(
  { tenantId: TenantId, ...userActionProperties },
  {
    description: 'A user action was tracked (the acting user is metadata.userId).',
    examples: [
      { tenantId: 'acme-lending', action: 'page_view', category: 'navigation', page: '/scorings/new', properties: { referrer: 'dashboard' }, clientTimestamp: '2025-03-14T09:26:50Z' },
    ],
  },
);

export const METRICS = [
  'scorings_requested',
  'scorings_completed',
  'scorings_failed',
  'average_match_score',
  'revenue_cents',
  'active_subscriptions',
  'ai_cost_cents',
  'scoring_latency_ms',
] as const;

export const AnalyticsMetricUpdatedV1 = Obj(
  {
    tenantId: TenantId,
    metric: StringEnum([...METRICS]),
    value: Type.Number({ minimum: -1e15, maximum: 1e15 }),
    previousValue: Type.Optional(Type.Number({ minimum: -1e15, maximum: 1e15 })),
    unit: StringEnum(['count', 'cents', 'percent', 'score', 'ms']),
    window: StringEnum(['hour', 'day', 'week', 'month']),
    windowStart: DateTime(),
  },
  {
    description: 'A KPI of a tenant changed for a time window.',
    examples: [
      { tenantId: 'acme-lending', metric: 'scorings_completed', value: 128, previousValue: 127, unit: 'count', window: 'day', windowStart: '2025-03-14T00:00:00Z' },
    ],
  },
);

export const AnalyticsReportGeneratedV1 = Obj(
  {
    reportId: Uuid(),
    tenantId: TenantId,
    reportType: StringEnum(['usage_summary', 'scoring_performance', 'revenue', 'ai_cost']),
    from: IsoDate(),
    to: IsoDate(),
    format: StringEnum(['pdf', 'csv', 'json']),
    location: Type.String({ format: 'uri', maxLength: 1024, description: 'Where the report is stored', examples: ['s3://mmp-reports/acme-lending/2025-03.pdf'] }),
    sizeBytes: Type.Integer({ minimum: 0, maximum: 10_000_000_000 }),
  },
  {
    description: 'A report was produced and stored.',
    examples: [
      {
        reportId: 'd4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70',
        tenantId: 'acme-lending',
        reportType: 'usage_summary',
        from: '2025-03-01',
        to: '2025-03-31',
        format: 'pdf',
        location: 's3://mmp-reports/acme-lending/2025-03.pdf',
        sizeBytes: 48_213,
      },
    ],
  },
);
