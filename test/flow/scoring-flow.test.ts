/**
 * The AI scoring flow end to end, over HTTP, with every handler running (startEngine on a temp
 * dir, tiny retry policy, rate limit off):
 *   1. POST /scorings?wait → completed → in-app notification + e-mail (outbox and events, same
 *      correlation id as the request), usage recorded once, analytics of the day, invoice.
 *   2. The completion delivered again to the usage meter and the invoice projection (the same
 *      RecordedEvent, straight into handler.handle): still one usage, the invoice unchanged.
 *   3. Saga compensation: a tenant whose card is declined → 3 failed attempts → subscription
 *      cancelled (payment_failed) + retention e-mail; a new scoring is then refused (422).
 *   4. Rebuild of scoring_status over HTTP: GET /scorings lists the same as before.
 * Waits are event-driven: ?wait, runner.waitForIdle, rebuilds.wait.
 */
import { PLATFORM_TENANT_ID } from '../../src/contracts/common.js';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoringStreamId } from '../../src/aggregates/streams.js';
import type { EventHandler, HandlerContext } from '../../src/engine/subscription-runner.js';
import type { RecordedEvent } from '../../src/eventstore/port.js';
import { SimulatedPaymentGateway } from '../../src/integrations/payments/simulated.js';
import { USAGE_METERING_GROUP } from '../../src/process-managers/usage-metering.js';
import { usageInvoicesProjection } from '../../src/projections/usage-invoices.js';
import type { IssuedKey } from '../../src/tenancy/api-keys.js';
import { startEngine, type RunningEngine } from '../../src/wiring.js';
import { json, scoringRequest, type ErrorBody, type EventPageBody, type EventViewBody } from '../http/support.js';

type Method = 'GET' | 'POST';

interface Tenant {
  readonly tenantId: string;
  readonly user: IssuedKey;
  readonly admin: IssuedKey;
}

interface ScoringView {
  readonly scoringId: string;
  readonly status: string;
  readonly requestedAt: string;
  readonly result?: { readonly matchScore: number };
}

interface InvoiceBody {
  readonly subscriptionId: string;
  readonly period: string;
  readonly usage: { readonly scorings: number; readonly included: number; readonly overage: number };
  readonly lines: readonly { readonly kind: string; readonly quantity: number; readonly amountCents: number }[];
}

interface OutboxBody {
  readonly emails: readonly { readonly to: string; readonly subject: string; readonly text: string; readonly correlationId?: string }[];
}

const IDLE = { timeout: 30_000 };

let dataDir: string;
let engine: RunningEngine;
const gateway = new SimulatedPaymentGateway();

