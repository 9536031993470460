/**
 * Reports: `generateReport` builds a report of one tenant over a range of days from the read
 * models (analytics series, invoices of the periods in range), stores it (ReportStorage; by
 * default a table of the read-model database), and appends analytics.report.generated to
 * `analytics-reports-{tenantId}` with a deterministic id from the report id (expected revision
 * 'any'), so calling it again with the same reportId re-appends the same event (deduplicated).
 * The notification side e-mails the report on that event: `readReport` gives it the content.
 *
 * Read models are eventually consistent: the report shows what was projected when it ran.
 */
import type { AnalyticsSeries, InvoiceSummary, ReportGenerated } from '../contracts/api/read-models.js';
import { REPORT_FORMATS, REPORT_TYPES } from '../contracts/api/read-models.js';
import { toEventData } from '../contracts/events/codec.js';
import { deterministicEventId, newId } from '../contracts/ids.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import type { CommandContext } from '../engine/request-context.js';
import { envelopeOf } from '../engine/request-context.js';
import { migrate, type ReadModelDatabase } from '../readmodel/database.js';
import { walSyncOf } from '../readmodel/wal-sync.js';
import { getAnalyticsSeries } from './analytics.js';
import { listInvoices } from './usage-invoices.js';

/** Namespace of analytics.report.generated ids, key = reportId (never change it). */
export const REPORT_EVENT_NAMESPACE = 'ac59d022-9b37-403f-ae4f-3ee4b627a1cd';

export type ReportType = (typeof REPORT_TYPES)[number];
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportPeriod {
  /** First day, YYYY-MM-DD (inclusive). */
  readonly from: string;
  /** Last day, YYYY-MM-DD (inclusive). */
  readonly to: string;
}

export interface StoredReport {
  readonly reportId: string;
  readonly tenantId: string;
  readonly reportType: ReportType;
  readonly format: ReportFormat;
  readonly from: string;
  readonly to: string;
  readonly contentType: string;
  readonly content: string;
  readonly createdAt: string;
}

/** Where report files go. `put` returns the report's location (a URI). */
export interface ReportStorage {
  put(report: StoredReport): Promise<string>;
  get(tenantId: string, reportId: string): Promise<StoredReport | undefined>;
}

export function reportsStreamId(tenantId: string): string {
  return `analytics-reports-${tenantId}`;
}

const REPORTS_MODULE = 'analytics.reports';

/** Stores reports in the read-model database (table analytics_reports); location `mmp-report://{tenantId}/{reportId}.{format}`. */
export class DatabaseReportStorage implements ReportStorage {
  constructor(private readonly db: ReadModelDatabase) {
    migrate(db, REPORTS_MODULE, [
      {
        version: 1,
        sql: `CREATE TABLE IF NOT EXISTS analytics_reports (
          report_id TEXT PRIMARY KEY,
          tenant_id TEXT NOT NULL,
          report_type TEXT NOT NULL,
          format TEXT NOT NULL,
          from_day TEXT NOT NULL,
          to_day TEXT NOT NULL,
          content_type TEXT NOT NULL,
          content TEXT NOT NULL,
          created_at TEXT NOT NULL
        )`,
      },
    ]);
  }

  put(report: StoredReport): Promise<string> {
    walSyncOf(this.db).outsideBatch(() =>
      this.db
      .prepare(
        `INSERT INTO analytics_reports (report_id, tenant_id, report_type, format, from_day, to_day, content_type, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (report_id) DO UPDATE SET content = excluded.content, content_type = excluded.content_type, created_at = excluded.created_at WHERE tenant_id = excluded.tenant_id`,
      )
      .run(report.reportId, report.tenantId, report.reportType, report.format, report.from, report.to, report.contentType, report.content, report.createdAt),
    );
    return Promise.resolve(`mmp-report://${report.tenantId}/${report.reportId}.${report.format}`);
  }

  get(tenantId: string, reportId: string): Promise<StoredReport | undefined> {
    const row = this.db.prepare('SELECT * FROM analytics_reports WHERE report_id = ? AND tenant_id = ?').get(reportId, tenantId) as
      | { report_id: string; tenant_id: string; report_type: ReportType; format: ReportFormat; from_day: string; to_day: string; content_type: string; content: string; created_at: string }
      | undefined;
    if (!row) return Promise.resolve(undefined);
    return Promise.resolve({
      reportId: row.report_id,
      tenantId: row.tenant_id,
      reportType: row.report_type,
      format: row.format,
      from: row.from_day,
      to: row.to_day,
      contentType: row.content_type,
      content: row.content,
      createdAt: row.created_at,
    });
  }
}

