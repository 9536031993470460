/**
 * Every error class of the API over HTTP: the status, the shared error body
 * `{ code, message, details?: [{ path, message }] }` with the failing field's JSON pointer, and
 * that a rejected request changes nothing (the store's head position is unchanged).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import { json, paymentWebhook, scoringRequest, startHarness, type CallOptions, type ErrorBody, type EventPageBody, type Harness, type Method, type TenantKeys } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

let h: Harness;
/** A tenant on the starter plan with an active subscription. */
let other: TenantKeys;
/** A tenant without any subscription. */
let bare: TenantKeys;
let demoScoringId: string;
let demoSubscriptionId: string;

beforeAll(async () => {
  h = await startHarness();
  other = await h.tenant('Other Lender', 'starter');
  bare = await h.tenant('Bare Lender');
  const submitted = await h.call('POST', '/scorings', { key: h.demo.userKey, body: scoringRequest() });
  expect(submitted.statusCode, submitted.body).toBe(202);
  demoScoringId = json<{ scoringId: string }>(submitted).scoringId;
  demoSubscriptionId = json<{ subscriptionId: string }>(await h.call('GET', '/subscription', { key: h.demo.userKey })).subscriptionId;
});

afterAll(async () => {
  await h?.stop();
});

interface Case {
  readonly name: string;
  readonly method: Method;
  readonly url: string | (() => string);
  readonly options: () => CallOptions;
  readonly status: number;
  readonly code?: string;
  /** JSON pointers that must be among the details' paths. */
  readonly paths?: readonly string[];
}

