/**
 * scoring_status: one row per scoring request (tenant, status, attempt, requested/updated at,
 * match score, risk band) with the rest of its view (evolveScoringView): request, result and
 * failure as JSON columns. Serves the tenant's scoring list (filters, cursor paging) and the
 * single read (the same view ScoringService.view folds from the stream).
 */
import type { ScoringListQuery, ScoringPage, ScoringSummary } from '../contracts/api/read-models.js';
import { SCORING_LIST_DEFAULT_LIMIT, SCORING_LIST_MAX_LIMIT } from '../contracts/api/read-models.js';
import type { ScoringRequestView } from '../contracts/api/scoring.js';
import type { DecodedEvent } from '../contracts/events/codec.js';
import { EXAMPLE_SCORING_REQUEST, type ScoringRequest } from '../contracts/scoring-request.js';
import { InvalidCursorError } from '../engine/event-log.js';
import type { ReadModelDatabase } from '../readmodel/database.js';
import { activeTables, cachedStatement, prepared, type Projection, type TableNames } from './projection.js';
import { evolveScoringView } from './scoring-view.js';

type Tables = 'requests';

interface RequestRow {
  scoring_id: string;
  tenant_id: string;
  status: ScoringRequestView['status'];
  attempt: number;
  max_attempts: number;
  requested_at: string;
  updated_at: string;
  view_requested_at: string;
  view_updated_at: string;
  match_score: number | null;
  risk_band: string | null;
  error_code: string | null;
  request_json: string;
  result_json: string | null;
  failure_json: string | null;
}

/** ISO-8601 in one shape (toISOString), so text order is time order. */
export function normalizeTime(at: string): string {
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) throw new RangeError(`Not a date-time: ${at}`);
  return new Date(ms).toISOString();
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function sortableTime(at: string): string {
  return ISO_RE.test(at) ? at : normalizeTime(at);
}

type StoredState = Pick<RequestRow, 'scoring_id' | 'tenant_id' | 'status' | 'attempt' | 'max_attempts' | 'view_requested_at' | 'view_updated_at'>;

interface Pending {
  /** The row existed before this batch (false also when not looked up: entries opened by a requested event). */
  readonly stored: boolean;
  view: ScoringRequestView | undefined;
  changed: boolean;
  /** Set when an ai.scoring.requested event in the batch carried the request. */
  request?: ScoringRequest;
}

/**
 * Folds the events with evolveScoringView in memory and writes each touched row once. The stored
 * row splits the view: the request (large, written with each requested event) and the outcome are
 * JSON columns, the rest plain columns. Folding needs only the plain columns: evolveScoringView
 * never carries an old result or failure into the next view, and takes the request from the event
 * on ai.scoring.requested (the request in a view loaded from a row is a placeholder, never written).
 */
