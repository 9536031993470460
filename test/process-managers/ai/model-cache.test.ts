/**
 * The scoring result cache: a hit completes without a model call and without cost; entries are
 * per tenant and per model version; ai.model.updated invalidates the other versions' entries.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toEventData } from '../../../src/contracts/events/codec.js';
import { PLATFORM_TENANT_ID } from '../../../src/contracts/common.js';
import { toScoringInput } from '../../../src/integrations/scoring-model/contract-adapter.js';
import { MODEL_CACHE_GROUP, ScoringResultCache } from '../../../src/process-managers/model-cache.js';
import { openReadModelDatabase } from '../../../src/readmodel/database.js';
import { contextFor, IDLE, request, startHarness, TestModel, WAIT, type Harness } from './support.js';

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const V1 = 'underwriting-rules-2026.1';
const V2 = 'underwriting-rules-2026.2';

async function scored(h: Harness, tenantId: string) {
  const { scoringId } = await h.deps.scoring.submit(contextFor(tenantId), request());
  await vi.waitFor(async () => expect((await h.deps.scoring.view(tenantId, scoringId))?.status).toBe('completed'), WAIT);
  await h.runner.waitForIdle(undefined, IDLE);
  const view = await h.deps.scoring.view(tenantId, scoringId);
  if (!view?.result) throw new Error('no result');
  return view.result;
}

async function modelUpdated(h: Harness, previousVersion: string, modelVersion: string): Promise<void> {
  const id = randomUUID();
  const at = new Date().toISOString();
  await h.deps.store.append('model-mortgage-match', [
    toEventData(
      'ai.model.updated',
      { modelId: 'mortgage-match', provider: 'internal', previousVersion, modelVersion, changeSummary: 'Recalibrated DTI weighting', rolloutPercent: 100, effectiveAt: at },
      { correlationId: id, causationId: id, tenantId: PLATFORM_TENANT_ID, occurredAt: at },
      id,
    ),
  ]);
}

describe('scoring result cache', () => {
  it('a hit avoids the model call and its cost; per tenant; per version; ai.model.updated drops the older versions', async () => {
    const model = new TestModel(undefined, { version: V1 });
    harness = await startHarness({ model });
    const { deps } = harness;
    const cache = harness.ai.cache;
    if (!cache) throw new Error('cache disabled');
    for (const tenant of ['acme-lending', 'globex-mortgage']) await deps.billing.create(contextFor(tenant), 'pro');

    const first = await scored(harness, 'acme-lending');
    expect(model.calls).toBe(1);
    expect(first.costCents).toBeGreaterThan(0);

    const second = await scored(harness, 'acme-lending');
    expect(model.calls).toBe(1);
    expect(second).toEqual({ ...first, costCents: 0 });

    await scored(harness, 'globex-mortgage');
    expect(model.calls).toBe(2);
    expect(cache.size).toBe(2);

    // A new version deployed: its key differs, so the old entries are never served for it.
    model.version = V2;
    const third = await scored(harness, 'acme-lending');
    expect(model.calls).toBe(3);
    expect(third.modelVersion).toBe(V2);
    expect(cache.size).toBe(3);

    await modelUpdated(harness, V1, V2);
    await harness.runner.waitForIdle(MODEL_CACHE_GROUP, IDLE);
    expect(cache.size).toBe(1);
    expect(cache.get('acme-lending', toScoringInput(request()), V2)?.modelVersion).toBe(V2);
    expect(cache.get('acme-lending', toScoringInput(request()), V1)).toBeUndefined();

    await scored(harness, 'acme-lending');
    expect(model.calls).toBe(3);
  });

  it('entries expire after maxAgeMs and are keyed by the model input only (no personal data)', () => {
    const db = openReadModelDatabase(':memory:');
    let now = Date.parse('2026-03-10T12:00:00Z');
    const cache = new ScoringResultCache(db, { clock: () => new Date(now), maxAgeMs: 60_000 });
    const result = {
      matchScore: 80,
      riskBand: 'low',
      eligibleProducts: [],
      reasons: [{ code: 'MATCH_SCORE', detail: 'x' }],
      costCents: 5,
      modelVersion: V1,
      explanation: 'x',
    } as const;
    const a = request();
    const sameLoanOtherApplicant = request({ applicant: { name: 'Someone Else', email: 'else@example.com', dateOfBirth: '1970-01-01' } });
    cache.put('t', toScoringInput(a), { ...result, eligibleProducts: [], reasons: [...result.reasons] });
    expect(cache.get('t', toScoringInput(sameLoanOtherApplicant), V1)?.matchScore).toBe(80);
    expect(cache.get('t', toScoringInput(request({ creditScore: 600 })), V1)).toBeUndefined();
    now += 60_001;
    expect(cache.get('t', toScoringInput(a), V1)).toBeUndefined();
    expect(cache.size).toBe(0);
    db.close();
  });
});
