/**
 * requested → model → completed → usage recorded once, on real deps (embedded store in memory)
 * and a real subscription runner. Waits are event-driven (waitForIdle, vi.waitFor on state).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scoringStreamId, usageStreamFor } from '../../../src/aggregates/streams.js';
import { BusinessError } from '../../../src/engine/failures.js';
import type { RecordedEvent } from '../../../src/eventstore/port.js';
import { AI_SCORING_GROUP } from '../../../src/process-managers/ai-scoring.js';
import { createUsageMeteringProcessManager, USAGE_METERING_GROUP } from '../../../src/process-managers/usage-metering.js';
import { openReadModelDatabase } from '../../../src/readmodel/database.js';
import { contextFor, eventsOfType, IDLE, request, startHarness, streamEvents, TestModel, WAIT, type Harness } from './support.js';

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function recordedById(h: Harness, stream: string, id: string): Promise<RecordedEvent> {
  for await (const recorded of h.deps.store.readStream(stream)) if (recorded.id === id) return recorded;
  throw new Error(`event ${id} not in ${stream}`);
}

const handlerContext = { group: 'test', retryCount: 1, attempt: 0, signal: new AbortController().signal };

describe('AI scoring flow', () => {
  it('requested → completed (mapped contract result) → usage recorded once, with causation and correlation', async () => {
    const model = new TestModel();
    harness = await startHarness({ model });
    const { deps, runner } = harness;
    const ctx = contextFor('acme-lending');
    await deps.billing.create(ctx, 'starter');
    const { scoringId } = await deps.scoring.submit(ctx, request());

    await vi.waitFor(async () => expect((await deps.scoring.view('acme-lending', scoringId))?.status).toBe('completed'), WAIT);
    await runner.waitForIdle(undefined, IDLE);

    const stream = await streamEvents(deps, scoringStreamId(scoringId));
    expect(stream.map((e) => e.type)).toEqual(['ai.scoring.requested', 'ai.scoring.completed']);
    const [requested, completed] = stream;
    if (completed?.type !== 'ai.scoring.completed' || requested === undefined) throw new Error('unexpected stream');
    expect(completed.metadata).toMatchObject({ causationId: requested.id, correlationId: ctx.correlationId, tenantId: 'acme-lending', userId: 'user-1' });
    expect(completed.data.modelVersion).toBe(model.version);
    expect(completed.data.costCents).toBeGreaterThan(0);
    expect(['low', 'moderate']).toContain(completed.data.riskBand);
    expect(completed.data.eligibleProducts.map((p) => p.product)).toContain('conventional_fixed');
    expect(completed.data.reasons[0]?.code).toBe('MATCH_SCORE');
    expect(model.calls).toBe(1);

    const usage = await eventsOfType(deps, 'billing.usage.recorded');
    expect(usage).toHaveLength(1);
    expect(usage[0]?.data).toMatchObject({ scoringId, aiCostCents: completed.data.costCents, billing: 'included' });
    expect(usage[0]?.metadata).toMatchObject({ causationId: completed.id, correlationId: ctx.correlationId });

    // The completed event delivered again (same node, then a node that never saw it): still one usage.
    const recorded = await recordedById(harness, completed.streamId, completed.id);
    const metering = harness.handler(USAGE_METERING_GROUP);
    await metering.handle(recorded, handlerContext);
    const otherDb = openReadModelDatabase(':memory:');
    await createUsageMeteringProcessManager({ ...deps, readDb: otherDb }).handle(recorded, handlerContext);
    otherDb.close();
    const usageStream = await streamEvents(deps, usageStreamFor({ tenantId: 'acme-lending', recordedAt: completed.metadata.occurredAt }));
    expect(usageStream.filter((e) => e.type === 'billing.usage.recorded')).toHaveLength(1);

    // The requested event delivered again: the scoring is terminal for that attempt, nothing happens.
    await harness.handler(AI_SCORING_GROUP).handle(await recordedById(harness, requested.streamId, requested.id), handlerContext);
    expect(model.calls).toBe(1);
    expect(await streamEvents(deps, scoringStreamId(scoringId))).toHaveLength(2);
  });

  it('no active subscription → ai.scoring.failed with a clear, non-retryable reason; no model call, no usage', async () => {
    const model = new TestModel();
    harness = await startHarness({ model });
    const { deps, runner } = harness;
    const never = contextFor('never-subscribed');
    const cancelled = contextFor('gone-tenant');
    await deps.billing.create(cancelled, 'pro');
    await deps.billing.cancel(cancelled, { reason: 'customer_request' });
    // Submitted around the admission check (e.g. in flight while the subscription was cancelled).
    const ids = [randomUUID(), randomUUID()];
    const at = new Date().toISOString();
    await deps.scoring.execute(never, { type: 'RequestScoring', scoringId: ids[0] ?? '', tenantId: 'never-subscribed', request: request(), requestedAt: at });
    await deps.scoring.execute(cancelled, { type: 'RequestScoring', scoringId: ids[1] ?? '', tenantId: 'gone-tenant', request: request(), requestedAt: at });

    await runner.waitForIdle(undefined, IDLE);
    const neverView = await deps.scoring.view('never-subscribed', ids[0] ?? '');
    const cancelledView = await deps.scoring.view('gone-tenant', ids[1] ?? '');
    expect(neverView?.failure).toMatchObject({ errorCode: 'budget_exceeded', retryable: false, canRetry: false });
    expect(neverView?.failure?.reason).toMatch(/no active subscription \(never subscribed\)/);
    expect(cancelledView?.failure?.reason).toMatch(/no active subscription \(cancelled\)/);
    expect(model.calls).toBe(0);
    expect(await eventsOfType(deps, 'billing.usage.recorded')).toHaveLength(0);
    const failed = await eventsOfType(deps, 'ai.scoring.failed');
    expect(failed.every((e) => e.metadata.correlationId === (e.data.tenantId === 'never-subscribed' ? never : cancelled).correlationId)).toBe(true);
  });

  it('a corrupt requested event is a business error: parked at once, admins told, nothing appended', async () => {
    const onBusinessError = vi.fn();
    harness = await startHarness({ runner: { onBusinessError } });
    const { deps, runner } = harness;
    const scoringId = randomUUID();
    await deps.store.append(scoringStreamId(scoringId), [
      { id: randomUUID(), type: 'ai.scoring.requested.v1', data: { scoringId, tenantId: 'acme-lending', attempt: 1, request: { creditScore: 'great' } }, metadata: {} },
    ]);
    await runner.waitForIdle(AI_SCORING_GROUP, IDLE);
    const parked = await deps.store.listParkedMessages(harness.handler(AI_SCORING_GROUP).source, AI_SCORING_GROUP);
    expect(parked).toHaveLength(1);
    expect(onBusinessError).toHaveBeenCalledOnce();
    expect(onBusinessError.mock.calls[0]?.[1]).toBeInstanceOf(BusinessError);
    const stored: string[] = [];
    for await (const recorded of deps.store.readStream(scoringStreamId(scoringId))) stored.push(recorded.type);
    expect(stored).toEqual(['ai.scoring.requested.v1']);
  });
});
