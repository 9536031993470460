/**
 * Every route's happy path over HTTP (app.inject) on a temporary embedded store.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsStreamId } from '../../src/http/routes/actions.js';
import { json, paymentWebhook, scoringRequest, startHarness, type EventPageBody, type EventViewBody, type Harness } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

interface SubmitBody {
  scoringId: string;
  status: string;
  attempt: number;
  location: string;
}

interface SubscriptionBody {
  subscriptionId: string;
  tenantId: string;
  plan: string;
  status: string;
  monthlyPriceCents: number;
  includedScorings: number;
  currentPeriod: { start: string; end: string };
  cancelledAt?: string;
}

async function submitScoring(key: string, headers: Record<string, string> = {}): Promise<SubmitBody> {
  const response = await h.call('POST', '/scorings', { key, body: scoringRequest(), headers });
  expect(response.statusCode, response.body).toBe(202);
  return json<SubmitBody>(response);
}

/** Every event of the demo tenant with this correlation id, across pages. */
async function eventsOf(key: string, query: Record<string, string>): Promise<EventViewBody[]> {
  const events: EventViewBody[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const response = await h.call('GET', '/events', { key, query: { ...query, ...(cursor ? { cursor } : {}) } });
    expect(response.statusCode, response.body).toBe(200);
    const body = json<EventPageBody>(response);
    events.push(...body.events);
    if (!body.nextCursor) return events;
    cursor = body.nextCursor;
  }
  throw new Error('too many pages');
}

describe('scorings', () => {
  it('POST /scorings answers 202 with a Location and the accepted scoring', async () => {
    const response = await h.call('POST', '/scorings', { key: h.demo.userKey, body: scoringRequest() });
    expect(response.statusCode, response.body).toBe(202);
    const body = json<SubmitBody>(response);
    expect(body.scoringId).toMatch(UUID);
    expect(body).toEqual({ scoringId: body.scoringId, status: 'requested', attempt: 1, location: `/scorings/${body.scoringId}` });
    expect(response.headers.location).toBe(`/scorings/${body.scoringId}`);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
  });

  it('concurrent submissions are all accepted, each under its own id', async () => {
    const before = await h.head();
    const responses = await Promise.all(Array.from({ length: 20 }, () => h.call('POST', '/scorings', { key: h.demo.userKey, body: scoringRequest() })));
    for (const response of responses) expect(response.statusCode, response.body).toBe(202);
    expect(new Set(responses.map((r) => json<SubmitBody>(r).scoringId)).size).toBe(20);
    expect(BigInt(await h.head())).toBe(BigInt(before) + 20n);
  });

  it('accepts the key in X-API-Key as well as Authorization: Bearer', async () => {
    const response = await h.call('POST', '/scorings', { body: scoringRequest(), headers: { 'x-api-key': h.demo.userKey } });
    expect(response.statusCode, response.body).toBe(202);
  });

  it('GET /scorings/:id (the Location) reads the scoring back', async () => {
    const { scoringId, location } = await submitScoring(h.demo.userKey);
    const response = await h.call('GET', location, { key: h.demo.userKey });
    expect(response.statusCode, response.body).toBe(200);
    const view = json(response);
    expect(view).toMatchObject({ scoringId, tenantId: h.demo.tenantId, status: 'requested', attempt: 1, maxAttempts: 3, request: scoringRequest() });
    expect(typeof view.requestedAt).toBe('string');
  });

  it('POST /scorings/:id/retry is 422 SCORING_IN_PROGRESS while the attempt runs, 202 with attempt 2 after a retryable failure', async () => {
    const { scoringId } = await submitScoring(h.demo.userKey);
    const before = await h.head();
    const inProgress = await h.call('POST', `/scorings/${scoringId}/retry`, { key: h.demo.userKey });
    expect(inProgress.statusCode, inProgress.body).toBe(422);
    expect(json(inProgress).code).toBe('SCORING_IN_PROGRESS');
    expect(await h.head()).toBe(before);

    // The AI worker reports a retryable failure (no handler runs here: issue the command directly).
    await h.engine.deps.scoring.execute(
      { tenantId: h.demo.tenantId, correlationId: randomUUID(), causationId: randomUUID() },
      { type: 'FailScoring', scoringId, attempt: 1, errorCode: 'model_timeout', reason: 'model timed out', retryable: true, costCents: 0 },
    );
    const failed = json(await h.call('GET', `/scorings/${scoringId}`, { key: h.demo.userKey }));
    expect(failed).toMatchObject({ status: 'failed', failure: { errorCode: 'model_timeout', retryable: true, canRetry: true } });

    const retried = await h.call('POST', `/scorings/${scoringId}/retry`, { key: h.demo.userKey });
    expect(retried.statusCode, retried.body).toBe(202);
    expect(json(retried)).toEqual({ scoringId, status: 'requested', attempt: 2, location: `/scorings/${scoringId}` });
    expect(retried.headers.location).toBe(`/scorings/${scoringId}`);
    expect(json(await h.call('GET', `/scorings/${scoringId}`, { key: h.demo.userKey }))).toMatchObject({ status: 'requested', attempt: 2 });
  });
});

