/**
 * The scoring model service goes down: the breaker opens, the runner's retries run out, the
 * scoring is failed (retryable) and the message parked; the service comes back, the parked
 * message is replayed and the scoring completes exactly once (as attempt 2).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scoringStreamId } from '../../../src/aggregates/streams.js';
import { HttpScoringModel } from '../../../src/integrations/scoring-model/http-model.js';
import { AI_SCORING_GROUP, SCORING_MODEL_BREAKER } from '../../../src/process-managers/ai-scoring.js';
import { startLoopbackScoringServer, type LoopbackScoringServer } from '../../integrations/scoring-model/loopback-server.js';
import { contextFor, eventsOfType, IDLE, request, startHarness, streamEvents, WAIT, type Harness } from './support.js';

let harness: Harness | undefined;
let server: LoopbackScoringServer | undefined;

afterEach(async () => {
  await harness?.close();
  await server?.close();
  harness = undefined;
  server = undefined;
});

async function breakerTransitions(h: Harness, to: string): Promise<number> {
  const metric = (await h.deps.metrics.breakers.transitions.get()).values;
  return metric.filter((v) => v.labels.breaker === SCORING_MODEL_BREAKER && v.labels.to === to).reduce((sum, v) => sum + v.value, 0);
}

function breakerState(h: Harness): string | undefined {
  return h.deps.breakers.list().find((b) => b.name === SCORING_MODEL_BREAKER)?.state;
}

describe('AI scoring when the model service is down', () => {
  it('breaker opens → retries → failed (retryable) and parked → service back → replay → completed exactly once', async () => {
    server = await startLoopbackScoringServer();
    const model = new HttpScoringModel({ baseUrl: server.url, timeoutMs: 2_000, version: 'underwriting-rules-2026.1' });
    harness = await startHarness({
      model,
      cache: false,
      breakerOptions: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: 1_500 },
      retryPolicy: { maxRetries: 3 },
    });
    const { deps, runner } = harness;
    const source = harness.handler(AI_SCORING_GROUP).source;
    const ctx = contextFor('acme-lending');
    await deps.billing.create(ctx, 'pro');

    server.setDown(true);
    const { scoringId } = await deps.scoring.submit(ctx, request());
    await vi.waitFor(async () => expect((await deps.scoring.view('acme-lending', scoringId))?.status).toBe('failed'), WAIT);
    await runner.waitForIdle(AI_SCORING_GROUP, IDLE);

    const failedView = await deps.scoring.view('acme-lending', scoringId);
    expect(failedView?.failure).toMatchObject({ errorCode: 'provider_unavailable', retryable: true, canRetry: true });
    expect(failedView?.failure?.reason).toMatch(/could not be reached after 4 tries/);
    // 4 attempts (1 + 3 retries); the breaker opened after 2 failed calls and refused the others.
    expect(server.requestCount).toBe(2);
    const stats = deps.breakers.list().find((b) => b.name === SCORING_MODEL_BREAKER)?.stats;
    expect(stats?.rejects).toBe(2);
    expect(await breakerTransitions(harness, 'open')).toBe(1);
    const parked = await deps.store.listParkedMessages(source, AI_SCORING_GROUP);
    expect(parked.map((m) => m.event.type)).toEqual(['ai.scoring.requested.v1']);
    expect(await eventsOfType(deps, 'billing.usage.recorded')).toHaveLength(0);

    server.setDown(false);
    await vi.waitFor(() => expect(breakerState(harness as Harness)).toBe('halfOpen'), WAIT);
    await deps.store.replayParkedMessages(source, AI_SCORING_GROUP);

    await vi.waitFor(async () => expect((await deps.scoring.view('acme-lending', scoringId))?.status).toBe('completed'), WAIT);
    await runner.waitForIdle(undefined, IDLE);
    expect(breakerState(harness)).toBe('closed');
    expect(await breakerTransitions(harness, 'close')).toBe(1);

    const stream = await streamEvents(deps, scoringStreamId(scoringId));
    expect(stream.map((e) => `${e.type}#${String((e.data as { attempt: number }).attempt)}`)).toEqual([
      'ai.scoring.requested#1',
      'ai.scoring.failed#1',
      'ai.scoring.requested#2',
      'ai.scoring.completed#2',
    ]);
    // The re-drive is caused by the replayed message and keeps the request's correlation id.
    expect(stream[2]?.metadata).toMatchObject({ causationId: stream[0]?.id, correlationId: ctx.correlationId });
    expect(await deps.store.listParkedMessages(source, AI_SCORING_GROUP)).toHaveLength(0);

    // Replaying again (nothing parked) and redelivering the old attempt change nothing.
    await deps.store.replayParkedMessages(source, AI_SCORING_GROUP);
    const first = stream[0];
    if (!first) throw new Error('no requested event');
    for await (const recorded of deps.store.readStream(first.streamId, { maxCount: 1 })) {
      await harness.handler(AI_SCORING_GROUP).handle(recorded, { group: AI_SCORING_GROUP, retryCount: 0, attempt: 0, signal: new AbortController().signal });
    }
    await runner.waitForIdle(undefined, IDLE);
    expect((await eventsOfType(deps, 'ai.scoring.completed')).filter((e) => e.data.scoringId === scoringId)).toHaveLength(1);
    expect((await eventsOfType(deps, 'billing.usage.recorded')).filter((e) => e.data.scoringId === scoringId)).toHaveLength(1);
    expect(server.requestCount).toBe(3);
  });

  it('a transient blip within the retries: completed on a later attempt, no failure recorded', async () => {
    server = await startLoopbackScoringServer();
    harness = await startHarness({ model: new HttpScoringModel({ baseUrl: server.url, timeoutMs: 2_000 }), cache: false, breakerOptions: { volumeThreshold: 10 } });
    const { deps, runner } = harness;
    const ctx = contextFor('acme-lending');
    await deps.billing.create(ctx, 'pro');
    server.failNext(2, 503);
    const { scoringId } = await deps.scoring.submit(ctx, request());
    await vi.waitFor(async () => expect((await deps.scoring.view('acme-lending', scoringId))?.status).toBe('completed'), WAIT);
    await runner.waitForIdle(undefined, IDLE);
    expect(server.requestCount).toBe(3);
    expect((await streamEvents(deps, scoringStreamId(scoringId))).map((e) => e.type)).toEqual(['ai.scoring.requested', 'ai.scoring.completed']);
    expect(await deps.store.listParkedMessages(harness.handler(AI_SCORING_GROUP).source, AI_SCORING_GROUP)).toHaveLength(0);
  });

  it('a model output that breaks the contract: failed as invalid_model_output and parked (business error)', async () => {
    server = await startLoopbackScoringServer();
    const onBusinessError = vi.fn();
    // A remote model whose output maps outside the contract: a match score above 100.
    const broken = new HttpScoringModel({ baseUrl: server.url });
    const model = {
      version: broken.version,
      score: async (input: Parameters<HttpScoringModel['score']>[0]) => {
        const result = await broken.score(input);
        return { ...result, matchScore: 140 };
      },
    };
    harness = await startHarness({ model, cache: false, runner: { onBusinessError } });
    const { deps, runner } = harness;
    const ctx = contextFor('acme-lending');
    await deps.billing.create(ctx, 'pro');
    const { scoringId } = await deps.scoring.submit(ctx, request());
    await vi.waitFor(async () => expect((await deps.scoring.view('acme-lending', scoringId))?.status).toBe('failed'), WAIT);
    await runner.waitForIdle(undefined, IDLE);
    const view = await deps.scoring.view('acme-lending', scoringId);
    expect(view?.failure).toMatchObject({ errorCode: 'invalid_model_output', retryable: true });
    expect(view?.failure?.reason).toMatch(/matchScore/);
    expect(onBusinessError).toHaveBeenCalledOnce();
    expect(server.requestCount).toBe(1);
    expect(await deps.store.listParkedMessages(harness.handler(AI_SCORING_GROUP).source, AI_SCORING_GROUP)).toHaveLength(1);
  });
});
