import autocannon from 'autocannon';
import Fastify from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { usageStreamFor } from '../src/aggregates/streams.js';
import { usagePeriodDecider } from '../src/aggregates/usage-period.js';
import { SubmitScoringBodySchema } from '../src/contracts/api/scoring.js';
import { CUSTOM_SCHEMA_KEYWORDS } from '../src/contracts/common.js';
import { encodeEvent } from '../src/contracts/events/codec.js';
import { EXAMPLE_SCORING_REQUEST } from '../src/contracts/scoring-request.js';
import { startEngine, type RunningEngine } from '../src/wiring.js';
import { atMost, figure, median, ratioAtLeast, type Figure, type SuiteOptions } from './figures.js';

/**
 * The HTTP front door: POST /scorings on the embedded store (auth, validation, subscription
 * check, durable append) against a bare Fastify route with the same body validation that
 * appends nothing, both under autocannon with 50 connections over loopback, in the same run.
 * Handlers (AI scoring and friends) are off so the figure is the API path alone. The two take
 * turns in rounds of 5 s (five rounds each in a full run), so a slow spell of this noisy
 * machine weighs on both sides rather than on whichever ran during it: req/s is the mean of
 * the rounds, p50 and p99 their median.
 * Then: command latency on a tenant with a long usage history against a new tenant.
 */

const CONNECTIONS = 50;

interface CannonResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly non2xx: number;
  readonly errors: number;
}

interface Round extends CannonResult {
  /** Busy event-loop time per request, µs (autocannon's share included: it runs on this loop). */
  readonly loopMicrosPerRequest: number;
}

/** Rounds of one side: mean req/s, median p50, p99 and loop time, and every failure. */
function combine(rounds: readonly Round[]): Round {
  return {
    requests: { average: rounds.reduce((sum, round) => sum + round.requests.average, 0) / rounds.length, total: rounds.reduce((sum, round) => sum + round.requests.total, 0) },
    latency: { p50: median(rounds.map((round) => round.latency.p50)), p99: median(rounds.map((round) => round.latency.p99)) },
    non2xx: rounds.reduce((sum, round) => sum + round.non2xx, 0),
    errors: rounds.reduce((sum, round) => sum + round.errors, 0),
    loopMicrosPerRequest: median(rounds.map((round) => round.loopMicrosPerRequest)),
  };
}

async function cannon(url: string, headers: Record<string, string>, body: string, seconds: number): Promise<Round> {
  const before = performance.eventLoopUtilization();
  const result = (await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, connections: CONNECTIONS, duration: seconds })) as unknown as CannonResult;
  const loop = performance.eventLoopUtilization(before);
  return { ...result, loopMicrosPerRequest: (loop.active * 1_000) / Math.max(1, result.requests.total) };
}

async function bareServer(): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false, useDefaults: true, keywords: [...CUSTOM_SCHEMA_KEYWORDS] } } }).withTypeProvider<TypeBoxTypeProvider>();
  app.post('/scorings', { schema: { body: SubmitScoringBodySchema } }, async (_request, reply) => reply.status(202).send({ scoringId: randomUUID(), status: 'requested' }));
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `${address}/scorings`, close: () => app.close() };
}

/** Appends `count` usages to the tenant's current period the way the engine writes them (decider, codec), in batches. */
async function seedUsage(engine: RunningEngine, tenantId: string, count: number, log: (line: string) => void): Promise<void> {
  const subscription = await engine.deps.billing.state(tenantId);
  if (subscription.status === 'none') throw new Error('no subscription');
  const context = { status: subscription.status, subscriptionId: subscription.subscriptionId, plan: subscription.plan } as const;
  const recordedAt = new Date().toISOString();
  const stream = usageStreamFor({ tenantId, recordedAt });
  let state = usagePeriodDecider.initialState;
  let revision: bigint | 'no_stream' = 'no_stream';
  const batch = 1_000;
  for (let done = 0; done < count; done += batch) {
    const data = [];
    for (let i = 0; i < batch; i++) {
      const events = usagePeriodDecider.decide({ type: 'RecordUsage', tenantId, scoringId: randomUUID(), aiCostCents: 0, recordedAt, subscription: context }, state);
      for (const event of events) {
        state = usagePeriodDecider.evolve(state, event);
        const envelope = { correlationId: randomUUID(), causationId: randomUUID(), tenantId, occurredAt: recordedAt };
        data.push(encodeEvent(event, envelope, usagePeriodDecider.eventId?.(event) ?? randomUUID()));
      }
    }
    const result = await engine.deps.store.append(stream, data, { expectedRevision: revision });
    revision = result.nextExpectedRevision;
    if ((done / batch) % 100 === 0) log(`  seeded ${done + batch} usages`);
  }
}