/** Sends the request and checks the error shape, the status, the code, the paths and that nothing was appended. */
async function expectRejected(c: Omit<Case, 'name'>): Promise<ErrorBody> {
  const before = await h.head();
  const url = typeof c.url === 'function' ? c.url() : c.url;
  const response = await h.call(c.method, url, c.options());
  expect(response.statusCode, response.body).toBe(c.status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = json<ErrorBody>(response);
  expect(typeof body.message).toBe('string');
  expect(body.code).toMatch(ERROR_CODE);
  expect(Object.keys(body).every((key) => ['code', 'message', 'details'].includes(key))).toBe(true);
  if (c.code !== undefined) expect(body.code).toBe(c.code);
  if (c.paths !== undefined) {
    expect(body.details, 'details').toBeDefined();
    const paths = (body.details ?? []).map((d) => d.path);
    for (const path of c.paths) expect(paths).toContain(path);
    for (const detail of body.details ?? []) expect(typeof detail.message).toBe('string');
  }
  // Every answer carries a correlation id, errors included.
  expect(typeof response.headers['x-correlation-id']).toBe('string');
  expect(await h.head()).toBe(before);
  return body;
}

function without(key: string): Record<string, unknown> {
  const body = scoringRequest();
  delete body[key];
  return body;
}

const user = (body?: unknown, extra: Partial<CallOptions> = {}): (() => CallOptions) => () => ({ key: h.demo.userKey, ...(body !== undefined ? { body } : {}), ...extra });
const admin = (body?: unknown, extra: Partial<CallOptions> = {}): (() => CallOptions) => () => ({ key: h.demo.adminKey, ...(body !== undefined ? { body } : {}), ...extra });

const VALIDATION: readonly Case[] = [
  { name: 'missing field', method: 'POST', url: '/scorings', options: user(without('creditScore')), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/creditScore'] },
  {
    name: 'missing nested field',
    method: 'POST',
    url: '/scorings',
    options: user(scoringRequest({ applicant: { name: 'Jane Q. Borrower', dateOfBirth: '1988-04-12' } })),
    status: 400,
    code: 'VALIDATION_FAILED',
    paths: ['/body/applicant/email'],
  },
  { name: 'wrong type', method: 'POST', url: '/scorings', options: user(scoringRequest({ creditScore: 'excellent' })), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/creditScore'] },
  { name: 'wrong type (object)', method: 'POST', url: '/scorings', options: user(scoringRequest({ employment: 'employed' })), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/employment'] },
  { name: 'creditScore above range', method: 'POST', url: '/scorings', options: user(scoringRequest({ creditScore: 900 })), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/creditScore'] },
  { name: 'creditScore below range', method: 'POST', url: '/scorings', options: user(scoringRequest({ creditScore: 299 })), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/creditScore'] },
  { name: 'money not in integer cents', method: 'POST', url: '/scorings', options: user(scoringRequest({ annualIncome: 125_000.5 })), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/annualIncome'] },
  { name: 'unknown extra field', method: 'POST', url: '/scorings', options: user(scoringRequest({ nickname: 'JJ' })), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/nickname'] },
  {
    name: 'unknown nested field',
    method: 'POST',
    url: '/scorings',
    options: user(scoringRequest({ applicant: { name: 'Jane Q. Borrower', email: 'jane@example.com', dateOfBirth: '1988-04-12', ssn: '123-45-6789' } })),
    status: 400,
    code: 'VALIDATION_FAILED',
    paths: ['/body/applicant/ssn'],
  },
  {
    name: 'cross-field rule: loan above property value',
    method: 'POST',
    url: '/scorings',
    options: user(scoringRequest({ purpose: 'refinance', downPayment: 0, firstTimeBuyer: false, loanAmount: 46_000_000, propertyValue: 45_000_000 })),
    status: 400,
    code: 'VALIDATION_FAILED',
    paths: ['/body/loanAmount'],
  },
  {
    name: 'cross-field rule: applicant under 18',
    method: 'POST',
    url: '/scorings',
    options: user(scoringRequest({ applicant: { name: 'Young Borrower', email: 'young@example.com', dateOfBirth: `${new Date().getUTCFullYear() - 10}-01-01` } })),
    status: 400,
    code: 'VALIDATION_FAILED',
    paths: ['/body/applicant/dateOfBirth'],
  },
  { name: 'malformed JSON', method: 'POST', url: '/scorings', options: user(undefined, { payload: '{"creditScore": 742,', headers: { 'content-type': 'application/json' } }), status: 400, code: 'VALIDATION_FAILED', paths: ['/body'] },
  { name: 'empty JSON body', method: 'POST', url: '/actions', options: user(undefined, { payload: '', headers: { 'content-type': 'application/json' } }), status: 400, code: 'VALIDATION_FAILED', paths: ['/body'] },
  { name: 'JSON that is not an object', method: 'POST', url: '/scorings', options: user([1, 2, 3]), status: 400, code: 'VALIDATION_FAILED', paths: ['/body'] },
  { name: 'bad scoring id in the path', method: 'GET', url: '/scorings/not-a-uuid', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/params/scoringId'] },
  { name: 'unknown plan', method: 'PUT', url: '/subscription/plan', options: admin({ plan: 'platinum' }), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/plan'] },
  { name: 'cancel reason customers may not give', method: 'POST', url: '/subscription/cancel', options: admin({ reason: 'fraud' }), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/reason'] },
  {
    name: 'webhook: failed outcome without failure (cross-field)',
    method: 'POST',
    url: '/webhooks/payments',
    options: () => ({ key: h.demo.adminKey, body: paymentWebhook(h.demo.tenantId, demoSubscriptionId, { outcome: 'failed' }) }),
    status: 400,
    code: 'VALIDATION_FAILED',
    paths: ['/body/failure'],
  },
  {
    name: 'webhook: bad billing period',
    method: 'POST',
    url: '/webhooks/payments',
    options: () => ({ key: h.demo.adminKey, body: paymentWebhook(h.demo.tenantId, demoSubscriptionId, { billingPeriod: '2025-13' }) }),
    status: 400,
    code: 'VALIDATION_FAILED',
    paths: ['/body/billingPeriod'],
  },
  { name: 'empty action batch', method: 'POST', url: '/actions/batch', options: user({ actions: [] }), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/actions'] },
  {
    name: 'action batch over 100',
    method: 'POST',
    url: '/actions/batch',
    options: user({ actions: Array.from({ length: 101 }, () => ({ action: 'page_view', category: 'navigation' })) }),
    status: 400,
    code: 'VALIDATION_FAILED',
    paths: ['/body/actions'],
  },
  { name: 'bad action in a batch', method: 'POST', url: '/actions/batch', options: user({ actions: [{ action: 'page_view', category: 'navigation' }, { action: 'Bad Name', category: 'navigation' }] }), status: 400, code: 'VALIDATION_FAILED', paths: ['/body/actions/1/action'] },
  { name: 'bad X-Correlation-Id (spaces)', method: 'POST', url: '/scorings', options: user(scoringRequest(), { headers: { 'x-correlation-id': 'not allowed here' } }), status: 400, code: 'VALIDATION_FAILED', paths: ['/headers/x-correlation-id'] },
  { name: 'bad X-Correlation-Id (too long)', method: 'GET', url: '/subscription', options: user(undefined, { headers: { 'x-correlation-id': 'a'.repeat(129) } }), status: 400, code: 'VALIDATION_FAILED', paths: ['/headers/x-correlation-id'] },
  { name: 'bad X-Correlation-Id (leading dash)', method: 'GET', url: '/subscription', options: user(undefined, { headers: { 'x-correlation-id': '-abc' } }), status: 400, code: 'VALIDATION_FAILED', paths: ['/headers/x-correlation-id'] },
  { name: 'cursor that was never issued', method: 'GET', url: `/events?cursor=${Buffer.from('nope').toString('base64url')}`, options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/cursor'] },
  { name: 'cursor with bad characters', method: 'GET', url: '/events?cursor=%21%21%21', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/cursor'] },
  { name: 'stream cursor that was never issued', method: 'GET', url: () => `/streams/scoring-${demoScoringId}?cursor=${Buffer.from('x:y').toString('base64url')}`, options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/cursor'] },
  { name: 'from after to', method: 'GET', url: '/events?from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/to'] },
  { name: 'from equal to to', method: 'GET', url: '/events?from=2025-03-01T00:00:00Z&to=2025-03-01T00:00:00Z', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/to'] },
  { name: 'from not a date-time', method: 'GET', url: '/events?from=yesterday', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/from'] },
  { name: 'limit 0', method: 'GET', url: '/events?limit=0', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/limit'] },
  { name: 'limit over 1000', method: 'GET', url: '/events?limit=1001', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/limit'] },
  { name: 'limit not a number', method: 'GET', url: '/events?limit=ten', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/limit'] },
  { name: 'unknown query parameter', method: 'GET', url: '/events?tenantId=demo-lender', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/tenantId'] },
  { name: 'bad correlation id filter', method: 'GET', url: '/events?correlationId=has%20space', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/correlationId'] },
  { name: 'system stream', method: 'GET', url: '/streams/%24all', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/params/stream'] },
  { name: 'wait not a number', method: 'POST', url: '/scorings?wait=soon', options: user(scoringRequest()), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/wait'] },
  { name: 'wait too long', method: 'POST', url: '/scorings?wait=30001', options: user(scoringRequest()), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/wait'] },
  { name: 'bad event type filter', method: 'GET', url: '/events?type=NotAType', options: user(), status: 400, code: 'VALIDATION_FAILED', paths: ['/querystring/type'] },
];

const UNKNOWN_KEY = `mmp_${'0'.repeat(16)}_${'A'.repeat(43)}`;

const AUTH: readonly Case[] = [
  { name: 'no key', method: 'POST', url: '/scorings', options: () => ({ body: scoringRequest() }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'no key on a read', method: 'GET', url: '/events', options: () => ({}), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'malformed key', method: 'POST', url: '/scorings', options: () => ({ key: 'not-a-key', body: scoringRequest() }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'empty bearer', method: 'GET', url: '/subscription', options: () => ({ headers: { authorization: 'Bearer ' } }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'other scheme', method: 'GET', url: '/subscription', options: () => ({ headers: { authorization: `Basic ${h.demo.userKey}` } }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'unknown key', method: 'POST', url: '/scorings', options: () => ({ key: UNKNOWN_KEY, body: scoringRequest() }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'unknown key in X-API-Key', method: 'GET', url: '/subscription', options: () => ({ headers: { 'x-api-key': UNKNOWN_KEY } }), status: 401, code: 'UNAUTHENTICATED' },
  {
    name: 'known key id, wrong secret',
    method: 'GET',
    url: '/subscription',
    options: () => ({ key: `${h.demo.userKey.slice(0, -1)}${h.demo.userKey.endsWith('A') ? 'B' : 'A'}` }),
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  { name: 'bad key wins over a bad body', method: 'POST', url: '/scorings', options: () => ({ key: UNKNOWN_KEY, body: { creditScore: 'nope' } }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'user key: create subscription', method: 'POST', url: '/subscription', options: () => ({ key: bare.userKey, body: { plan: 'pro' } }), status: 403, code: 'FORBIDDEN' },
  { name: 'user key: change plan', method: 'PUT', url: '/subscription/plan', options: user({ plan: 'enterprise' }), status: 403, code: 'FORBIDDEN' },
  { name: 'user key: cancel', method: 'POST', url: '/subscription/cancel', options: user({}), status: 403, code: 'FORBIDDEN' },
  { name: 'user key: payment webhook', method: 'POST', url: '/webhooks/payments', options: () => ({ key: h.demo.userKey, body: paymentWebhook(h.demo.tenantId, demoSubscriptionId) }), status: 403, code: 'FORBIDDEN' },
  { name: 'user key: admin groups', method: 'GET', url: '/admin/groups', options: user(), status: 403, code: 'FORBIDDEN' },
  { name: 'user key: forbidden even with a bad body', method: 'PUT', url: '/subscription/plan', options: user({ plan: 'platinum' }), status: 403, code: 'FORBIDDEN' },
  {
    name: 'admin key: payment webhook for another tenant',
    method: 'POST',
    url: '/webhooks/payments',
    options: () => ({ key: other.adminKey, body: paymentWebhook(h.demo.tenantId, demoSubscriptionId) }),
    status: 403,
    code: 'FORBIDDEN',
  },
];

const NOT_FOUND: readonly Case[] = [
  { name: 'unknown scoring id', method: 'GET', url: `/scorings/${randomUUID()}`, options: user(), status: 404, code: 'NOT_FOUND' },
  { name: 'retry of an unknown scoring', method: 'POST', url: `/scorings/${randomUUID()}/retry`, options: user(), status: 404, code: 'SCORING_NOT_FOUND' },
  { name: "another tenant's scoring", method: 'GET', url: () => `/scorings/${demoScoringId}`, options: () => ({ key: other.userKey }), status: 404, code: 'NOT_FOUND' },
  { name: "retry of another tenant's scoring", method: 'POST', url: () => `/scorings/${demoScoringId}/retry`, options: () => ({ key: other.userKey }), status: 404, code: 'SCORING_NOT_FOUND' },
  { name: 'unknown route', method: 'GET', url: '/no/such/route', options: user(), status: 404, code: 'NOT_FOUND' },
  { name: 'unknown route without a key', method: 'POST', url: '/scoring', options: () => ({ body: {} }), status: 404, code: 'NOT_FOUND' },
  { name: 'known path, other method', method: 'DELETE', url: '/subscription', options: admin(), status: 404, code: 'NOT_FOUND' },
  { name: 'unknown stream', method: 'GET', url: '/streams/scoring-00000000-0000-4000-8000-000000000000', options: user(), status: 404, code: 'NOT_FOUND' },
  { name: 'subscription of a tenant without one', method: 'GET', url: '/subscription', options: () => ({ key: bare.userKey }), status: 404, code: 'NOT_FOUND' },
  { name: 'plan change without a subscription', method: 'PUT', url: '/subscription/plan', options: () => ({ key: bare.adminKey, body: { plan: 'pro' } }), status: 404, code: 'SUBSCRIPTION_NOT_FOUND' },
  { name: 'cancel without a subscription', method: 'POST', url: '/subscription/cancel', options: () => ({ key: bare.adminKey, body: {} }), status: 404, code: 'SUBSCRIPTION_NOT_FOUND' },
  {
    name: 'payment webhook without a subscription',
    method: 'POST',
    url: '/webhooks/payments',
    options: () => ({ key: bare.adminKey, body: paymentWebhook(bare.tenantId, randomUUID()) }),
    status: 404,
    code: 'SUBSCRIPTION_NOT_FOUND',
  },
];

const CONFLICTS: readonly Case[] = [
  { name: 'create a subscription when one is active', method: 'POST', url: '/subscription', options: admin({ plan: 'enterprise' }), status: 422, code: 'SUBSCRIPTION_ALREADY_ACTIVE' },
  { name: 'change to the current plan', method: 'PUT', url: '/subscription/plan', options: admin({ plan: 'pro' }), status: 422, code: 'SAME_PLAN' },
  { name: 'retry while in progress', method: 'POST', url: () => `/scorings/${demoScoringId}/retry`, options: user(), status: 422, code: 'SCORING_IN_PROGRESS' },
  {
    name: 'payment for another subscription',
    method: 'POST',
    url: '/webhooks/payments',
    options: () => ({ key: h.demo.adminKey, body: paymentWebhook(h.demo.tenantId, randomUUID()) }),
    status: 422,
    code: 'SUBSCRIPTION_MISMATCH',
  },
  {
    name: 'payment in another currency',
    method: 'POST',
    url: '/webhooks/payments',
    options: () => ({ key: h.demo.adminKey, body: paymentWebhook(h.demo.tenantId, demoSubscriptionId, { currency: 'EUR' }) }),
    status: 422,
    code: 'CURRENCY_MISMATCH',
  },
];

const TRANSPORT: readonly Case[] = [
  {
    name: 'body over the limit (actions)',
    method: 'POST',
    url: '/actions',
    options: user({ action: 'page_view', category: 'navigation', page: 'x'.repeat(1_100_000) }),
    status: 413,
    code: 'FST_ERR_CTP_BODY_TOO_LARGE',
  },
  {
    name: 'body over the limit (scorings)',
    method: 'POST',
    url: '/scorings',
    options: user(scoringRequest({ applicant: { name: 'n'.repeat(1_100_000), email: 'jane@example.com', dateOfBirth: '1988-04-12' } })),
    status: 413,
  },
  { name: 'text/plain body', method: 'POST', url: '/scorings', options: user(undefined, { payload: JSON.stringify(scoringRequest()), headers: { 'content-type': 'text/plain' } }), status: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' },
  { name: 'XML body', method: 'POST', url: '/actions', options: user(undefined, { payload: '<action>page_view</action>', headers: { 'content-type': 'application/xml' } }), status: 415 },
  { name: 'form body', method: 'PUT', url: '/subscription/plan', options: admin(undefined, { payload: 'plan=enterprise', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), status: 415 },
];

describe.each([
  ['400 validation', VALIDATION],
  ['401 and 403', AUTH],
  ['404', NOT_FOUND],
  ['422 business rules', CONFLICTS],
  ['413 and 415', TRANSPORT],
])('%s', (_group, cases) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    await expectRejected(c);
  });
});

describe('details', () => {
  it('lists every failing field at once', async () => {
    const body = await expectRejected({
      method: 'POST',
      url: '/scorings',
      options: user(scoringRequest({ creditScore: 9000, termYears: 31, property: { state: 'XX' } })),
      status: 400,
      code: 'VALIDATION_FAILED',
      paths: ['/body/creditScore', '/body/termYears', '/body/property/state'],
    });
    expect(body.details?.length).toBeGreaterThanOrEqual(3);
  });

  it('a bad X-Correlation-Id is not echoed: a generated one is', async () => {
    const response = await h.call('GET', '/subscription', { key: h.demo.userKey, headers: { 'x-correlation-id': 'bad id' } });
    expect(response.statusCode).toBe(400);
    expect(response.headers['x-correlation-id']).toMatch(UUID);
  });
});

describe('422 without an active subscription', () => {
  it('cancel, then submit a scoring: 422 NO_ACTIVE_SUBSCRIPTION; retry and plan change are refused too; nothing appended', async () => {
    const tenant = await h.tenant('Cancelling Lender', 'pro');
    const submitted = await h.call('POST', '/scorings', { key: tenant.userKey, body: scoringRequest() });
    expect(submitted.statusCode).toBe(202);
    const { scoringId } = json<{ scoringId: string }>(submitted);
    expect((await h.call('POST', '/subscription/cancel', { key: tenant.adminKey, body: { reason: 'customer_request' } })).statusCode).toBe(200);

    await expectRejected({ method: 'POST', url: '/scorings', options: () => ({ key: tenant.userKey, body: scoringRequest() }), status: 422, code: 'NO_ACTIVE_SUBSCRIPTION' });
    await expectRejected({ method: 'POST', url: `/scorings/${scoringId}/retry`, options: () => ({ key: tenant.userKey }), status: 422, code: 'NO_ACTIVE_SUBSCRIPTION' });
    // The decider reports a plan change on a cancelled subscription as a conflict with its state.
    await expectRejected({ method: 'PUT', url: '/subscription/plan', options: () => ({ key: tenant.adminKey, body: { plan: 'enterprise' } }), status: 422, code: 'SUBSCRIPTION_CANCELLED' });
    await expectRejected({ method: 'POST', url: '/subscription/cancel', options: () => ({ key: tenant.adminKey, body: {} }), status: 422, code: 'SUBSCRIPTION_ALREADY_CANCELLED' });
  });

  it('a tenant that never subscribed cannot submit scorings (422)', async () => {
    await expectRejected({ method: 'POST', url: '/scorings', options: () => ({ key: bare.userKey, body: scoringRequest() }), status: 422, code: 'NO_ACTIVE_SUBSCRIPTION' });
  });
});

describe('409 under concurrency', () => {
  it('many concurrent plan changes on one stream: only 200/409/422, and no update is lost', async () => {
    const tenant = await h.tenant('Busy Admin', 'pro');
    const plans = ['starter', 'enterprise', 'pro'] as const;
    const responses = await Promise.all(
      Array.from({ length: 24 }, (_, i) => h.call('PUT', '/subscription/plan', { key: tenant.adminKey, body: { plan: plans[i % plans.length] } })),
    );
    const statuses = responses.map((r) => r.statusCode);
    for (const response of responses) expect([200, 409, 422], response.body).toContain(response.statusCode);
    expect(statuses).toContain(200);
    for (const response of responses.filter((r) => r.statusCode === 409)) expect(['CONCURRENCY_CONFLICT']).toContain(json(response).code);

    const stream = json<EventPageBody>(await h.call('GET', `/streams/subscription-${tenant.tenantId}`, { key: tenant.userKey, query: { limit: '1000' } }));
    const updates = stream.events.filter((e) => e.eventType === 'billing.subscription.updated');
    expect(updates).toHaveLength(statuses.filter((s) => s === 200).length);
    // Each change starts from the plan the previous one left: no lost update.
    let plan = 'pro';
    for (const update of updates) {
      expect(update.data.previousPlan).toBe(plan);
      expect(update.data.plan).not.toBe(plan);
      plan = update.data.plan as string;
    }
    expect(json(await h.call('GET', '/subscription', { key: tenant.userKey }))).toMatchObject({ plan, status: 'active' });
  });

  it('concurrent creates for one tenant: exactly one 201, the others 422, one subscription', async () => {
    const tenant = await h.tenant('Racing Admins');
    const before = await h.head();
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => h.call('POST', '/subscription', { key: tenant.adminKey, body: { plan: i % 2 === 0 ? 'pro' : 'starter' } })));
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    for (const response of responses.filter((r) => r.statusCode !== 201)) {
      expect(response.statusCode, response.body).toBe(422);
      expect(['SUBSCRIPTION_ALREADY_ACTIVE', 'CONCURRENCY_CONFLICT']).toContain(json(response).code);
    }
    expect(BigInt(await h.head())).toBe(BigInt(before) + 1n);
    const winner = json(responses.find((r) => r.statusCode === 201) as (typeof responses)[number]);
    expect(json(await h.call('GET', '/subscription', { key: tenant.userKey }))).toEqual(winner);
  });

  it('the same payment webhook delivered concurrently is recorded once', async () => {
    const tenant = await h.tenant('Redelivering Gateway', 'pro');
    const { subscriptionId } = json<{ subscriptionId: string }>(await h.call('GET', '/subscription', { key: tenant.userKey }));
    const body = paymentWebhook(tenant.tenantId, subscriptionId);
    const before = await h.head();
    const responses = await Promise.all(Array.from({ length: 10 }, () => h.call('POST', '/webhooks/payments', { key: tenant.adminKey, body })));
    for (const response of responses) expect([200, 409], response.body).toContain(response.statusCode);
    expect(responses.some((r) => r.statusCode === 200)).toBe(true);
    expect(BigInt(await h.head())).toBe(BigInt(before) + 1n);
  });
});

describe('503 when the store is unavailable', () => {
  it('answers 503 STORE_UNAVAILABLE (never 500) after the store is closed, and writes nothing', async () => {
    const closed = await startHarness();
    try {
      const key = closed.demo.userKey;
      const { scoringId } = json<{ scoringId: string }>(await closed.call('POST', '/scorings', { key, body: scoringRequest() }));
      const head = await closed.head();
      await closed.engine.deps.store.close();

      const ready = await closed.call('GET', '/health/ready');
      expect(ready.statusCode).toBe(503);
      expect(json(ready)).toMatchObject({ status: 'unavailable' });
      expect((await closed.call('GET', '/health/live')).statusCode).toBe(200);

      const requests: [Method, string, CallOptions][] = [
        ['POST', '/scorings', { key, body: scoringRequest() }],
        ['GET', `/scorings/${scoringId}`, { key }],
        ['POST', `/scorings/${scoringId}/retry`, { key }],
        ['GET', '/subscription', { key }],
        ['PUT', '/subscription/plan', { key: closed.demo.adminKey, body: { plan: 'enterprise' } }],
        ['POST', '/subscription/cancel', { key: closed.demo.adminKey, body: {} }],
        ['POST', '/actions', { key, body: { action: 'page_view', category: 'navigation' } }],
        ['POST', '/actions/batch', { key, body: { actions: [{ action: 'page_view', category: 'navigation' }] } }],
        ['GET', '/events', { key }],
        ['GET', `/streams/scoring-${scoringId}`, { key }],
      ];
      for (const [method, url, options] of requests) {
        const response = await closed.call(method, url, options);
        expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(503);
        expect(json(response)).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      }
      // Authentication does not need the event store: a bad key is still 401, a bad body still 400.
      expect((await closed.call('GET', '/events')).statusCode).toBe(401);
      expect((await closed.call('POST', '/scorings', { key, body: { creditScore: 1 } })).statusCode).toBe(400);

      await closed.stopEngine();
      const reopened = await EmbeddedEventStore.open({ path: join(closed.dataDir, 'events.db') });
      try {
        expect((await reopened.headPosition())?.commit.toString()).toBe(head);
      } finally {
        await reopened.close();
      }
    } finally {
      await closed.stop();
    }
  });
});
