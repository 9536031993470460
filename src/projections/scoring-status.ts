/**
 * scoring_status: one row per scoring request (tenant, status, attempt, requested/updated at,
 * match score, risk band) with its full view (evolveScoringView) as JSON. Serves the tenant's
 * scoring list (filters, cursor paging) and the single read.
 */
import type { ScoringListQuery, ScoringPage, ScoringSummary } from '../contracts/api/read-models.js';
import { SCORING_LIST_DEFAULT_LIMIT, SCORING_LIST_MAX_LIMIT } from '../contracts/api/read-models.js';
import type { ScoringRequestView } from '../contracts/api/scoring.js';
import type { DecodedEvent } from '../contracts/events/codec.js';
import { InvalidCursorError } from '../engine/event-log.js';
import type { ReadModelDatabase } from '../readmodel/database.js';
import { activeTables, cachedStatement, type Projection, type TableNames } from './projection.js';
import { evolveScoringView } from './scoring-view.js';

type Tables = 'requests';

interface RequestRow {
  scoring_id: string;
  tenant_id: string;
  status: ScoringRequestView['status'];
  attempt: number;
  requested_at: string;
  updated_at: string;
  match_score: number | null;
  risk_band: string | null;
  error_code: string | null;
  view_json: string;
}

/** ISO-8601 in one shape (toISOString), so text order is time order. */
export function normalizeTime(at: string): string {
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) throw new RangeError(`Not a date-time: ${at}`);
  return new Date(ms).toISOString();
}

function apply(db: ReadModelDatabase, event: DecodedEvent, tables: TableNames<Tables>): void {
  if (event.type !== 'ai.scoring.requested' && event.type !== 'ai.scoring.completed' && event.type !== 'ai.scoring.failed') return;
  const t = tables.requests;
  const row = cachedStatement(db, `SELECT view_json FROM ${t} WHERE scoring_id = ?`).get(event.data.scoringId) as { view_json: string } | undefined;
  const before = row ? (JSON.parse(row.view_json) as ScoringRequestView) : undefined;
  const view = evolveScoringView(before, event);
  if (view === undefined || view === before) return;
  cachedStatement(
    db,
    `INSERT INTO ${t} (scoring_id, tenant_id, status, attempt, requested_at, updated_at, match_score, risk_band, error_code, view_json)
     VALUES (@scoringId, @tenantId, @status, @attempt, @requestedAt, @updatedAt, @matchScore, @riskBand, @errorCode, @view)
     ON CONFLICT (scoring_id) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, requested_at = excluded.requested_at,
       updated_at = excluded.updated_at, match_score = excluded.match_score, risk_band = excluded.risk_band, error_code = excluded.error_code, view_json = excluded.view_json`,
  ).run({
    scoringId: view.scoringId,
    tenantId: view.tenantId,
    status: view.status,
    attempt: view.attempt,
    requestedAt: normalizeTime(view.requestedAt),
    updatedAt: normalizeTime(view.updatedAt),
    matchScore: view.result?.matchScore ?? null,
    riskBand: view.result?.riskBand ?? null,
    errorCode: view.failure?.errorCode ?? null,
    view: JSON.stringify(view),
  });
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
          requested_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          match_score INTEGER,
          risk_band TEXT,
          error_code TEXT,
          view_json TEXT NOT NULL
        );
        CREATE INDEX ${t.requests}_by_tenant ON ${t.requests} (tenant_id, requested_at DESC, scoring_id DESC);
        CREATE INDEX ${t.requests}_by_tenant_status ON ${t.requests} (tenant_id, status, requested_at DESC, scoring_id DESC);`,
    },
  ],
  apply,
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

function toSummary(row: RequestRow): ScoringSummary {
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
  const rows = cachedStatement(db, `SELECT * FROM ${t} WHERE ${where.join(' AND ')} ORDER BY requested_at DESC, scoring_id DESC LIMIT @limit`).all(params) as RequestRow[];
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
  const row = cachedStatement(db, `SELECT view_json FROM ${t} WHERE scoring_id = ? AND tenant_id = ?`).get(scoringId, tenantId) as { view_json: string } | undefined;
  return row ? (JSON.parse(row.view_json) as ScoringRequestView) : undefined;
}

/** Counts of the tenant's scoring requests by status (dashboard badge). */
export function countScoringRequests(db: ReadModelDatabase, tenantId: string): Record<ScoringRequestView['status'], number> {
  const t = activeTables(db, scoringStatusProjection).requests;
  const rows = cachedStatement(db, `SELECT status, COUNT(*) AS n FROM ${t} WHERE tenant_id = ? GROUP BY status`).all(tenantId) as { status: ScoringRequestView['status']; n: number }[];
  const counts = { requested: 0, completed: 0, failed: 0 };
  for (const row of rows) counts[row.status] = row.n;
  return counts;
}
