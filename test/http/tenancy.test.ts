/**
 * Tenant isolation and correlation ids over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsStreamId } from '../../src/http/routes/actions.js';
import { json, paymentWebhook, scoringRequest, startHarness, type EventPageBody, type EventViewBody, type Harness, type TenantKeys } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let h: Harness;
let a: TenantKeys;
let b: TenantKeys;
let aScoringId: string;
const aCorrelationId = `tenant-a-${randomUUID()}`;

beforeAll(async () => {
  h = await startHarness();
  a = h.demo;
  b = await h.tenant('Tenant B');
  const submitted = await h.call('POST', '/scorings', { key: a.userKey, body: scoringRequest(), headers: { 'x-correlation-id': aCorrelationId } });
  expect(submitted.statusCode, submitted.body).toBe(202);
  aScoringId = json<{ scoringId: string }>(submitted).scoringId;
});

afterAll(async () => {
  await h?.stop();
});

async function allEvents(key: string, query: Record<string, string> = {}): Promise<EventViewBody[]> {
  const events: EventViewBody[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const response = await h.call('GET', '/events', { key, query: { limit: '1000', ...query, ...(cursor ? { cursor } : {}) } });
    expect(response.statusCode, response.body).toBe(200);
    const body = json<EventPageBody>(response);
    events.push(...body.events);
    if (!body.nextCursor) return events;
    cursor = body.nextCursor;
  }
  throw new Error('too many pages');
}

describe('cross-tenant isolation', () => {
  it("B cannot read A's scoring (404), and A can", async () => {
    expect((await h.call('GET', `/scorings/${aScoringId}`, { key: a.userKey })).statusCode).toBe(200);
    for (const key of [b.userKey, b.adminKey]) {
      const response = await h.call('GET', `/scorings/${aScoringId}`, { key });
      expect(response.statusCode).toBe(404);
      // The same answer as for an id that never existed: nothing leaks.
      const unknown = await h.call('GET', `/scorings/${randomUUID()}`, { key });
      expect(json(response).code).toBe(json(unknown).code);
    }
  });

  it("B cannot retry A's scoring: the answer for an unknown id (404 once subscribed), nothing appended", async () => {
    const before = await h.head();
    const response = await h.call('POST', `/scorings/${aScoringId}/retry`, { key: b.userKey });
    // B has no subscription yet: the admission check answers first (422), as for any id.
    expect(response.statusCode).toBe(422);
    const unknown = await h.call('POST', `/scorings/${randomUUID()}/retry`, { key: b.userKey });
    expect([response.statusCode, json(response).code]).toEqual([unknown.statusCode, json(unknown).code]);
    expect(await h.head()).toBe(before);

    // With a subscription of its own, B gets the same 404 as for an unknown id.
    const c = await h.tenant('Tenant C', 'starter');
    const afterSubscription = await h.head();
    const forC = await h.call('POST', `/scorings/${aScoringId}/retry`, { key: c.userKey });
    expect(forC.statusCode).toBe(404);
    expect(json(forC).code).toBe('SCORING_NOT_FOUND');
    expect(await h.head()).toBe(afterSubscription);
  });

  it("B cannot read A's streams (404)", async () => {
    for (const stream of [`scoring-${aScoringId}`, `subscription-${a.tenantId}`]) {
      expect((await h.call('GET', `/streams/${stream}`, { key: a.userKey })).statusCode).toBe(200);
      const response = await h.call('GET', `/streams/${stream}`, { key: b.userKey });
      expect(response.statusCode, stream).toBe(404);
      expect(json(response).code).toBe('NOT_FOUND');
    }
  });

  it("A's events are filtered out of B's event log, whatever the filter", async () => {
    await h.call('POST', '/actions', { key: a.userKey, body: { action: 'page_view', category: 'navigation' }, headers: { 'x-correlation-id': aCorrelationId } });
    const ofA = await allEvents(a.userKey, { correlationId: aCorrelationId });
    expect(ofA.map((e) => e.eventType)).toEqual(['ai.scoring.requested', 'analytics.event.recorded']);

    const ofB = await allEvents(b.userKey);
    expect(ofB.every((e) => e.metadata.tenantId === b.tenantId)).toBe(true);
    expect(await allEvents(b.userKey, { correlationId: aCorrelationId })).toEqual([]);
    expect(await allEvents(b.userKey, { stream: `scoring-${aScoringId}` })).toEqual([]);
    expect(await allEvents(b.userKey, { type: 'ai.scoring.requested' })).toEqual([]);
    expect(await allEvents(b.userKey, { stream: analyticsStreamId(a.tenantId, new Date().toISOString()) })).toEqual([]);
  });

  it("B sees its own subscription or 404, never A's", async () => {
    const none = await h.call('GET', '/subscription', { key: b.userKey });
    expect(none.statusCode).toBe(404);

    const created = await h.call('POST', '/subscription', { key: b.adminKey, body: { plan: 'starter' } });
    expect(created.statusCode, created.body).toBe(201);
    const own = json(await h.call('GET', '/subscription', { key: b.userKey }));
    expect(own).toMatchObject({ tenantId: b.tenantId, plan: 'starter' });
    const ofA = json(await h.call('GET', '/subscription', { key: a.userKey }));
    expect(ofA).toMatchObject({ tenantId: a.tenantId, plan: 'pro' });
    expect(own.subscriptionId).not.toBe(ofA.subscriptionId);

    // B's plan change touches B's stream only.
    const changed = await h.call('PUT', '/subscription/plan', { key: b.adminKey, body: { plan: 'enterprise' } });
    expect(changed.statusCode).toBe(200);
    expect(json(await h.call('GET', '/subscription', { key: a.userKey }))).toMatchObject({ plan: 'pro' });
  });

  it("B's admin cannot post a payment for A (403), even naming A's subscription", async () => {
    const ofA = json<{ subscriptionId: string }>(await h.call('GET', '/subscription', { key: a.userKey }));
    const before = await h.head();
    const response = await h.call('POST', '/webhooks/payments', { key: b.adminKey, body: paymentWebhook(a.tenantId, ofA.subscriptionId) });
    expect(response.statusCode).toBe(403);
    expect(await h.head()).toBe(before);
  });

  it("B's user actions land in B's analytics stream", async () => {
    const correlationId = `tenant-b-${randomUUID()}`;
    const response = await h.call('POST', '/actions', { key: b.userKey, body: { action: 'page_view', category: 'navigation' }, headers: { 'x-correlation-id': correlationId } });
    expect(response.statusCode).toBe(202);
    const [event] = await allEvents(b.userKey, { correlationId });
    expect(event?.streamId).toBe(analyticsStreamId(b.tenantId, event?.metadata.occurredAt as string));
    expect(event?.data.tenantId).toBe(b.tenantId);
    expect(await allEvents(a.userKey, { correlationId })).toEqual([]);
  });
});

describe('correlation ids', () => {
  it('a given X-Correlation-Id is echoed and stored on every event the command produced', async () => {
    const tenant = await h.tenant('Correlated Lender', 'pro');
    const { subscriptionId } = json<{ subscriptionId: string }>(await h.call('GET', '/subscription', { key: tenant.userKey }));
    const paymentId = randomUUID();
    const failure = (attempt: number) => paymentWebhook(tenant.tenantId, subscriptionId, { paymentId, outcome: 'failed', failure: { code: 'card_declined', message: 'Declined', attempt } });
    expect((await h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body: failure(1) })).statusCode).toBe(200);
    expect((await h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body: failure(2) })).statusCode).toBe(200);

    // The third failure produces two events (payment failed, subscription cancelled) in one command.
    const correlationId = `corr:${randomUUID()}`;
    const response = await h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body: failure(3), headers: { 'x-correlation-id': correlationId } });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['x-correlation-id']).toBe(correlationId);

    const events = await allEvents(tenant.userKey, { correlationId });
    expect(events.map((e) => e.eventType)).toEqual(['billing.payment.failed', 'billing.subscription.cancelled']);
    for (const event of events) {
      expect(event.metadata).toMatchObject({ correlationId, causationId: correlationId, tenantId: tenant.tenantId });
      expect(event.metadata.userId).toMatch(/^key:[0-9a-f]{16}$/);
    }
    expect(json(await h.call('GET', '/subscription', { key: tenant.userKey }))).toMatchObject({ status: 'cancelled' });
  });

  it('a batch of actions carries the correlation id on each event', async () => {
    const correlationId = `batch.${randomUUID()}`;
    const actions = Array.from({ length: 4 }, (_, i) => ({ action: 'page_view', category: 'navigation', page: `/${i}` }));
    const response = await h.call('POST', '/actions/batch', { key: a.userKey, body: { actions }, headers: { 'x-correlation-id': correlationId } });
    expect(response.statusCode).toBe(202);
    expect(response.headers['x-correlation-id']).toBe(correlationId);
    const events = await allEvents(a.userKey, { correlationId });
    expect(events).toHaveLength(4);
    expect(events.every((e) => e.metadata.correlationId === correlationId && e.metadata.causationId === correlationId)).toBe(true);
  });

  it('without X-Correlation-Id one is generated, echoed and stored', async () => {
    const response = await h.call('POST', '/scorings', { key: a.userKey, body: scoringRequest() });
    expect(response.statusCode).toBe(202);
    const correlationId = response.headers['x-correlation-id'];
    expect(correlationId).toMatch(UUID);
    const events = await allEvents(a.userKey, { correlationId: correlationId as string });
    expect(events.map((e) => [e.eventType, e.data.scoringId])).toEqual([['ai.scoring.requested', json(response).scoringId]]);

    // Each request gets its own.
    const again = await h.call('GET', '/health/live');
    expect(again.headers['x-correlation-id']).toMatch(UUID);
    expect(again.headers['x-correlation-id']).not.toBe(correlationId);
  });

  it('is echoed on reads and on errors too', async () => {
    for (const [method, url, key] of [
      ['GET', '/subscription', a.userKey],
      ['GET', `/scorings/${randomUUID()}`, a.userKey],
      ['GET', '/events', undefined],
    ] as const) {
      const correlationId = `echo-${randomUUID()}`;
      const response = await h.call(method, url, { ...(key ? { key } : {}), headers: { 'x-correlation-id': correlationId } });
      expect(response.headers['x-correlation-id'], `${method} ${url}`).toBe(correlationId);
    }
  });
});
