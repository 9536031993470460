import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BreakerRegistry, createBreaker, createBreakerMetrics, type BreakerMetrics } from '../../src/engine/breakers.js';
import { BusinessError, classify, TransientError } from '../../src/engine/failures.js';

/** A loopback HTTP service that answers 200, 500 or 422 on demand and counts the calls it saw. */
let server: Server;
let baseUrl: string;
let mode: 200 | 500 | 422 = 200;
let hits = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits += 1;
    res.writeHead(mode, { 'content-type': 'text/plain' }).end(mode === 200 ? 'ok' : 'nope');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

async function callService(path: string): Promise<string> {
  const response = await fetch(`${baseUrl}${path}`);
  const body = await response.text();
  if (response.status >= 500) throw new TransientError(`upstream answered ${response.status}`, { reason: 'upstream-5xx' });
  if (response.status >= 400) throw new BusinessError('REJECTED', `upstream rejected the request (${response.status})`);
  return body;
}

async function gaugeValue(metrics: BreakerMetrics, breaker: string): Promise<number | undefined> {
  return (await metrics.state.get()).values.find((v) => v.labels.breaker === breaker)?.value;
}

async function transitions(metrics: BreakerMetrics, breaker: string, to: string): Promise<number> {
  return (await metrics.transitions.get()).values.find((v) => v.labels.breaker === breaker && v.labels.to === to)?.value ?? 0;
}

const toShutDown: { shutdown(): void }[] = [];
afterEach(() => {
  mode = 200;
  for (const breaker of toShutDown.splice(0)) breaker.shutdown();
});