describe('POST /scorings?wait', () => {
  it('answers 202 when no outcome comes in time', async () => {
    const response = await h.call('POST', '/scorings?wait=50', { key: h.demo.userKey, body: scoringRequest() });
    expect(response.statusCode, response.body).toBe(202);
    expect(json<SubmitBody>(response).status).toBe('requested');
  });

  it('answers 200 with the outcome when it comes while waiting', async () => {
    const correlationId = `wait-${randomUUID()}`;
    const pending = h.call('POST', '/scorings?wait=20000', { key: h.demo.userKey, body: scoringRequest(), headers: { 'x-correlation-id': correlationId } });
    // Play the AI worker: once the request is in the store, report its outcome.
    let requested: EventViewBody | undefined;
    for (let i = 0; i < 400 && !requested; i++) {
      [requested] = await eventsOf(h.demo.userKey, { correlationId });
      if (!requested) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(requested, 'the scoring request was appended').toBeDefined();
    const scoringId = requested?.data.scoringId as string;
    await h.engine.deps.scoring.execute(
      { tenantId: h.demo.tenantId, correlationId, causationId: requested?.id as string },
      { type: 'FailScoring', scoringId, attempt: 1, errorCode: 'model_error', reason: 'model failed', retryable: false, costCents: 0 },
    );
    const response = await pending;
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers.location).toBe(`/scorings/${scoringId}`);
    expect(json(response)).toMatchObject({ scoringId, status: 'failed', failure: { errorCode: 'model_error', retryable: false, canRetry: false } });
  });
});