export interface GenerateReportOptions {
  readonly reportType?: ReportType;
  readonly format?: ReportFormat;
  /** Default: a random uuid. The same id again = the same report event (idempotent). */
  readonly reportId?: string;
  /** Who asked (correlation, user); default: a fresh correlation id, no user. */
  readonly context?: CommandContext;
  readonly storage?: ReportStorage;
}

/** The report document (format json is this object; csv is `days` flattened). */
export interface ReportDocument {
  readonly reportId: string;
  readonly tenantId: string;
  readonly reportType: ReportType;
  readonly from: string;
  readonly to: string;
  readonly generatedAt: string;
  readonly totals: AnalyticsSeries['totals'];
  readonly days: AnalyticsSeries['days'];
  readonly invoices: readonly InvoiceSummary[];
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

function csvOf(document: ReportDocument): string {
  const columns = ['day', 'scoringsRequested', 'scoringsCompleted', 'scoringsFailed', 'successRatePercent', 'avgScoringMs', 'p95ScoringMs', 'avgMatchScore', 'revenueCents', 'paymentsSucceeded', 'aiCostCents'] as const;
  const lines = [columns.join(',')];
  for (const day of document.days) lines.push(columns.map((c) => String(day[c] ?? '')).join(','));
  return `${lines.join('\n')}\n`;
}

/** Builds, stores and announces (analytics.report.generated) a report of `tenantId` over `period`. */
export async function generateReport(
  deps: Pick<EngineDeps, 'store' | 'readDb' | 'clock'>,
  tenantId: string,
  period: ReportPeriod,
  options: GenerateReportOptions = {},
): Promise<ReportGenerated> {
  if (!DAY_RE.test(period.from) || !DAY_RE.test(period.to) || period.from > period.to) throw new RangeError('The report period needs days from <= to (YYYY-MM-DD)');
  const reportType = options.reportType ?? 'usage_summary';
  const format = options.format ?? 'json';
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw new RangeError(`Unsupported report format '${format}'`);
  const reportId = options.reportId ?? newId();
  const now = deps.clock().toISOString();
  const series = getAnalyticsSeries(deps.readDb, tenantId, period);
  const fromPeriod = period.from.slice(0, 7);
  const toPeriod = period.to.slice(0, 7);
  const invoices = reportType === 'usage_summary' || reportType === 'revenue' ? listInvoices(deps.readDb, tenantId).invoices.filter((i) => i.period >= fromPeriod && i.period <= toPeriod) : [];
  const document: ReportDocument = { reportId, tenantId, reportType, from: period.from, to: period.to, generatedAt: now, totals: series.totals, days: series.days, invoices };
  const content = format === 'csv' ? csvOf(document) : JSON.stringify(document);
  const storage = options.storage ?? new DatabaseReportStorage(deps.readDb);
  const location = await storage.put({ reportId, tenantId, reportType, format, from: period.from, to: period.to, contentType: format === 'csv' ? 'text/csv' : 'application/json', content, createdAt: now });
  const sizeBytes = Buffer.byteLength(content, 'utf8');
  const context: CommandContext = options.context ?? { tenantId, correlationId: reportId, causationId: reportId };
  const data = { reportId, tenantId, reportType, from: period.from, to: period.to, format, location, sizeBytes };
  await deps.store.append(reportsStreamId(tenantId), [toEventData('analytics.report.generated', data, envelopeOf({ ...context, tenantId }, now), deterministicEventId(REPORT_EVENT_NAMESPACE, reportId))], {
    expectedRevision: 'any',
  });
  return data;
}

/** A stored report of the tenant (for the e-mail, or a download route). */
export function readReport(deps: Pick<EngineDeps, 'readDb'>, tenantId: string, reportId: string, storage: ReportStorage = new DatabaseReportStorage(deps.readDb)): Promise<StoredReport | undefined> {
  return storage.get(tenantId, reportId);
}
