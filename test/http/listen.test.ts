/**
 * The API on a real socket (127.0.0.1, port 0) with fetch: the same answers as with inject.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoringRequest, startHarness, type Harness } from './support.js';

let h: Harness;
let base: string;

beforeAll(async () => {
  h = await startHarness();
  base = await h.app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await h?.stop();
});

describe('listening on 127.0.0.1:0', () => {
  it('serves health, a scoring round trip, errors and docs over a socket', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const live = await fetch(`${base}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });

    const correlationId = 'fetch-test-1';
    const submitted = await fetch(`${base}/scorings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.demo.userKey}`, 'content-type': 'application/json', 'x-correlation-id': correlationId },
      body: JSON.stringify(scoringRequest()),
    });
    expect(submitted.status).toBe(202);
    expect(submitted.headers.get('x-correlation-id')).toBe(correlationId);
    const location = submitted.headers.get('location');
    const body = (await submitted.json()) as { scoringId: string; location: string };
    expect(location).toBe(`/scorings/${body.scoringId}`);

    const read = await fetch(new URL(location as string, base), { headers: { 'x-api-key': h.demo.userKey } });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ scoringId: body.scoringId, status: 'requested' });

    const unauthenticated = await fetch(`${base}/scorings/${body.scoringId}`);
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ code: 'UNAUTHENTICATED' });

    const malformed = await fetch(`${base}/scorings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.demo.userKey}`, 'content-type': 'application/json' },
      body: '{"applicant":',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '/body' }] });

    const events = await fetch(`${base}/events?correlationId=${correlationId}`, { headers: { authorization: `Bearer ${h.demo.userKey}` } });
    expect(events.status).toBe(200);
    const page = (await events.json()) as { events: { eventType: string }[] };
    expect(page.events.map((e) => e.eventType)).toEqual(['ai.scoring.requested']);

    const docs = await fetch(`${base}/docs`);
    expect(docs.status).toBe(200);
    const spec = await fetch(`${base}/openapi.json`);
    expect(spec.status).toBe(200);
    expect(((await spec.json()) as { openapi: string }).openapi).toMatch(/^3\./);
  });
});