function applyEvents(db: ReadModelDatabase, events: readonly DecodedEvent[], t: TableNames<Tables>): void {
  const pending = new Map<string, Pending>();
  for (const event of events) {
    if (event.type !== 'ai.scoring.requested' && event.type !== 'ai.scoring.completed' && event.type !== 'ai.scoring.failed') continue;
    const scoringId = event.data.scoringId;
    let entry = pending.get(scoringId);
    if (!entry && event.type === 'ai.scoring.requested') {
      // A requested event needs no earlier state but requestedAt, which the upsert keeps on conflict.
      entry = { stored: false, changed: false, view: undefined };
      pending.set(scoringId, entry);
    } else if (!entry) {
      const row = prepared(db, t, 'load', (n) => `SELECT scoring_id, tenant_id, status, attempt, max_attempts, view_requested_at, view_updated_at FROM ${n.requests} WHERE scoring_id = ?`).get(scoringId) as
        | StoredState
        | undefined;
      entry = {
        stored: row !== undefined,
        changed: false,
        view: row
          ? {
              scoringId: row.scoring_id,
              tenantId: row.tenant_id,
              status: row.status,
              attempt: row.attempt,
              maxAttempts: row.max_attempts,
              requestedAt: row.view_requested_at,
              updatedAt: row.view_updated_at,
              request: EXAMPLE_SCORING_REQUEST,
            }
          : undefined,
      };
      pending.set(scoringId, entry);
    }
    const next = evolveScoringView(entry.view, event);
    if (next === entry.view) continue;
    entry.view = next;
    entry.changed = true;
    if (event.type === 'ai.scoring.requested') entry.request = event.data.request;
  }
  for (const entry of pending.values()) {
    const view = entry.view;
    if (!entry.changed || view === undefined) continue;
    const common = [
      view.status,
      view.attempt,
      view.maxAttempts,
      sortableTime(view.updatedAt),
      view.updatedAt,
      view.result?.matchScore ?? null,
      view.result?.riskBand ?? null,
      view.failure?.errorCode ?? null,
      view.result ? JSON.stringify(view.result) : null,
      view.failure ? JSON.stringify(view.failure) : null,
    ];
    if (entry.request !== undefined) {
      prepared(
        db,
        t,
        'upsert',
        (n) => `INSERT INTO ${n.requests} (status, attempt, max_attempts, updated_at, view_updated_at, match_score, risk_band, error_code, result_json, failure_json,
                  scoring_id, tenant_id, requested_at, view_requested_at, request_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (scoring_id) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, max_attempts = excluded.max_attempts, -- requested_at: the first one stays

                  updated_at = excluded.updated_at, view_updated_at = excluded.view_updated_at, match_score = excluded.match_score, risk_band = excluded.risk_band,
                  error_code = excluded.error_code, result_json = excluded.result_json, failure_json = excluded.failure_json, request_json = excluded.request_json`,
      ).run(...common, view.scoringId, view.tenantId, sortableTime(view.requestedAt), view.requestedAt, JSON.stringify(entry.request));
    } else if (entry.stored) {
      // requestedAt never changes after the first request: its index is left alone.
      prepared(
        db,
        t,
        'update',
        (n) => `UPDATE ${n.requests} SET status = ?, attempt = ?, max_attempts = ?, updated_at = ?, view_updated_at = ?, match_score = ?, risk_band = ?, error_code = ?,
                  result_json = ?, failure_json = ? WHERE scoring_id = ?`,
      ).run(...common, view.scoringId);
    }
  }
}

function apply(db: ReadModelDatabase, event: DecodedEvent, tables: TableNames<Tables>): void {
  applyEvents(db, [event], tables);
}

export const scoringStatusProjection: Projection<Tables> = Object.freeze({
  name: 'scoring_status',
  eventTypes: ['ai.scoring.'],
  tables: ['requests'] as const,
  migrations: [
    {
      version: 1,
      sql: (t: TableNames<Tables>) => `
        CREATE TABLE ${t.requests} (
          scoring_id TEXT PRIMARY KEY,
          tenant_id TEXT NOT NULL,
          status TEXT NOT NULL,
          attempt INTEGER NOT NULL,
          max_attempts INTEGER NOT NULL,
          requested_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          view_requested_at TEXT NOT NULL,
          view_updated_at TEXT NOT NULL,
          match_score INTEGER,
          risk_band TEXT,
          error_code TEXT,
          request_json TEXT NOT NULL,
          result_json TEXT,
          failure_json TEXT
        );
        CREATE INDEX ${t.requests}_by_tenant ON ${t.requests} (tenant_id, requested_at DESC, scoring_id DESC);
        CREATE INDEX ${t.requests}_open_by_tenant ON ${t.requests} (tenant_id, status, requested_at DESC, scoring_id DESC) WHERE status IN ('requested', 'failed');`,
    },
  ],
  apply,
  applyBatch: applyEvents,
});

// ---------------------------------------------------------------------------------------------
// Queries (tenant-scoped)

interface CursorKey {
  readonly requestedAt: string;
  readonly scoringId: string;
}

function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.requestedAt}|${key.scoringId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): CursorKey {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f-]{36})$/i.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new InvalidCursorError();
  return { requestedAt: match[1] as string, scoringId: match[2] as string };
}

type SummaryRow = Pick<RequestRow, 'scoring_id' | 'status' | 'attempt' | 'requested_at' | 'updated_at' | 'match_score' | 'risk_band' | 'error_code'>;