async function usageLatencies(engine: RunningEngine, tenantId: string, n: number): Promise<number> {
  const samples: number[] = [];
  const correlationId = randomUUID();
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await engine.deps.billing.recordUsage({ tenantId, correlationId, causationId: correlationId }, { tenantId, scoringId: randomUUID(), aiCostCents: 0, recordedAt: new Date().toISOString() });
    samples.push(performance.now() - started);
  }
  return median(samples);
}

export async function run(options: SuiteOptions): Promise<Figure[]> {
  const seconds = 5;
  const rounds = options.quick ? 1 : 5;
  const history = options.quick ? 100_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'mmp-bench-http-'));
  const engine = await startEngine({ dataDir: dir, runHandlers: false, http: { rateLimit: false } });
  const figures: Figure[] = [];
  try {
    const bigTenant = engine.deps.tenants.createTenant('Bench Big', 'bench-big');
    const newTenant = engine.deps.tenants.createTenant('Bench New', 'bench-new');
    for (const tenant of [bigTenant, newTenant]) {
      const correlationId = randomUUID();
      await engine.deps.billing.create({ tenantId: tenant.tenantId, correlationId, causationId: correlationId }, 'enterprise');
    }
    const key = engine.deps.tenants.issueKey(newTenant.tenantId, 'user').apiKey;
    const address = await engine.http.listen({ host: '127.0.0.1', port: 0 });
    const bare = await bareServer();
    const body = JSON.stringify(EXAMPLE_SCORING_REQUEST);
    try {
      options.log(`http: warm-up`);
      await cannon(`${address}/scorings`, { authorization: `Bearer ${key}` }, body, 1);
      await cannon(bare.url, {}, body, 1);
      const apiRounds: Round[] = [];
      const rawRounds: Round[] = [];
      for (let round = 1; round <= rounds; round++) {
        options.log(`http: round ${round} of ${rounds}: POST /scorings for ${seconds} s, then the bare route for ${seconds} s`);
        const api = await cannon(`${address}/scorings`, { authorization: `Bearer ${key}` }, body, seconds);
        const raw = await cannon(bare.url, {}, body, seconds);
        apiRounds.push(api);
        rawRounds.push(raw);
        options.log(`http:   POST /scorings ${Math.round(api.requests.average)} req/s, p99 ${api.latency.p99} ms; bare ${Math.round(raw.requests.average)} req/s, p99 ${raw.latency.p99} ms`);
      }
      const api = combine(apiRounds);
      const raw = combine(rawRounds);
      if (api.non2xx > 0 || api.errors > 0) options.log(`http: WARNING ${api.non2xx} non-2xx and ${api.errors} errors from POST /scorings`);
      figures.push(
        figure({ name: 'POST /scorings req/s (50 connections) vs bare validated route', value: api.requests.average, unit: 'req/s', baseline: raw.requests.average, target: ratioAtLeast(0.4) }),
        figure({ name: 'POST /scorings p50 latency vs bare route', value: api.latency.p50, unit: 'ms', baseline: raw.latency.p50 }),
        figure({ name: 'POST /scorings p99 latency vs bare route (target ratio <= 3)', value: api.latency.p99, unit: 'ms', baseline: raw.latency.p99, target: { of: 'ratio', op: '<=', threshold: 3 } }),
        figure({ name: 'POST /scorings non-2xx responses', value: api.non2xx + api.errors, unit: 'responses', target: atMost(0) }),
        // Less noisy than req/s on a shared machine: what a request costs the event loop, idle time left out.
        figure({ name: 'POST /scorings busy event-loop time per request vs bare route (autocannon on the same loop: its cost is in both)', value: api.loopMicrosPerRequest, unit: 'µs', baseline: raw.loopMicrosPerRequest }),
      );
    } finally {
      await bare.close();
    }
    options.log(`http: seeding ${history} usages for one tenant`);
    await seedUsage(engine, bigTenant.tenantId, history, options.log);
    const n = options.quick ? 200 : 500;
    await usageLatencies(engine, newTenant.tenantId, 20);
    const withHistory = await usageLatencies(engine, bigTenant.tenantId, n);
    const fresh = await usageLatencies(engine, newTenant.tenantId, n);
    figures.push(
      figure({
        name: `record usage p50 with ${history.toLocaleString('en-US')} prior usages vs a new tenant (target ratio <= 1.5, i.e. same within noise)`,
        value: withHistory,
        unit: 'ms',
        baseline: fresh,
        target: { of: 'ratio', op: '<=', threshold: 1.5 },
      }),
    );
  } finally {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