function call(method: Method, url: string, key: IssuedKey, options: { body?: unknown; correlationId?: string } = {}): Promise<LightMyRequestResponse> {
  return engine.http.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${key.apiKey}`,
      ...(options.correlationId ? { 'x-correlation-id': options.correlationId } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : {}),
  });
}

async function ok<T>(response: Promise<LightMyRequestResponse>, status = 200): Promise<T> {
  const answered = await response;
  expect(answered.statusCode, answered.body).toBe(status);
  return json<T>(answered);
}

async function events(key: IssuedKey, query: Record<string, string>): Promise<EventViewBody[]> {
  const page = await ok<EventPageBody>(call('GET', `/events?${new URLSearchParams({ limit: '1000', ...query }).toString()}`, key));
  expect(page.nextCursor).toBeUndefined();
  return [...page.events];
}

async function head(): Promise<string> {
  const position = await engine.deps.store.headPosition();
  return position ? position.commit.toString() : '0';
}

/** A tenant with a user and an admin key; with a plan, its subscription created over HTTP. */
async function tenant(name: string, plan?: 'starter' | 'pro', correlationId?: string): Promise<Tenant> {
  const { tenantId } = engine.deps.tenants.createTenant(name);
  const created: Tenant = { tenantId, user: engine.deps.tenants.issueKey(tenantId, 'user'), admin: engine.deps.tenants.issueKey(tenantId, 'admin') };
  if (plan) await ok(call('POST', '/subscription', created.admin, { body: { plan }, ...(correlationId ? { correlationId } : {}) }), 201);
  return created;
}

function handlerNamed(name: string): EventHandler {
  const handler = engine.handlers.find((h) => h.name === name);
  if (!handler) throw new Error(`no handler named ${name}: ${engine.handlers.map((h) => h.name).join(', ')}`);
  return handler;
}

/** The event as the store delivers it (decrypted, as handlers get it). */
async function recorded(streamId: string, matches: (event: RecordedEvent) => boolean): Promise<RecordedEvent> {
  for await (const event of engine.deps.store.readStream(streamId)) if (matches(event)) return event;
  throw new Error(`no matching event in ${streamId}`);
}

function redelivery(group: string): HandlerContext {
  return { group, retryCount: 1, attempt: 0, signal: new AbortController().signal };
}

let lender: Tenant;
let subscriptionId: string;
/** The platform operator's admin key (rebuilds span tenants). */
let operator: IssuedKey;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mmp-flow-'));
  engine = await startEngine({ dataDir, paymentGateway: gateway, retryPolicy: { maxRetries: 2, retryDelay: 5, maxRetryDelay: 20 }, http: { rateLimit: false } });
  lender = await tenant('Flow Lender', 'pro');
  const platform = engine.deps.tenants.createTenant('Operations', PLATFORM_TENANT_ID);
  operator = engine.deps.tenants.issueKey(platform.tenantId, 'admin');
  await engine.runner.waitForIdle(undefined, IDLE);
  subscriptionId = (await ok<{ subscriptionId: string; status: string }>(call('GET', '/subscription', lender.user))).subscriptionId;
});

afterAll(async () => {
  await engine?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the AI scoring flow over HTTP', () => {
  const correlationId = `flow-${randomUUID()}`;
  let scoring: ScoringView;
  let invoice: InvoiceBody;

  it('a scoring request completes, is notified by in-app notification and e-mail, metered once, counted and invoiced', async () => {
    scoring = await ok<ScoringView>(call('POST', '/scorings?wait=15000', lender.user, { body: scoringRequest(), correlationId }));
    expect(scoring.status).toBe('completed');
    await engine.runner.waitForIdle(undefined, IDLE);

    // Everything the request caused carries its correlation id.
    const caused = await events(lender.user, { correlationId });
    expect(caused.every((e) => e.metadata.correlationId === correlationId && e.metadata.tenantId === lender.tenantId)).toBe(true);
    const completed = caused.find((e) => e.eventType === 'ai.scoring.completed');
    expect(completed?.data).toMatchObject({ scoringId: scoring.scoringId });

    // Notifications: one in-app notification to the submitting key, one e-mail to the tenant.
    const notified = await events(lender.user, { type: 'notification.user.sent', correlationId });
    expect(notified).toHaveLength(1);
    expect(notified[0]?.data).toMatchObject({ recipientUserId: `key:${lender.user.keyId}`, template: 'scoring_completed', relatedEventId: completed?.id });
    const mailed = await events(lender.user, { type: 'notification.email.sent', correlationId });
    expect(mailed).toHaveLength(1);
    const outbox = await ok<OutboxBody>(call('GET', '/admin/outbox', lender.admin));
    const emails = outbox.emails.filter((e) => e.correlationId === correlationId);
    expect(emails).toHaveLength(1);
    expect(emails[0]?.subject).toContain(`Scoring ${scoring.scoringId.slice(0, 8)} completed`);
    expect(emails[0]?.text).toContain(scoring.scoringId);
    expect(mailed[0]?.data).toMatchObject({ to: emails[0]?.to });

    // Usage recorded once, caused by the completion.
    const usage = await events(lender.user, { type: 'billing.usage.recorded' });
    expect(usage).toHaveLength(1);
    expect(usage[0]?.data).toMatchObject({ scoringId: scoring.scoringId, subscriptionId, quantity: 1, billing: 'included' });
    expect(usage[0]?.metadata).toMatchObject({ correlationId, causationId: completed?.id });

    // Analytics of the day.
    const day = scoring.requestedAt.slice(0, 10);
    const analytics = await ok<{ totals: Record<string, unknown>; days: { day: string }[] }>(call('GET', `/analytics?from=${day}&to=${day}`, lender.admin));
    expect(analytics.days.map((d) => d.day)).toEqual([day]);
    expect(analytics.totals).toMatchObject({ scoringsRequested: 1, scoringsCompleted: 1, scoringsFailed: 0 });

    // The invoice: one included scoring.
    const { invoices } = await ok<{ invoices: InvoiceBody[] }>(call('GET', '/invoices', lender.user));
    const period = (usage[0]?.data as { period: string }).period;
    expect(invoices.find((i) => i.subscriptionId === subscriptionId && i.period === period)?.usage).toEqual({ scorings: 1, included: 1, overage: 0 });
    invoice = await ok<InvoiceBody>(call('GET', `/invoices/${subscriptionId}/${period}`, lender.user));
    expect(invoice.usage).toEqual({ scorings: 1, included: 1, overage: 0 });
    expect(invoice.lines.filter((l) => l.kind === 'included_usage')).toMatchObject([{ quantity: 1, amountCents: 0 }]);
  });

  it('the completion delivered a second time to the usage meter and the invoice projection changes nothing', async () => {
    const completed = await recorded(scoringStreamId(scoring.scoringId), (e) => e.type.startsWith('ai.scoring.completed.'));
    const [usageView] = await events(lender.user, { type: 'billing.usage.recorded' });
    if (!usageView) throw new Error('no usage');
    const usageRecorded = await recorded(usageView.streamId, (e) => e.id === usageView.id);
    const before = { head: await head(), invoice: await ok<InvoiceBody>(call('GET', `/invoices/${subscriptionId}/${invoice.period}`, lender.user)) };
    expect(before.invoice).toEqual(invoice);

    for (const name of [USAGE_METERING_GROUP, usageInvoicesProjection.name]) await handlerNamed(name).handle(completed, redelivery(name));
    // The invoice projection reads the usage itself: deliver that again too.
    await handlerNamed(usageInvoicesProjection.name).handle(usageRecorded, redelivery(usageInvoicesProjection.name));
    await engine.runner.waitForIdle(undefined, IDLE);

    expect(await events(lender.user, { type: 'billing.usage.recorded' })).toHaveLength(1);
    expect(await ok<InvoiceBody>(call('GET', `/invoices/${subscriptionId}/${invoice.period}`, lender.user))).toEqual(before.invoice);
    expect(await head()).toBe(before.head);
  });

  it('a declined card: 3 failed attempts cancel the subscription (payment_failed), a retention e-mail goes out, new scorings are refused', async () => {
    const declined = engine.deps.tenants.createTenant('Declined Lender');
    gateway.setOutcome(declined.tenantId, 'decline');
    const d: Tenant = { tenantId: declined.tenantId, user: engine.deps.tenants.issueKey(declined.tenantId, 'user'), admin: engine.deps.tenants.issueKey(declined.tenantId, 'admin') };
    const creation = `flow-saga-${randomUUID()}`;
    const created = await ok<{ status: string; subscriptionId: string }>(call('POST', '/subscription', d.admin, { body: { plan: 'starter' }, correlationId: creation }), 201);
    expect(created.status).toBe('active');
    await engine.runner.waitForIdle(undefined, IDLE);

    expect(gateway.charges.filter((c) => c.tenantId === d.tenantId).map((c) => c.attempt)).toEqual([1, 2, 3]);
    const failed = await events(d.user, { type: 'billing.payment.failed' });
    expect(failed.map((e) => (e.data as { attempt: number }).attempt)).toEqual([1, 2, 3]);
    expect(failed.every((e) => (e.data as { failureCode: string }).failureCode === 'card_declined')).toBe(true);

    const subscription = await ok<{ status: string; subscriptionId: string; cancelledAt?: string }>(call('GET', '/subscription', d.user));
    expect(subscription).toMatchObject({ subscriptionId: created.subscriptionId, status: 'cancelled', cancelledAt: expect.any(String) });
    const cancelled = await events(d.user, { type: 'billing.subscription.cancelled' });
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]?.data).toMatchObject({ subscriptionId: created.subscriptionId, reason: 'payment_failed' });
    expect(cancelled[0]?.metadata).toMatchObject({ correlationId: creation });

    const outbox = await ok<OutboxBody>(call('GET', '/admin/outbox', d.admin));
    const retention = outbox.emails.filter((e) => e.subject === 'Your MortgageMatchPro subscription is cancelled');
    expect(retention).toHaveLength(1);
    expect(retention[0]?.text).toContain('could not collect the payment');
    expect(retention[0]?.correlationId).toBe(creation);

    const before = await head();
    const refused = await call('POST', '/scorings', d.user, { body: scoringRequest() });
    expect(refused.statusCode, refused.body).toBe(422);
    expect(json<ErrorBody>(refused)).toMatchObject({ code: 'NO_ACTIVE_SUBSCRIPTION', message: expect.any(String) });
    expect(await head()).toBe(before);
    // The other tenant's subscription is untouched.
    expect(await ok<{ status: string }>(call('GET', '/subscription', lender.user))).toMatchObject({ status: 'active' });
  });

  it('a rebuild of scoring_status over HTTP lists the same scorings', async () => {
    // A second scoring, so the list has an order to keep.
    await ok(call('POST', '/scorings?wait=15000', lender.user, { body: scoringRequest() }));
    await engine.runner.waitForIdle(undefined, IDLE);
    const list = async (): Promise<unknown> => ok(call('GET', '/scorings?limit=100', lender.user));
    const before = { list: await list(), one: await ok(call('GET', `/scorings/${scoring.scoringId}`, lender.user)) };
    expect((before.list as { items: unknown[] }).items).toHaveLength(2);

    expect((await call('POST', '/admin/projections/scoring_status/rebuild', lender.admin)).statusCode).toBe(403);
    const started = await call('POST', '/admin/projections/scoring_status/rebuild', operator);
    expect(started.statusCode, started.body).toBe(202);
    const { id } = json<{ id: string }>(started);
    expect(started.headers.location).toBe(`/admin/rebuilds/${id}`);
    await engine.rebuilds.wait(id);
    const status = await ok<{ state: string; result?: { generation: number; events: number } }>(call('GET', `/admin/rebuilds/${id}`, operator));
    expect(status.state).toBe('completed');
    expect(status.result?.generation).toBeGreaterThanOrEqual(2);
    expect(status.result?.events).toBeGreaterThan(0);

    expect(await list()).toEqual(before.list);
    expect(await ok(call('GET', `/scorings/${scoring.scoringId}`, lender.user))).toEqual(before.one);
  });
});