function toSummary(row: SummaryRow): ScoringSummary {
  return {
    scoringId: row.scoring_id,
    status: row.status,
    attempt: row.attempt,
    requestedAt: row.requested_at,
    updatedAt: row.updated_at,
    ...(row.match_score !== null ? { matchScore: row.match_score } : {}),
    ...(row.risk_band !== null ? { riskBand: row.risk_band as NonNullable<ScoringSummary['riskBand']> } : {}),
    ...(row.error_code !== null ? { errorCode: row.error_code as NonNullable<ScoringSummary['errorCode']> } : {}),
  };
}

/** The tenant's scoring requests, newest first, filtered by status and requestedAt range; cursor paging. */
export function listScoringRequests(db: ReadModelDatabase, tenantId: string, query: ScoringListQuery = {}): ScoringPage {
  const t = activeTables(db, scoringStatusProjection).requests;
  const limit = Math.min(Math.max(query.limit ?? SCORING_LIST_DEFAULT_LIMIT, 1), SCORING_LIST_MAX_LIMIT);
  const where = ['tenant_id = @tenantId'];
  const params: Record<string, string | number> = { tenantId, limit: limit + 1 };
  if (query.status !== undefined) {
    where.push('status = @status');
    params['status'] = query.status;
    // The exact term of the partial index on open scorings (completed ones are the bulk; they use the tenant index).
    if (query.status !== 'completed') where.push("status IN ('requested', 'failed')");
  }
  if (query.from !== undefined) {
    where.push('requested_at >= @from');
    params['from'] = normalizeTime(query.from);
  }
  if (query.to !== undefined) {
    where.push('requested_at < @to');
    params['to'] = normalizeTime(query.to);
  }
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    where.push('(requested_at < @cursorAt OR (requested_at = @cursorAt AND scoring_id < @cursorId))');
    params['cursorAt'] = after.requestedAt;
    params['cursorId'] = after.scoringId;
  }
  const rows = cachedStatement(
    db,
    `SELECT scoring_id, status, attempt, requested_at, updated_at, match_score, risk_band, error_code FROM ${t} WHERE ${where.join(' AND ')} ORDER BY requested_at DESC, scoring_id DESC LIMIT @limit`,
  ).all(params) as SummaryRow[];
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toSummary),
    ...(rows.length > limit && last ? { nextCursor: encodeCursor({ requestedAt: last.requested_at, scoringId: last.scoring_id }) } : {}),
  };
}

/** One scoring request of the tenant (undefined when unknown or another tenant's). */
export function getScoringRequest(db: ReadModelDatabase, tenantId: string, scoringId: string): ScoringRequestView | undefined {
  const t = activeTables(db, scoringStatusProjection).requests;
  const row = cachedStatement(db, `SELECT * FROM ${t} WHERE scoring_id = ? AND tenant_id = ?`).get(scoringId, tenantId) as RequestRow | undefined;
  if (!row) return undefined;
  return {
    scoringId: row.scoring_id,
    tenantId: row.tenant_id,
    status: row.status,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    requestedAt: row.view_requested_at,
    updatedAt: row.view_updated_at,
    request: JSON.parse(row.request_json) as ScoringRequest,
    ...(row.result_json !== null ? { result: JSON.parse(row.result_json) as NonNullable<ScoringRequestView['result']> } : {}),
    ...(row.failure_json !== null ? { failure: JSON.parse(row.failure_json) as NonNullable<ScoringRequestView['failure']> } : {}),
  };
}

/** Counts of the tenant's scoring requests by status (dashboard badge). */
export function countScoringRequests(db: ReadModelDatabase, tenantId: string): Record<ScoringRequestView['status'], number> {
  const t = activeTables(db, scoringStatusProjection).requests;
  const rows = cachedStatement(db, `SELECT status, COUNT(*) AS n FROM ${t} WHERE tenant_id = ? GROUP BY status`).all(tenantId) as { status: ScoringRequestView['status']; n: number }[];
  const counts = { requested: 0, completed: 0, failed: 0 };
  for (const row of rows) counts[row.status] = row.n;
  return counts;
}