describe('subscription', () => {
  it('GET /subscription shows the active plan', async () => {
    const response = await h.call('GET', '/subscription', { key: h.demo.userKey });
    expect(response.statusCode, response.body).toBe(200);
    const body = json<SubscriptionBody>(response);
    expect(body).toMatchObject({ tenantId: h.demo.tenantId, plan: 'pro', status: 'active', monthlyPriceCents: 19_900, includedScorings: 500 });
    expect(body.subscriptionId).toMatch(UUID);
  });

  it('POST /subscription creates one (201), PUT /subscription/plan changes it, POST /subscription/cancel cancels it', async () => {
    const tenant = await h.tenant('Lifecycle Lending');
    const created = await h.call('POST', '/subscription', { key: tenant.adminKey, body: { plan: 'starter' } });
    expect(created.statusCode, created.body).toBe(201);
    const subscription = json<SubscriptionBody>(created);
    expect(subscription).toMatchObject({ tenantId: tenant.tenantId, plan: 'starter', status: 'active', monthlyPriceCents: 4_900 });

    const upgraded = await h.call('PUT', '/subscription/plan', { key: tenant.adminKey, body: { plan: 'enterprise' } });
    expect(upgraded.statusCode, upgraded.body).toBe(200);
    expect(json(upgraded)).toMatchObject({ subscriptionId: subscription.subscriptionId, plan: 'enterprise', status: 'active', includedScorings: 5_000 });

    const read = json(await h.call('GET', '/subscription', { key: tenant.userKey }));
    expect(read).toMatchObject({ plan: 'enterprise', status: 'active' });

    const cancelled = await h.call('POST', '/subscription/cancel', { key: tenant.adminKey, body: { reason: 'customer_request', comment: 'Switching vendor' } });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const cancelledBody = json<SubscriptionBody>(cancelled);
    expect(cancelledBody).toMatchObject({ subscriptionId: subscription.subscriptionId, status: 'cancelled' });
    expect(typeof cancelledBody.cancelledAt).toBe('string');

    // A new subscription after cancellation is allowed (new id, same stream).
    const again = await h.call('POST', '/subscription', { key: tenant.adminKey, body: { plan: 'pro' } });
    expect(again.statusCode, again.body).toBe(201);
    expect(json<SubscriptionBody>(again).subscriptionId).not.toBe(subscription.subscriptionId);
  });

  it('POST /subscription/cancel works without a body', async () => {
    const tenant = await h.tenant('Bodyless Cancel', 'starter');
    const cancelled = await h.call('POST', '/subscription/cancel', { key: tenant.adminKey });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(json(cancelled)).toMatchObject({ status: 'cancelled' });
  });
});

describe('payment webhooks', () => {
  it('records succeeded and failed payments; a redelivery is acknowledged and appends nothing', async () => {
    const tenant = await h.tenant('Paying Lender', 'pro');
    const { subscriptionId } = json<SubscriptionBody>(await h.call('GET', '/subscription', { key: tenant.userKey }));

    const succeeded = paymentWebhook(tenant.tenantId, subscriptionId);
    const before = await h.head();
    const first = await h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body: succeeded });
    expect(first.statusCode, first.body).toBe(200);
    expect(json(first)).toEqual({ received: true });
    const afterFirst = await h.head();
    expect(BigInt(afterFirst)).toBe(BigInt(before) + 1n);

    const redelivered = await h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body: succeeded });
    expect(redelivered.statusCode, redelivered.body).toBe(200);
    expect(json(redelivered)).toEqual({ received: true });
    expect(await h.head()).toBe(afterFirst);

    const failed = paymentWebhook(tenant.tenantId, subscriptionId, {
      outcome: 'failed',
      failure: { code: 'card_declined', message: 'Your card was declined', attempt: 1, nextRetryAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    const failedFirst = await h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body: failed });
    expect(failedFirst.statusCode, failedFirst.body).toBe(200);
    const afterFailed = await h.head();
    expect(BigInt(afterFailed)).toBe(BigInt(afterFirst) + 1n);
    expect(json(await h.call('GET', '/subscription', { key: tenant.userKey }))).toMatchObject({ status: 'past_due' });

    const failedAgain = await h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body: failed });
    expect(failedAgain.statusCode, failedAgain.body).toBe(200);
    expect(await h.head()).toBe(afterFailed);

    const stream = json<EventPageBody>(await h.call('GET', `/streams/subscription-${tenant.tenantId}`, { key: tenant.userKey }));
    expect(stream.events.map((e) => e.eventType)).toEqual(['billing.subscription.created', 'billing.payment.succeeded', 'billing.payment.failed']);

    // A later success brings the subscription back to active.
    const recovered = await h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body: paymentWebhook(tenant.tenantId, subscriptionId) });
    expect(recovered.statusCode, recovered.body).toBe(200);
    expect(json(await h.call('GET', '/subscription', { key: tenant.userKey }))).toMatchObject({ status: 'active' });
  });
});

