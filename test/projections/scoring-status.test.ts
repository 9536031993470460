import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScoringPageSchema } from '../../src/contracts/api/read-models.js';
import { ScoringRequestViewSchema } from '../../src/contracts/api/scoring.js';
import { isValid } from '../../src/contracts/validation.js';
import { InvalidCursorError } from '../../src/engine/event-log.js';
import type { EngineDeps } from '../../src/engine/engine-deps.js';
import { BusinessError, classify } from '../../src/engine/failures.js';
import { projectionHandler } from '../../src/projections/projection.js';
import { countScoringRequests, getScoringRequest, listScoringRequests, scoringStatusProjection } from '../../src/projections/scoring-status.js';
import { REQUEST, deliver, handlerContext, recorded, result, snapshot, testDeps } from './support.js';

let deps: EngineDeps;
beforeEach(async () => {
  ({ deps } = await testDeps());
});
afterEach(async () => {
  await deps.store.close();
  deps.readDb.close();
});

const A = 'acme-lending';
const B = 'beta-bank';

function requested(tenantId: string, scoringId: string, at: string, attempt = 1) {
  return recorded('ai.scoring.requested', { scoringId, tenantId, attempt, request: REQUEST }, { tenantId, occurredAt: at });
}
function completed(tenantId: string, scoringId: string, at: string, score = 81, attempt = 1) {
  return recorded('ai.scoring.completed', { scoringId, tenantId, attempt, ...result(score) }, { tenantId, occurredAt: at });
}
function failed(tenantId: string, scoringId: string, at: string, attempt = 1) {
  return recorded('ai.scoring.failed', { scoringId, tenantId, attempt, errorCode: 'model_timeout', reason: 'slow', retryable: true, costCents: 3 }, { tenantId, occurredAt: at });
}

describe('scoring_status projection', () => {
  it('keeps one row per scoring with its status, attempt, score and view', async () => {
    const handler = projectionHandler(deps, scoringStatusProjection);
    const s1 = randomUUID();
    const s2 = randomUUID();
    await deliver(handler, [
      requested(A, s1, '2025-03-14T09:00:00Z'),
      requested(A, s2, '2025-03-14T10:00:00Z'),
      failed(A, s2, '2025-03-14T10:00:20Z'),
      requested(A, s2, '2025-03-14T10:01:00Z', 2),
      completed(A, s1, '2025-03-14T09:00:30.500Z', 64),
      completed(A, s2, '2025-03-14T10:01:30Z', 90, 2),
    ]);
    const one = getScoringRequest(deps.readDb, A, s2);
    expect(one).toMatchObject({ scoringId: s2, status: 'completed', attempt: 2, requestedAt: '2025-03-14T10:00:00Z', updatedAt: '2025-03-14T10:01:30Z' });
    expect(one?.result?.matchScore).toBe(90);
    expect(isValid(ScoringRequestViewSchema, one)).toBe(true);

    const page = listScoringRequests(deps.readDb, A);
    expect(isValid(ScoringPageSchema, page)).toBe(true);
    expect(page.items).toEqual([
      { scoringId: s2, status: 'completed', attempt: 2, requestedAt: '2025-03-14T10:00:00.000Z', updatedAt: '2025-03-14T10:01:30.000Z', matchScore: 90, riskBand: 'low' },
      { scoringId: s1, status: 'completed', attempt: 1, requestedAt: '2025-03-14T09:00:00.000Z', updatedAt: '2025-03-14T09:00:30.500Z', matchScore: 64, riskBand: 'moderate' },
    ]);
    expect(countScoringRequests(deps.readDb, A)).toEqual({ requested: 0, completed: 2, failed: 0 });
  });

  it('is tenant-scoped', async () => {
    const handler = projectionHandler(deps, scoringStatusProjection);
    const s = randomUUID();
    await deliver(handler, [requested(A, s, '2025-03-14T09:00:00Z'), requested(B, randomUUID(), '2025-03-14T09:00:00Z')]);
    expect(getScoringRequest(deps.readDb, B, s)).toBeUndefined();
    expect(listScoringRequests(deps.readDb, B).items).toHaveLength(1);
    expect(listScoringRequests(deps.readDb, A).items.map((i) => i.scoringId)).toEqual([s]);
  });

  it('filters by status and time range and pages with a cursor', async () => {
    const handler = projectionHandler(deps, scoringStatusProjection);
    const ids: string[] = [];
    const events = [];
    for (let i = 0; i < 25; i++) {
      const id = randomUUID();
      ids.push(id);
      const at = new Date(Date.UTC(2025, 2, 1 + i, 12)).toISOString();
      events.push(requested(A, id, at));
      if (i % 3 === 0) events.push(failed(A, id, at.replace('12:00:00', '12:00:05')));
    }
    await deliver(handler, events);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = listScoringRequests(deps.readDb, A, { limit: 10, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.scoringId));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const failedOnly = listScoringRequests(deps.readDb, A, { status: 'failed', limit: 100 });
    expect(failedOnly.items).toHaveLength(9);
    expect(failedOnly.items.every((i) => i.status === 'failed' && i.errorCode === 'model_timeout')).toBe(true);

    const march10to15 = listScoringRequests(deps.readDb, A, { from: '2025-03-10T00:00:00Z', to: '2025-03-15T00:00:00Z' });
    expect(march10to15.items.map((i) => i.requestedAt)).toEqual(['2025-03-14', '2025-03-13', '2025-03-12', '2025-03-11', '2025-03-10'].map((d) => `${d}T12:00:00.000Z`));
    expect(() => listScoringRequests(deps.readDb, A, { cursor: 'bm90LWEtY3Vyc29y' })).toThrow(InvalidCursorError);
  });

  it('is exact under redelivery (every event delivered twice)', async () => {
    const handler = projectionHandler(deps, scoringStatusProjection);
    const s = randomUUID();
    const events = [requested(A, s, '2025-03-14T09:00:00Z'), failed(A, s, '2025-03-14T09:00:10Z'), requested(A, s, '2025-03-14T09:01:00Z', 2), completed(A, s, '2025-03-14T09:01:10Z', 70, 2)];
    await deliver(handler, events, 2);
    const twice = snapshot(deps.readDb, scoringStatusProjection);
    expect(twice['requests']).toHaveLength(1);
    expect(getScoringRequest(deps.readDb, A, s)).toMatchObject({ status: 'completed', attempt: 2 });
  });

  it('a corrupt event is a business error (parked at once), the read model untouched', async () => {
    const handler = projectionHandler(deps, scoringStatusProjection);
    const good = requested(A, randomUUID(), '2025-03-14T09:00:00Z');
    const corrupt = { ...good, id: randomUUID(), data: { scoringId: 'not-a-uuid' } };
    const error = await handler.handle(corrupt, handlerContext(handler.name)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BusinessError);
    expect(classify(error)).toBe('business');
    expect((error as BusinessError).code).toBe('CORRUPT_EVENT');
    expect(listScoringRequests(deps.readDb, A).items).toEqual([]);
  });

  it('is a Pinned group from the start of $all filtered on ai.scoring.', () => {
    const handler = projectionHandler(deps, scoringStatusProjection);
    expect(handler.name).toBe('scoring_status');
    expect(handler.source).toEqual({ kind: 'all', filter: { on: 'eventType', prefixes: ['ai.scoring.'] } });
    expect(handler.settings).toMatchObject({ startFrom: 'start', consumerStrategyName: 'Pinned' });
  });
});