describe('createBreaker against a real HTTP service', () => {
  it('goes closed → open after failures, rejects fast while open, half-open after resetTimeout, closes after a success', async () => {
    const registry = new Registry();
    const metrics = createBreakerMetrics(registry);
    const logLines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    const breaker = createBreaker('scoring-model', callService, { timeout: 5_000, errorThresholdPercentage: 50, volumeThreshold: 4, resetTimeout: 300 }, { metrics, logger });
    toShutDown.push(breaker);

    expect(await breaker.fire('/score')).toBe('ok');
    expect(await gaugeValue(metrics, 'scoring-model')).toBe(0);

    mode = 500;
    const opened = once(breaker, 'open');
    // volumeThreshold 4: 1 success + 2 failures (3 calls) stay closed; the 3rd failure makes 3/4 = 75% > 50%.
    for (let i = 0; i < 2; i++) await expect(breaker.fire('/score')).rejects.toThrow(/upstream answered 500/);
    expect(breaker.closed).toBe(true);
    await expect(breaker.fire('/score')).rejects.toThrow(/upstream answered 500/);
    await opened;
    expect(breaker.opened).toBe(true);
    expect(await gaugeValue(metrics, 'scoring-model')).toBe(2);
    expect(await transitions(metrics, 'scoring-model', 'open')).toBe(1);

    // While open: failing fast, the service is not called.
    const hitsWhenOpened = hits;
    const rejection = await breaker.fire('/score').catch((error: unknown) => error);
    expect(rejection).toMatchObject({ code: 'EOPENBREAKER' });
    expect(classify(rejection)).toBe('transient');
    expect(hits).toBe(hitsWhenOpened);

    // After resetTimeout: half-open, one trial call.
    await once(breaker, 'halfOpen');
    expect(breaker.halfOpen).toBe(true);
    expect(await gaugeValue(metrics, 'scoring-model')).toBe(1);
    expect(await transitions(metrics, 'scoring-model', 'halfOpen')).toBe(1);

    mode = 200;
    const closed = once(breaker, 'close');
    expect(await breaker.fire('/score')).toBe('ok');
    await closed;
    expect(breaker.closed).toBe(true);
    expect(await gaugeValue(metrics, 'scoring-model')).toBe(0);
    expect(await transitions(metrics, 'scoring-model', 'close')).toBe(1);
    expect(hits).toBe(hitsWhenOpened + 1);

    const messages = logLines.map((line) => (JSON.parse(line) as { msg: string; breaker: string }));
    expect(messages.map((m) => m.msg)).toEqual([
      "circuit breaker 'scoring-model' opened",
      "circuit breaker 'scoring-model' half-open: trying one call",
      "circuit breaker 'scoring-model' closed",
    ]);
    expect(messages.every((m) => m.breaker === 'scoring-model')).toBe(true);
    expect(await registry.metrics()).toContain('breaker_transitions_total{breaker="scoring-model",to="open"} 1');
  });

  it('a half-open trial that fails opens the breaker again', async () => {
    const metrics = createBreakerMetrics(new Registry());
    const breaker = createBreaker('mailer', callService, { volumeThreshold: 1, errorThresholdPercentage: 10, resetTimeout: 200 }, { metrics });
    toShutDown.push(breaker);
    mode = 500;
    await expect(breaker.fire('/mail')).rejects.toThrow();
    expect(breaker.opened).toBe(true);
    await once(breaker, 'halfOpen');
    const reopened = once(breaker, 'open');
    await expect(breaker.fire('/mail')).rejects.toThrow(/500/);
    await reopened;
    expect(await transitions(metrics, 'mailer', 'open')).toBe(2);
    expect(await gaugeValue(metrics, 'mailer')).toBe(2);
  });

  it('business errors (4xx) never trip the breaker', async () => {
    const metrics = createBreakerMetrics(new Registry());
    const breaker = createBreaker('payments', callService, { volumeThreshold: 2, errorThresholdPercentage: 10, resetTimeout: 60_000 }, { metrics });
    toShutDown.push(breaker);
    mode = 422;
    for (let i = 0; i < 10; i++) await expect(breaker.fire('/charge')).rejects.toBeInstanceOf(BusinessError);
    expect(breaker.closed).toBe(true);
    expect(breaker.stats.failures).toBe(0);
    expect(await transitions(metrics, 'payments', 'open')).toBe(0);
  });

  it('a custom errorFilter excludes more errors from the failure count', async () => {
    const breaker = createBreaker('custom', callService, { volumeThreshold: 1, errorThresholdPercentage: 10, errorFilter: (error) => error instanceof TransientError });
    toShutDown.push(breaker);
    mode = 500;
    for (let i = 0; i < 5; i++) await expect(breaker.fire('/x')).rejects.toThrow();
    expect(breaker.closed).toBe(true);
  });

  it('counts a slow call as a failure (ETIMEDOUT)', async () => {
    const breaker = createBreaker('slow', () => new Promise<string>((resolve) => setTimeout(() => resolve('late'), 500)), { timeout: 20, volumeThreshold: 1, errorThresholdPercentage: 10 });
    toShutDown.push(breaker);
    const error = await breaker.fire().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ETIMEDOUT' });
    expect(breaker.opened).toBe(true);
  });
});

describe('BreakerRegistry', () => {
  it('lists breakers with their state for the admin summary and rejects duplicate names', async () => {
    const metrics = createBreakerMetrics(new Registry());
    const breakers = new BreakerRegistry({ metrics });
    const a = breakers.create('ai-model', callService, { volumeThreshold: 1, errorThresholdPercentage: 10, resetTimeout: 60_000 });
    breakers.create('email', callService);
    expect(() => breakers.create('email', callService)).toThrow(/already registered/);

    mode = 500;
    await expect(a.fire('/')).rejects.toThrow();
    expect(breakers.list()).toEqual([
      { name: 'ai-model', state: 'open', stats: expect.objectContaining({ fires: 1, failures: 1 }) as unknown },
      { name: 'email', state: 'closed', stats: { fires: 0, successes: 0, failures: 0, rejects: 0, timeouts: 0 } },
    ]);
    expect(breakers.get('email')?.name).toBe('email');
    breakers.shutdown();
    expect(breakers.list()).toEqual([]);
    expect((await metrics.state.get()).values).toEqual([]);
  });
});
