import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import type { TSchema } from 'typebox';
import { describe, expect, it } from 'vitest';
import { CUSTOM_SCHEMA_KEYWORDS } from '../../src/contracts/common.js';
import { ApiErrorSchema, apiError } from '../../src/contracts/api/error.js';
import { UserActionBatchSchema, UserActionSchema } from '../../src/contracts/api/analytics.js';
import {
  CancelSubscriptionBodySchema,
  ChangePlanBodySchema,
  CreateSubscriptionBodySchema,
  PaymentWebhookBodySchema,
  SubscriptionViewSchema,
  validatePaymentWebhookRules,
  type PaymentWebhookBody,
} from '../../src/contracts/api/billing.js';
import { EventPageSchema, EventQuerySchema, EventViewSchema, toEventView, validateEventQueryRules } from '../../src/contracts/api/events.js';
import { ScoringRequestViewSchema, SubmitScoringBodySchema, SubmitScoringResponseSchema } from '../../src/contracts/api/scoring.js';
import { decodeEvent, toEventData } from '../../src/contracts/events/codec.js';
import { currentEntry, eventCatalog, type CatalogEntry } from '../../src/contracts/events/catalog.js';
import type { JsonObject, JsonValue, RecordedEvent } from '../../src/eventstore/port.js';
import { validate } from '../../src/contracts/validation.js';
import { DELETE, exampleOf, mutate, paths } from './helpers.js';

const bodies: [string, TSchema][] = [
  ['SubmitScoringBody', SubmitScoringBodySchema],
  ['CreateSubscriptionBody', CreateSubscriptionBodySchema],
  ['ChangePlanBody', ChangePlanBodySchema],
  ['CancelSubscriptionBody', CancelSubscriptionBodySchema],
  ['PaymentWebhookBody', PaymentWebhookBodySchema],
  ['UserAction', UserActionSchema],
  ['UserActionBatch', UserActionBatchSchema],
];
const responses: [string, TSchema][] = [
  ['ApiError', ApiErrorSchema],
  ['SubmitScoringResponse', SubmitScoringResponseSchema],
  ['ScoringRequestView', ScoringRequestViewSchema],
  ['SubscriptionView', SubscriptionViewSchema],
];

