import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureDemoTenant } from '../../src/tenancy/demo.js';
import { startEngine, type RunningEngine } from '../../src/wiring.js';

/** Request logs carry the request's correlation id under that name: the one id of the request. */
describe('request logs', () => {
  const lines: Record<string, unknown>[] = [];
  let dataDir: string;
  let engine: RunningEngine;
  let userKey: string;
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };

  beforeAll(async () => {
    process.on('warning', onWarning);
    dataDir = await mkdtemp(join(tmpdir(), 'mmp-logs-'));
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    engine = await startEngine({ dataDir, runHandlers: false, requestLogs: true }, pino({ level: 'info' }, sink));
    const demo = await ensureDemoTenant(engine.deps);
    if (!demo) throw new Error('expected a demo tenant');
    userKey = demo.userKey.apiKey;
  });

  afterAll(async () => {
    process.off('warning', onWarning);
    await engine.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const requestLines = (correlationId: string) => lines.filter((line) => line['correlationId'] === correlationId);

  it('logs a given X-Correlation-Id as correlationId, the id the response echoes, and no second request id', async () => {
    const response = await engine.http.inject({ method: 'GET', url: '/subscription', headers: { authorization: `Bearer ${userKey}`, 'x-correlation-id': 'log-check-1' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-correlation-id']).toBe('log-check-1');
    // 'request completed' is written once the response has finished, which may be after inject resolves.
    await vi.waitFor(() => expect(requestLines('log-check-1').map((line) => line['msg'])).toEqual(expect.arrayContaining(['incoming request', 'request completed'])));
    for (const line of requestLines('log-check-1')) expect(line).not.toHaveProperty('reqId');
  });

  it('sets Fastify up without deprecated options (they warn at start)', () => {
    expect(warnings.filter((warning) => warning.name === 'FastifyDeprecation').map((warning) => warning.message)).toEqual([]);
  });

  it('logs the minted correlation id when none is given, and the fresh one when the given one is refused', async () => {
    const minted = await engine.http.inject({ method: 'GET', url: '/subscription', headers: { authorization: `Bearer ${userKey}` } });
    const mintedId = minted.headers['x-correlation-id'] as string;
    expect(mintedId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await vi.waitFor(() => expect(requestLines(mintedId).map((line) => line['msg'])).toEqual(expect.arrayContaining(['incoming request', 'request completed'])));

    const refused = await engine.http.inject({ method: 'GET', url: '/subscription', headers: { authorization: `Bearer ${userKey}`, 'x-correlation-id': 'bad id' } });
    expect(refused.statusCode).toBe(400);
    const freshId = refused.headers['x-correlation-id'] as string;
    expect(freshId).not.toBe('bad id');
    await vi.waitFor(() => expect(requestLines(freshId).map((line) => line['msg'])).toEqual(expect.arrayContaining(['incoming request', 'request completed'])));
    expect(requestLines('bad id')).toEqual([]);
  });
});
