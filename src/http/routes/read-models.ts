import { Type } from 'typebox';
import {
  AnalyticsSeriesQuerySchema,
  AnalyticsSeriesSchema,
  GenerateReportBodySchema,
  InvoiceListQuerySchema,
  InvoiceListSchema,
  InvoiceParamsSchema,
  InvoiceSchema,
  MetricAlertListSchema,
  RebuildIdParamsSchema,
  RebuildParamsSchema,
  RebuildStatusSchema,
  ReportGeneratedSchema,
  ScoringListQuerySchema,
  ScoringPageSchema,
} from '../../contracts/api/read-models.js';
import type { EngineDeps } from '../../engine/engine-deps.js';
import { RebuildInProgressError, type RebuildTracker } from '../../engine/rebuild.js';
import type { OutboxEmailTransport } from '../../integrations/email/outbox.js';
import { getAnalyticsSeries, listMetricAlerts } from '../../projections/analytics.js';
import { generateReport } from '../../projections/reports.js';
import { listScoringRequests } from '../../projections/scoring-status.js';
import { getInvoice, listInvoices } from '../../projections/usage-invoices.js';
import type { App } from '../app.js';
import { ApiError, NotFound } from '../errors.js';
import { principalOf } from '../request-context.js';
import { AUTHENTICATED_ERRORS, commandContext, errorResponses } from './common.js';

const OutboxQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false });
const OutboxList = Type.Object({
  emails: Type.Array(
    Type.Object({
      id: Type.String(),
      messageId: Type.String(),
      to: Type.String(),
      subject: Type.String(),
      text: Type.String(),
      correlationId: Type.Optional(Type.String()),
      sentAt: Type.String(),
    }),
  ),
});

function badRange(error: unknown): never {
  if (error instanceof RangeError) throw new ApiError(400, 'VALIDATION_FAILED', error.message, [{ path: '/querystring', message: error.message }]);
  throw error;
}

/** Tenant-scoped reads of the projections, reports, the e-mail outbox and projection rebuilds. */
export function registerReadModelRoutes(app: App, deps: EngineDeps, rebuilds: RebuildTracker, outbox: OutboxEmailTransport | undefined): void {
  app.get(
    '/scorings',
    {
      config: { access: 'user' },
      schema: { tags: ['scoring'], summary: "The tenant's scoring requests, newest first, with filters", querystring: ScoringListQuerySchema, response: { 200: ScoringPageSchema, ...errorResponses(...AUTHENTICATED_ERRORS) } },
    },
    async (request) => listScoringRequests(deps.readDb, principalOf(request).tenantId, request.query),
  );

  app.get(
    '/invoices',
    {
      config: { access: 'user' },
      schema: { tags: ['billing'], summary: "The tenant's usage invoices", querystring: InvoiceListQuerySchema, response: { 200: InvoiceListSchema, ...errorResponses(...AUTHENTICATED_ERRORS) } },
    },
    async (request) => listInvoices(deps.readDb, principalOf(request).tenantId, request.query),
  );

  app.get(
    '/invoices/:subscriptionId/:period',
    {
      config: { access: 'user' },
      schema: { tags: ['billing'], summary: 'One invoice with its line items', params: InvoiceParamsSchema, response: { 200: InvoiceSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404) } },
    },
    async (request) => {
      const invoice = getInvoice(deps.readDb, principalOf(request).tenantId, request.params.subscriptionId, request.params.period);
      if (!invoice) throw new NotFound(`Invoice ${request.params.subscriptionId}/${request.params.period}`);
      return invoice;
    },
  );

  app.get(
    '/analytics',
    {
      config: { access: 'admin' },
      schema: { tags: ['analytics'], summary: 'Daily KPIs of the tenant', querystring: AnalyticsSeriesQuerySchema, response: { 200: AnalyticsSeriesSchema, ...errorResponses(...AUTHENTICATED_ERRORS) } },
    },
    async (request) => {
      try {
        return getAnalyticsSeries(deps.readDb, principalOf(request).tenantId, request.query);
      } catch (error) {
        return badRange(error);
      }
    },
  );

  app.get(
    '/analytics/alerts',
    { config: { access: 'admin' }, schema: { tags: ['analytics'], summary: 'KPI threshold alerts', response: { 200: MetricAlertListSchema, ...errorResponses(...AUTHENTICATED_ERRORS) } } },
    async (request) => ({ alerts: listMetricAlerts(deps.readDb, principalOf(request).tenantId) }),
  );

  app.post(
    '/analytics/reports',
    {
      config: { access: 'admin' },
      schema: { tags: ['analytics'], summary: 'Generate a report (analytics.report.generated; e-mailed)', body: GenerateReportBodySchema, response: { 201: ReportGeneratedSchema, ...errorResponses(...AUTHENTICATED_ERRORS) } },
    },
    async (request, reply) => {
      const context = commandContext(request);
      try {
        const report = await generateReport(deps, context.tenantId, { from: request.body.from, to: request.body.to }, { reportType: request.body.reportType, format: request.body.format ?? 'json', context });
        return reply.status(201).send(report);
      } catch (error) {
        return badRange(error);
      }
    },
  );

  app.get(
    '/admin/outbox',
    { config: { access: 'admin' }, schema: { tags: ['admin'], summary: "E-mails sent to the tenant through the local outbox (no SMTP configured)", querystring: OutboxQuery, response: { 200: OutboxList, ...errorResponses(...AUTHENTICATED_ERRORS) } } },
    async (request) => ({
      emails: (outbox?.list({ tenantId: principalOf(request).tenantId, limit: request.query.limit ?? 100 }) ?? []).map((e) => ({
        id: e.id,
        messageId: e.messageId,
        to: e.to,
        subject: e.subject,
        text: e.text,
        ...(e.correlationId !== undefined ? { correlationId: e.correlationId } : {}),
        sentAt: e.sentAt,
      })),
    }),
  );

  app.post(
    '/admin/projections/:projection/rebuild',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['admin'],
        summary: 'Rebuild a projection by replaying $all into fresh tables, then swap',
        description: 'The old read model serves until the swap. Poll GET /admin/rebuilds/{rebuildId} for progress.',
        params: RebuildParamsSchema,
        response: { 202: RebuildStatusSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409) },
      },
    },
    async (request, reply) => {
      if (!rebuilds.projections.includes(request.params.projection)) throw new NotFound(`Projection ${request.params.projection}`);
      try {
        const status = rebuilds.start(request.params.projection);
        return reply.status(202).header('location', `/admin/rebuilds/${status.id}`).send(status);
      } catch (error) {
        if (error instanceof RebuildInProgressError) throw new ApiError(409, 'REBUILD_IN_PROGRESS', error.message);
        throw error;
      }
    },
  );

  app.get(
    '/admin/rebuilds/:rebuildId',
    {
      config: { access: 'operator' },
      schema: { tags: ['admin'], summary: 'Progress of a rebuild', params: RebuildIdParamsSchema, response: { 200: RebuildStatusSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404) } },
    },
    async (request) => {
      const status = rebuilds.status(request.params.rebuildId);
      if (!status) throw new NotFound(`Rebuild ${request.params.rebuildId}`);
      return status;
    },
  );
}