describe('API schemas', () => {
  it.each([...bodies, ...responses])('%s accepts its example', (_name, schema) => {
    expect(validate(schema, exampleOf(schema))).toEqual([]);
  });

  it('error shape: code, message, optional details with paths', () => {
    expect(apiError('SAME_PLAN', 'Already on pro')).toEqual({ code: 'SAME_PLAN', message: 'Already on pro' });
    expect(apiError('VALIDATION_FAILED', 'Bad', [])).toEqual({ code: 'VALIDATION_FAILED', message: 'Bad' });
    const withDetails = apiError('VALIDATION_FAILED', 'Bad', [{ path: '/plan', message: 'is required' }]);
    expect(validate(ApiErrorSchema, withDetails)).toEqual([]);
    expect(paths(validate(ApiErrorSchema, { code: 'lower', message: 'x' }))).toEqual(['/code']);
    expect(paths(validate(ApiErrorSchema, { code: 'X', message: 'x', details: [{ path: '/a' }] }))).toEqual(['/details/0/message']);
  });

  it('plan bodies accept the catalogue plans only', () => {
    for (const plan of ['starter', 'pro', 'enterprise']) expect(validate(CreateSubscriptionBodySchema, { plan })).toEqual([]);
    expect(paths(validate(ChangePlanBodySchema, { plan: 'gold' }))).toEqual(['/plan']);
    expect(paths(validate(CancelSubscriptionBodySchema, { reason: 'fraud' }))).toEqual(['/reason']);
    expect(validate(CancelSubscriptionBodySchema, {})).toEqual([]);
  });

  it('payment webhook: failure present iff outcome is failed', () => {
    const succeeded = exampleOf(PaymentWebhookBodySchema) as PaymentWebhookBody;
    const failure = { code: 'card_declined', message: 'Declined', attempt: 1 };
    expect(validatePaymentWebhookRules(succeeded)).toEqual([]);
    expect(validatePaymentWebhookRules({ ...succeeded, outcome: 'failed' })).toEqual([{ path: '/failure', message: 'is required when outcome is failed' }]);
    expect(validatePaymentWebhookRules({ ...succeeded, outcome: 'failed', failure })).toEqual([]);
    expect(paths(validatePaymentWebhookRules({ ...succeeded, failure }))).toEqual(['/failure']);
    expect(paths(validate(PaymentWebhookBodySchema, { ...succeeded, amountCents: 0 }))).toEqual(['/amountCents']);
  });

  it('user actions: single, or a batch of 1..100', () => {
    const one = exampleOf(UserActionSchema);
    expect(validate(UserActionBatchSchema, { actions: [one] })).toEqual([]);
    expect(paths(validate(UserActionBatchSchema, { actions: [] }))).toEqual(['/actions']);
    expect(paths(validate(UserActionBatchSchema, { actions: Array.from({ length: 101 }, () => one) }))).toEqual(['/actions']);
    expect(paths(validate(UserActionBatchSchema, { actions: [one, { ...(one as object), action: 'Bad Action' }] }))).toEqual(['/actions/1/action']);
    expect(paths(validate(UserActionSchema, mutate(one, '/category', DELETE)))).toEqual(['/category']);
  });

  it('event query: optional filters, bounded limit, from before to', () => {
    expect(validate(EventQuerySchema, {})).toEqual([]);
    const full = {
      from: '2025-03-01T00:00:00Z',
      to: '2025-03-02T00:00:00Z',
      type: 'ai.scoring.completed',
      stream: 'scoring-3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b',
      correlationId: 'req-42',
      cursor: 'MTAwOjEwMA',
      limit: 50,
    };
    expect(validate(EventQuerySchema, full)).toEqual([]);
    expect(validate(EventQuerySchema, { type: 'ai.scoring.completed.v1' })).toEqual([]);
    expect(paths(validate(EventQuerySchema, { limit: 0 }))).toEqual(['/limit']);
    expect(paths(validate(EventQuerySchema, { limit: 1001 }))).toEqual(['/limit']);
    expect(paths(validate(EventQuerySchema, { stream: '$all' }))).toEqual(['/stream']);
    expect(paths(validate(EventQuerySchema, { from: 'yesterday' }))).toEqual(['/from']);
    expect(validateEventQueryRules(full)).toEqual([]);
    expect(validateEventQueryRules({ from: full.to, to: full.from })).toEqual([{ path: '/to', message: 'must be after from' }]);
  });

  it('a decoded event maps onto the event view and page', () => {
    const data = exampleOf(currentEntry('ai.scoring.completed').schema);
    const written = toEventData('ai.scoring.completed', data as never, { correlationId: 'c-1', causationId: 'c-1', tenantId: 'acme-lending', occurredAt: '2025-03-14T09:26:53Z' }, '0b8e4a8e-7f43-4c8f-9a53-2f6b1c0de001');
    const recorded: RecordedEvent = {
      ...written,
      data: written.data as JsonValue,
      metadata: written.metadata as JsonObject,
      streamId: 'scoring-1',
      revision: 3n,
      position: { commit: 2n ** 63n, prepare: 7n },
      created: new Date('2025-03-14T09:26:54Z'),
    };
    const decoded = decodeEvent(recorded);
    if (!decoded.ok) throw new Error('decode');
    const view = toEventView(decoded.event);
    expect(view).toMatchObject({ revision: '3', position: { commit: '9223372036854775808', prepare: '7' }, type: 'ai.scoring.completed.v2', eventType: 'ai.scoring.completed', version: 2 });
    expect(validate(EventViewSchema, view)).toEqual([]);
    expect(validate(EventPageSchema, { events: [view], nextCursor: 'abc' })).toEqual([]);
    expect(validate(EventPageSchema, { events: [] })).toEqual([]);
  });
});

describe('Fastify accepts the contracts as route schemas (Ajv strict mode + OpenAPI)', () => {
  it('validates bodies and produces an OpenAPI document', async () => {
    const app = Fastify({ ajv: { customOptions: { keywords: [...CUSTOM_SCHEMA_KEYWORDS] } } });
    await app.register(swagger, { openapi: { info: { title: 'test', version: '0' } } });
    for (const [name, schema] of bodies) {
      app.post(`/${name}`, { schema: { body: schema, response: { 400: ApiErrorSchema } } }, async () => ({ ok: true }));
    }
    app.get('/events', { schema: { querystring: EventQuerySchema, response: { 200: EventPageSchema } } }, async () => ({ events: [] }));
    for (const entry of Object.values<CatalogEntry>(eventCatalog)) {
      app.post(`/event/${entry.versionedType}`, { schema: { body: entry.schema } }, async () => ({ ok: true }));
    }
    await app.ready();

    for (const [name, schema] of bodies) {
      const good = await app.inject({ method: 'POST', url: `/${name}`, payload: exampleOf(schema) as object });
      expect(good.statusCode, name).toBe(200);
      const bad = await app.inject({ method: 'POST', url: `/${name}`, payload: [] });
      expect(bad.statusCode, name).toBe(400);
    }
    for (const entry of Object.values<CatalogEntry>(eventCatalog)) {
      const good = await app.inject({ method: 'POST', url: `/event/${entry.versionedType}`, payload: exampleOf(entry.schema) as object });
      expect(good.statusCode, entry.versionedType).toBe(200);
    }
    const query = await app.inject({ method: 'GET', url: '/events?limit=5&type=ai.scoring.completed' });
    expect(query.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/events?limit=0' })).statusCode).toBe(400);

    const doc = app.swagger() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/SubmitScoringBody');
    expect(JSON.stringify(doc)).toContain('x-sensitive');
    await app.close();
  });
});