describe('actions', () => {
  it('POST /actions records one action (202), POST /actions/batch records a batch in order (202)', async () => {
    const before = await h.head();
    const one = await h.call('POST', '/actions', { key: h.demo.userKey, body: { action: 'page_view', category: 'navigation', page: '/scorings/new' } });
    expect(one.statusCode, one.body).toBe(202);
    expect(json(one)).toEqual({ accepted: 1 });

    const actions = [
      { action: 'page_view', category: 'navigation', page: '/dashboard' },
      { action: 'scoring.result_viewed', category: 'scoring' },
      { action: 'page_view', category: 'navigation', page: '/subscription', sessionId: 'sess-1' },
    ];
    const correlationId = `batch-${randomUUID()}`;
    const batch = await h.call('POST', '/actions/batch', { key: h.demo.userKey, body: { actions }, headers: { 'x-correlation-id': correlationId } });
    expect(batch.statusCode, batch.body).toBe(202);
    expect(json(batch)).toEqual({ accepted: 3 });
    expect(BigInt(await h.head())).toBe(BigInt(before) + 4n);

    const recorded = await eventsOf(h.demo.userKey, { correlationId });
    expect(recorded.map((e) => e.data)).toEqual(actions.map((a) => ({ tenantId: h.demo.tenantId, ...a })));
    expect(recorded.every((e) => e.streamId === analyticsStreamId(h.demo.tenantId, e.metadata.occurredAt as string))).toBe(true);
  });
});

