import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isTransientScoringError, ModelServiceError } from '../../../src/integrations/scoring-model/errors.js';
import { HttpScoringModel } from '../../../src/integrations/scoring-model/http-model.js';
import { serveScoringModel, type ScoringServer } from '../../../src/integrations/scoring-model/http-server.js';
import { InProcessUnderwritingModel } from '../../../src/integrations/scoring-model/model.js';
import type { ScoringInput } from '../../../src/integrations/scoring-model/types.js';
import { BASELINE } from './fixtures.js';
import { startLoopbackScoringServer, type LoopbackScoringServer } from './loopback-server.js';

const inProcess = new InProcessUnderwritingModel();

async function failure(promise: Promise<unknown>): Promise<ModelServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelServiceError);
  return error as ModelServiceError;
}

describe('serveScoringModel + HttpScoringModel', () => {
  let served: ScoringServer;
  beforeAll(async () => {
    served = await serveScoringModel(inProcess, 0);
  });
  afterAll(() => served.close());

  it('round-trips exactly the in-process result', async () => {
    const remote = new HttpScoringModel({ baseUrl: `${served.url}/` });
    expect(remote.endpoint).toBe(`${served.url}/score`);
    expect(await remote.score(BASELINE)).toEqual(await inProcess.score(BASELINE));
  });

  it('serves /health and answers 400 (non-transient) to input the model rejects', async () => {
    const health = await fetch(`${served.url}/health`);
    expect(await health.json()).toEqual({ status: 'ok', modelVersion: 'underwriting-rules-2026.1' });

    const remote = new HttpScoringModel({ baseUrl: served.url });
    const error = await failure(remote.score({ ...BASELINE, creditScore: 1_000 }));
    expect(error).toMatchObject({ code: 'HTTP_STATUS', status: 400, transient: false });
    expect(error.message).toContain('creditScore');
    expect(isTransientScoringError(error)).toBe(false);
  });

  it('reads SCORING_MODEL_URL when no baseUrl is given', () => {
    const previous = process.env.SCORING_MODEL_URL;
    try {
      process.env.SCORING_MODEL_URL = served.url;
      expect(new HttpScoringModel().endpoint).toBe(`${served.url}/score`);
      delete process.env.SCORING_MODEL_URL;
      expect(() => new HttpScoringModel()).toThrow(/SCORING_MODEL_URL/);
    } finally {
      if (previous === undefined) delete process.env.SCORING_MODEL_URL;
      else process.env.SCORING_MODEL_URL = previous;
    }
  });
});

describe('HttpScoringModel against a failing loopback server', () => {
  let server: LoopbackScoringServer;
  let remote: HttpScoringModel;
  beforeAll(async () => {
    server = await startLoopbackScoringServer();
    remote = new HttpScoringModel({ baseUrl: server.url, timeoutMs: 1_000 });
  });
  afterEach(() => {
    server.setDown(false);
    server.setLatency(0);
    server.failNext(0, 503);
    server.corruptNext(0);
  });
  afterAll(() => server.close());

  it('succeeds when healthy', async () => {
    const input: ScoringInput = { ...BASELINE, veteran: true };
    expect(await remote.score(input)).toEqual(await inProcess.score(input));
  });

  it('503 -> transient ModelServiceError with Retry-After, then recovers', async () => {
    server.failNext(1, 503);
    const error = await failure(remote.score(BASELINE));
    expect(error).toMatchObject({ code: 'HTTP_STATUS', status: 503, transient: true, retryAfterSeconds: 1 });
    expect(error.message).toContain('injected_failure');
    expect(isTransientScoringError(error)).toBe(true);
    expect((await remote.score(BASELINE)).modelVersion).toBe('underwriting-rules-2026.1');
  });

  it('400 -> non-transient ModelServiceError', async () => {
    server.failNext(1, 400);
    expect(await failure(remote.score(BASELINE))).toMatchObject({ status: 400, transient: false });
  });

  it('429 and 500 are transient, 404 is not', async () => {
    server.failNext(1, 429);
    expect(await failure(remote.score(BASELINE))).toMatchObject({ status: 429, transient: true });
    server.failNext(1, 500);
    expect(await failure(remote.score(BASELINE))).toMatchObject({ status: 500, transient: true });
    server.failNext(1, 404);
    expect(await failure(remote.score(BASELINE))).toMatchObject({ status: 404, transient: false });
  });

  it('a server that is down -> transient NETWORK error', async () => {
    server.setDown(true);
    const before = server.requestCount;
    expect(await failure(remote.score(BASELINE))).toMatchObject({ code: 'NETWORK', transient: true });
    expect(server.requestCount).toBeGreaterThan(before);
  });

  it('connection refused -> transient NETWORK error', async () => {
    const closed = await serveScoringModel(inProcess, 0);
    await closed.close();
    const unreachable = new HttpScoringModel({ baseUrl: closed.url });
    expect(await failure(unreachable.score(BASELINE))).toMatchObject({ code: 'NETWORK', transient: true });
  });

  it('slow responses -> transient TIMEOUT; a caller abort -> ABORTED', async () => {
    server.setLatency(300);
    const impatient = new HttpScoringModel({ baseUrl: server.url, timeoutMs: 50 });
    expect(await failure(impatient.score(BASELINE))).toMatchObject({ code: 'TIMEOUT', transient: true });

    const controller = new AbortController();
    const pending = remote.score(BASELINE, { signal: controller.signal });
    controller.abort();
    expect(await failure(pending)).toMatchObject({ code: 'ABORTED', transient: true });
  });

  it('a 200 that is not a ScoringResult -> INVALID_RESPONSE', async () => {
    server.corruptNext(1);
    const error = await failure(remote.score(BASELINE));
    expect(error).toMatchObject({ code: 'INVALID_RESPONSE', status: 200 });
    expect(error.message).toContain('matchScore');
  });
});