describe('GET /events and GET /streams/:stream', () => {
  it('filters by type (unversioned and versioned), stream and correlation id', async () => {
    const correlationId = `events-${randomUUID()}`;
    const { scoringId } = await submitScoring(h.demo.userKey, { 'x-correlation-id': correlationId });
    await h.call('POST', '/actions', { key: h.demo.userKey, body: { action: 'page_view', category: 'navigation' }, headers: { 'x-correlation-id': correlationId } });

    const byCorrelation = await eventsOf(h.demo.userKey, { correlationId });
    expect(byCorrelation.map((e) => e.eventType)).toEqual(['ai.scoring.requested', 'analytics.event.recorded']);

    const byType = await eventsOf(h.demo.userKey, { type: 'ai.scoring.requested' });
    expect(byType.length).toBeGreaterThan(0);
    expect(byType.every((e) => e.eventType === 'ai.scoring.requested')).toBe(true);
    expect(byType.some((e) => e.data.scoringId === scoringId)).toBe(true);

    const storedType = byCorrelation[0]?.type as string;
    expect(storedType).toMatch(/^ai\.scoring\.requested\.v\d+$/);
    const byVersionedType = await eventsOf(h.demo.userKey, { type: storedType, correlationId });
    expect(byVersionedType.map((e) => e.data.scoringId)).toEqual([scoringId]);

    const byStream = await eventsOf(h.demo.userKey, { stream: `scoring-${scoringId}` });
    expect(byStream.map((e) => [e.streamId, e.eventType])).toEqual([[`scoring-${scoringId}`, 'ai.scoring.requested']]);

    const none = await eventsOf(h.demo.userKey, { correlationId: `unused-${randomUUID()}` });
    expect(none).toEqual([]);
  });

  it('filters by time range: from is inclusive, to exclusive', async () => {
    const correlationId = `range-${randomUUID()}`;
    for (let i = 0; i < 3; i++) {
      const response = await h.call('POST', '/actions', { key: h.demo.userKey, body: { action: 'page_view', category: 'navigation', page: `/p${i}` }, headers: { 'x-correlation-id': correlationId } });
      expect(response.statusCode).toBe(202);
      // Distinct occurredAt timestamps (millisecond clock).
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const all = await eventsOf(h.demo.userKey, { correlationId });
    expect(all).toHaveLength(3);
    const times = all.map((e) => e.metadata.occurredAt as string);
    const middle = times[1] as string;
    expect(new Set(times).size).toBe(3);

    const fromMiddle = await eventsOf(h.demo.userKey, { correlationId, from: middle });
    expect(fromMiddle.map((e) => e.data.page)).toEqual(['/p1', '/p2']);
    const toMiddle = await eventsOf(h.demo.userKey, { correlationId, to: middle });
    expect(toMiddle.map((e) => e.data.page)).toEqual(['/p0']);
    const window = await eventsOf(h.demo.userKey, { correlationId, from: times[0] as string, to: times[2] as string });
    expect(window.map((e) => e.data.page)).toEqual(['/p0', '/p1']);
    const future = await eventsOf(h.demo.userKey, { correlationId, from: new Date(Date.now() + 3_600_000).toISOString() });
    expect(future).toEqual([]);
  });

  it('pages with limit and cursor: every event once, in commit order', async () => {
    const correlationId = `paging-${randomUUID()}`;
    const actions = Array.from({ length: 7 }, (_, i) => ({ action: 'page_view', category: 'navigation', page: `/page/${i}` }));
    expect((await h.call('POST', '/actions/batch', { key: h.demo.userKey, body: { actions }, headers: { 'x-correlation-id': correlationId } })).statusCode).toBe(202);

    const pages: EventPageBody[] = [];
    let cursor: string | undefined;
    do {
      const response = await h.call('GET', '/events', { key: h.demo.userKey, query: { correlationId, limit: '3', ...(cursor ? { cursor } : {}) } });
      expect(response.statusCode, response.body).toBe(200);
      const page = json<EventPageBody>(response);
      expect(page.events.length).toBeLessThanOrEqual(3);
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor && pages.length < 10);
    expect(pages.map((p) => p.events.length)).toEqual([3, 3, 1]);
    const pagesOf = pages.flatMap((p) => p.events.map((e) => e.data.page));
    expect(pagesOf).toEqual(actions.map((a) => a.page));
    const commits = pages.flatMap((p) => p.events.map((e) => BigInt(e.position.commit)));
    expect([...commits].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(commits);

    // limit alone caps the page and hands out a cursor.
    const capped = json<EventPageBody>(await h.call('GET', '/events?limit=2', { key: h.demo.userKey }));
    expect(capped.events).toHaveLength(2);
    expect(typeof capped.nextCursor).toBe('string');
  });

  it('GET /streams/:stream reads a stream oldest first, with paging', async () => {
    const tenant = await h.tenant('Stream Reader', 'starter');
    await h.call('PUT', '/subscription/plan', { key: tenant.adminKey, body: { plan: 'pro' } });
    await h.call('PUT', '/subscription/plan', { key: tenant.adminKey, body: { plan: 'enterprise' } });
    const stream = `subscription-${tenant.tenantId}`;

    const whole = await h.call('GET', `/streams/${stream}`, { key: tenant.userKey });
    expect(whole.statusCode, whole.body).toBe(200);
    const body = json<EventPageBody>(whole);
    expect(body.events.map((e) => [e.revision, e.eventType])).toEqual([
      ['0', 'billing.subscription.created'],
      ['1', 'billing.subscription.updated'],
      ['2', 'billing.subscription.updated'],
    ]);
    expect(body.nextCursor).toBeUndefined();

    const first = json<EventPageBody>(await h.call('GET', `/streams/${stream}?limit=2`, { key: tenant.userKey }));
    expect(first.events.map((e) => e.revision)).toEqual(['0', '1']);
    expect(first.nextCursor).toBeDefined();
    const rest = await h.call('GET', `/streams/${stream}`, { key: tenant.userKey, query: { limit: '2', cursor: first.nextCursor as string } });
    expect(rest.statusCode, rest.body).toBe(200);
    expect(json<EventPageBody>(rest).events.map((e) => e.revision)).toEqual(['2']);
  });
});

describe('health and docs', () => {
  it('GET /health/live and /health/ready answer 200 without a key', async () => {
    const live = await h.call('GET', '/health/live');
    expect(live.statusCode).toBe(200);
    expect(json(live)).toEqual({ status: 'ok' });
    const ready = await h.call('GET', '/health/ready');
    expect(ready.statusCode, ready.body).toBe(200);
    expect(json(ready)).toMatchObject({ status: 'ready', store: expect.any(String) });
  });

  it('GET /docs serves the API docs', async () => {
    const docs = await h.call('GET', '/docs');
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/text\/html/);
  });
});

describe('admin routes', () => {
  it('GET /admin/groups, /admin/dashboard and /metrics answer the platform operator, not a tenant admin', async () => {
    expect((await h.call('GET', '/admin/groups', { key: h.demo.adminKey })).statusCode).toBe(403);
    const groups = await h.call('GET', '/admin/groups', { key: h.operatorKey });
    expect(groups.statusCode, groups.body).toBe(200);
    expect(Array.isArray(json<unknown>(groups))).toBe(true);
    const dashboard = await h.call('GET', '/admin/dashboard', { key: h.operatorKey });
    expect(dashboard.statusCode, dashboard.body).toBe(200);
    const metrics = await h.call('GET', '/metrics', { key: h.operatorKey });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    const unknownGroup = await h.call('GET', '/admin/groups/no-such-group/parked', { key: h.demo.adminKey });
    expect(unknownGroup.statusCode).toBe(404);
  });
});

type JsonSchema = Record<string, unknown>;
interface OpenApiOperation {
  security?: unknown[];
  parameters?: { in: string; name: string; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}
interface OpenApiDocument {
  openapi: string;
  security?: unknown[];
  paths: Record<string, Record<string, OpenApiOperation>>;
}

describe('GET /openapi.json', () => {
  const CORE_ROUTES = [
    'get /health/live',
    'get /health/ready',
    'post /scorings',
    'get /scorings/{scoringId}',
    'post /scorings/{scoringId}/retry',
    'get /subscription',
    'post /subscription',
    'put /subscription/plan',
    'post /subscription/cancel',
    'post /webhooks/payments',
    'post /actions',
    'post /actions/batch',
    'get /events',
    'get /streams/{stream}',
  ];
  const WITH_BODY = ['post /scorings', 'post /subscription', 'put /subscription/plan', 'post /subscription/cancel', 'post /webhooks/payments', 'post /actions', 'post /actions/batch'];
  /** Error statuses a route can answer besides the ones every authenticated route documents. */
  const SPECIFIC_ERRORS: Record<string, number[]> = {
    'post /scorings': [409, 422],
    'get /scorings/{scoringId}': [404],
    'post /scorings/{scoringId}/retry': [404, 409, 422],
    'get /subscription': [404],
    'post /subscription': [422],
    'put /subscription/plan': [404, 409, 422],
    'post /subscription/cancel': [404, 409, 422],
    'post /webhooks/payments': [404, 409, 422],
    'post /actions': [413],
    'post /actions/batch': [413],
    'get /streams/{stream}': [404],
  };

  let doc: OpenApiDocument;
  let operations: [string, OpenApiOperation][];

  beforeAll(async () => {
    const response = await h.call('GET', '/openapi.json');
    expect(response.statusCode).toBe(200);
    doc = json<OpenApiDocument>(response);
    operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => [`${method} ${path}`, op] as [string, OpenApiOperation]));
  });

  it('documents every route, and no hidden ones', () => {
    expect(doc.openapi).toMatch(/^3\./);
    const names = operations.map(([name]) => name);
    for (const route of CORE_ROUTES) expect(names).toContain(route);
    expect(names.some((name) => name.includes('/openapi.json') || name.includes('/docs'))).toBe(false);
  });

  it('every route has response schemas for its successes and its errors', () => {
    for (const [name, op] of operations) {
      const responses = Object.entries(op.responses ?? {});
      expect(responses.some(([status]) => /^2\d\d$/.test(status)), `${name} documents a success`).toBe(true);
      for (const [status, response] of responses) {
        const schemas = Object.values(response.content ?? {}).map((c) => c.schema);
        expect(schemas.length, `${name} ${status} has content`).toBeGreaterThan(0);
        for (const schema of schemas) {
          expect(schema, `${name} ${status} has a schema`).toBeTypeOf('object');
          if (Number(status) >= 400 && !name.includes('/health/')) {
            expect(schema?.required, `${name} ${status} is the error shape`).toEqual(expect.arrayContaining(['code', 'message']));
          }
        }
      }
    }
  });

  it('every route documents its request: body, path and query parameters', () => {
    for (const [name, op] of operations) {
      const pathParams = [...name.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const param of pathParams) {
        const documented = op.parameters?.find((p) => p.in === 'path' && p.name === param);
        expect(documented?.schema, `${name} documents path parameter ${param}`).toBeTypeOf('object');
      }
    }
    for (const name of WITH_BODY) {
      const op = operations.find(([n]) => n === name)?.[1];
      const schema = op?.requestBody?.content?.['application/json']?.schema;
      expect(schema?.type, `${name} documents a JSON body`).toBe('object');
      expect(schema?.additionalProperties, `${name} refuses unknown fields`).toBe(false);
    }
    const events = operations.find(([n]) => n === 'get /events')?.[1];
    const query = (events?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(query).toEqual(expect.arrayContaining(['from', 'to', 'type', 'stream', 'correlationId', 'cursor', 'limit']));
  });

  it('documents the error responses: 400/401/403/503 on every authenticated route, and the route-specific ones', () => {
    for (const [name, op] of operations) {
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      if (isPublic) continue;
      const statuses = Object.keys(op.responses ?? {});
      for (const status of ['400', '401', '403', '503']) expect(statuses, `${name} documents ${status}`).toContain(status);
      for (const status of SPECIFIC_ERRORS[name] ?? []) expect(statuses, `${name} documents ${status}`).toContain(String(status));
    }
    expect(doc.security?.length).toBeGreaterThan(0);
    const health = operations.filter(([name]) => name.includes('/health/'));
    expect(health.every(([, op]) => Array.isArray(op.security) && op.security.length === 0)).toBe(true);
  });
});

describe('GET /events on a busy store', () => {
  it('a sparse query continues past the per-page scan bound with cursors, and finds every event once', { timeout: 120_000 }, async () => {
    const busy = await startHarness();
    try {
      const correlationId = `sparse-${randomUUID()}`;
      const mine = (page: string) => busy.call('POST', '/actions', { key: busy.demo.userKey, body: { action: 'page_view', category: 'navigation', page }, headers: { 'x-correlation-id': correlationId } });
      expect((await mine('/before')).statusCode).toBe(202);
      // Another tenant's traffic: more events than one page may examine (10,000).
      const noisy = await busy.tenant('Noisy Lender');
      const actions = Array.from({ length: 100 }, (_, i) => ({ action: 'page_view', category: 'navigation', page: `/noise/${i}` }));
      for (let batch = 0; batch < 105; batch++) {
        const response = await busy.call('POST', '/actions/batch', { key: noisy.userKey, body: { actions } });
        expect(response.statusCode).toBe(202);
      }
      expect((await mine('/after')).statusCode).toBe(202);

      const pages: EventPageBody[] = [];
      let cursor: string | undefined;
      do {
        const response = await busy.call('GET', '/events', { key: busy.demo.userKey, query: { correlationId, limit: '10', ...(cursor ? { cursor } : {}) } });
        expect(response.statusCode, response.body).toBe(200);
        const page = json<EventPageBody>(response);
        pages.push(page);
        cursor = page.nextCursor;
      } while (cursor && pages.length < 20);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.flatMap((p) => p.events.map((e) => e.data.page))).toEqual(['/before', '/after']);
    } finally {
      await busy.stop();
    }
  });
});
