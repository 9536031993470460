import { runMeasuringChild } from './child.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EXAMPLE_SCORING_REQUEST } from '../src/contracts/scoring-request.js';
import { rebuildProjection, type RebuildResult } from '../src/engine/rebuild.js';
import type { EventFilter, EventStore, Position } from '../src/eventstore/port.js';
import { createProjections, projectionFilter } from '../src/projections/index.js';
import { openOfflineEngineDeps, startEngine } from '../src/wiring.js';
import { atMost, figure, median, ratioAtLeast, stats, type Figure, type SuiteOptions } from './figures.js';
import { createHistoryTenants, exampleResult, writeHistory } from './flow-history.js';

/**
 * The whole scoring flow, end to end, on the embedded store with every handler running:
 * POST /scorings over loopback HTTP → ai.scoring.requested → AI worker → ai.scoring.completed →
 * usage metering, projections, notifications → notification.user.sent (the last event the engine
 * writes for a completed scoring: the notifications worker appends it after the e-mail went out
 * and notification.email.sent was appended), one catch-up subscription on the notification types
 * matching events to requests by X-Correlation-Id. Three runs:
 * - closed loop, CONCURRENCY flows in flight (a worker submits its next scoring once the previous
 *   one's notification is written): the sustained maximum in flows/s. Its latency is queueing
 *   (in flight / throughput, Little's law), reported for reference only;
 * - open loop at LOAD_FRACTION of that maximum (a scoring every 1/rate s on a fixed schedule,
 *   latency from the scheduled send time): the latency of a flow under a sustained load the
 *   engine can carry — the figure the target is about;
 * - one flow at a time: the unloaded critical path.
 * Latency = request sent → the notification event's `created`; baseline = one durable append
 * of one small event to a fresh stream (the same store, sampled one at a time in the same run).
 *
 * Then, with the engine stopped and its data kept (no handlers react to the generated history):
 * the flow's history plus a generated one (bench/flow-history.ts) is rebuilt projection by
 * projection (rebuildProjection: replay rate, events/s of replay time) against store.readAll
 * with the projection's filter over the same data, same store (the engine's: encrypting,
 * instrumented), same run; rebuild and read rounds alternate.
 * Last, peak RSS growth of a rebuild over 1,000,000 events in a child process (bench/flow-rss.ts).
 */

interface Sizes {
  readonly warmupSeconds: number;
  readonly flowSeconds: number;
  /** The same flow one at a time (the unloaded critical path), for reference. */
  readonly serialSeconds: number;
  readonly appendSamples: number;
  readonly historyScorings: number;
  readonly historyTenants: number;
  readonly rssEvents: number;
}

const FULL: Sizes = { warmupSeconds: 2, flowSeconds: 15, serialSeconds: 4, appendSamples: 600, historyScorings: 50_000, historyTenants: 10, rssEvents: 1_000_000 };
const QUICK: Sizes = { warmupSeconds: 1, flowSeconds: 5, serialSeconds: 2, appendSamples: 200, historyScorings: 10_000, historyTenants: 5, rssEvents: 100_000 };

const CONCURRENCY = 20;
/** The open-loop run offers this share of the closed loop's sustained maximum. */
const LOAD_FRACTION = 0.5;
const FLOW_TIMEOUT_MS = 30_000;
/** How long the groups may take to catch up after a run (they lag behind the flow at saturation). */
const DRAIN_TIMEOUT_MS = 300_000;
const FLOW_TARGET_RATIO = 8;
const REBUILD_TARGET_RATIO = 0.3;
const REBUILD_ROUNDS = 2;
const RSS_TARGET_MB = 100;
const USER_SENT = 'notification.user.sent.';
const EMAIL_SENT = 'notification.email.sent.';


const wallNow = (): number => performance.timeOrigin + performance.now();
const rate = (count: number, ms: number): number => (count * 1_000) / ms;
const count = (n: number): string => n.toLocaleString('en-US');

// ---- HTTP client (node:http, keep-alive: the lightest client in this process) ---------------

interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

function post(agent: Agent, url: URL, headers: Record<string, string>, body: string): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---- notifications, matched by correlation id -----------------------------------------------

interface Delivered {
  /** `created` of notification.user.sent (ms since the epoch). */
  readonly userSent: number;
  /** `created` of notification.email.sent of the same scoring, when seen before. */
  readonly emailSent: number | undefined;
  /** When this process saw notification.user.sent (performance.timeOrigin-based ms). */
  readonly observed: number;
}

class NotificationWatcher {
  readonly #pending = new Map<string, { resolve(delivered: Delivered): void; emailSent?: number }>();
  readonly #subscription;
  readonly #loop: Promise<void>;

  constructor(store: EventStore, from: Position | 'start') {
    const filter: EventFilter = { on: 'eventType', prefixes: [EMAIL_SENT, USER_SENT] };
    this.#subscription = store.subscribeToAll({ fromPosition: from, filter });
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    for await (const event of this.#subscription) {
      const correlationId = event.metadata['correlationId'];
      if (typeof correlationId !== 'string') continue;
      const waiting = this.#pending.get(correlationId);
      if (waiting === undefined) continue;
      if (event.type.startsWith(EMAIL_SENT)) waiting.emailSent = event.created.getTime();
      else if (event.type.startsWith(USER_SENT)) {
        this.#pending.delete(correlationId);
        waiting.resolve({ userSent: event.created.getTime(), emailSent: waiting.emailSent, observed: wallNow() });
      }
    }
  }

  /** Registered before the request goes out, so that the notification cannot come first unseen. */
  expect(correlationId: string, timeoutMs: number): { readonly promise: Promise<Delivered | 'timeout'>; cancel(): void } {
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<Delivered | 'timeout'>((resolve) => {
      timer = setTimeout(() => {
        this.#pending.delete(correlationId);
        resolve('timeout');
      }, timeoutMs);
      this.#pending.set(correlationId, {
        resolve: (delivered) => {
          clearTimeout(timer);
          resolve(delivered);
        },
      });
    });
    return {
      promise,
      cancel: () => {
        clearTimeout(timer);
        this.#pending.delete(correlationId);
      },
    };
  }

  async close(): Promise<void> {
    await this.#subscription.unsubscribe();
    await this.#loop;
  }
}

interface FlowRun {
  readonly completed: number;
  readonly failures: readonly string[];
  readonly elapsedMs: number;
  /** Request sent → notification.user.sent created, ms. */
  readonly latencies: readonly number[];
  /** Request sent → notification.email.sent created, ms. */
  readonly emailLatencies: readonly number[];
  /** Request sent → this process saw notification.user.sent, ms. */
  readonly observedLatencies: readonly number[];
  /** POST /scorings round trips, ms. */
  readonly requestLatencies: readonly number[];
  /** Event-loop utilisation of this process (server, handlers and client) over the run, 0-1. */
  readonly utilization: number;
}

/** One flow: POST /scorings, then wait for its notification.user.sent; latencies from `sent` (ms since the epoch). */
async function oneFlow(agent: Agent, url: URL, apiKey: string, watcher: NotificationWatcher, body: string, sent: number, into: FlowSamples): Promise<void> {
  const correlationId = randomUUID();
  const waiting = watcher.expect(correlationId, FLOW_TIMEOUT_MS);
  let response: HttpResponse;
  try {
    response = await post(agent, url, { authorization: `Bearer ${apiKey}`, 'x-correlation-id': correlationId }, body);
  } catch (error) {
    waiting.cancel();
    into.failures.push(`request failed: ${(error as Error).message}`);
    return;
  }
  into.requestLatencies.push(wallNow() - sent);
  if (response.status !== 202) {
    waiting.cancel();
    into.failures.push(`POST /scorings ${response.status}: ${response.body.slice(0, 200)}`);
    return;
  }
  const delivered = await waiting.promise;
  if (delivered === 'timeout') {
    into.failures.push(`no notification.user.sent for ${correlationId} within ${FLOW_TIMEOUT_MS} ms`);
    return;
  }
  into.latencies.push(delivered.userSent - sent);
  if (delivered.emailSent !== undefined) into.emailLatencies.push(delivered.emailSent - sent);
  into.observedLatencies.push(delivered.observed - sent);
  into.lastEnd = performance.now();
}

interface FlowSamples {
  readonly latencies: number[];
  readonly emailLatencies: number[];
  readonly observedLatencies: number[];
  readonly requestLatencies: number[];
  readonly failures: string[];
  lastEnd: number;
}

function samples(started: number): FlowSamples {
  return { latencies: [], emailLatencies: [], observedLatencies: [], requestLatencies: [], failures: [], lastEnd: started };
}

function flowRun(into: FlowSamples, started: number, loop: ReturnType<typeof performance.eventLoopUtilization>): FlowRun {
  const { utilization } = performance.eventLoopUtilization(loop);
  const { latencies, emailLatencies, observedLatencies, requestLatencies, failures, lastEnd } = into;
  return { completed: latencies.length, failures, elapsedMs: lastEnd - started, latencies, emailLatencies, observedLatencies, requestLatencies, utilization };
}

/** Closed loop: `concurrency` workers, each submitting its next scoring once the previous one's notification is written, until `seconds` passed. */
async function runFlows(agent: Agent, url: URL, apiKey: string, watcher: NotificationWatcher, seconds: number, concurrency = CONCURRENCY): Promise<FlowRun> {
  const body = JSON.stringify(EXAMPLE_SCORING_REQUEST);
  const started = performance.now();
  const into = samples(started);
  const deadline = started + seconds * 1_000;
  const loop = performance.eventLoopUtilization();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) await oneFlow(agent, url, apiKey, watcher, body, wallNow(), into);
    }),
  );
  return flowRun(into, started, loop);
}

/**
 * Open loop: a new scoring every 1/`perSecond` s on a fixed schedule for `seconds`, whatever the
 * earlier ones are doing (wrk2's constant throughput). Latency counts from the SCHEDULED send
 * time, so a stalled engine cannot hide its stall by delaying the next request (no coordinated
 * omission).
 */
async function runFlowsAtRate(agent: Agent, url: URL, apiKey: string, watcher: NotificationWatcher, seconds: number, perSecond: number): Promise<FlowRun> {
  const body = JSON.stringify(EXAMPLE_SCORING_REQUEST);
  const started = performance.now();
  const into = samples(started);
  const total = Math.max(1, Math.round(seconds * perSecond));
  const interval = 1_000 / perSecond;
  const loop = performance.eventLoopUtilization();
  const flows: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    flows.push(oneFlow(agent, url, apiKey, watcher, body, performance.timeOrigin + due, into));
  }
  await Promise.all(flows);
  return flowRun(into, started, loop);
}

// ---- one append -----------------------------------------------------------------------------

let appendStreams = 0;

/** `n` durable appends of one small event to a fresh stream each, one at a time; ms each. */
async function appendLatencies(store: EventStore, n: number): Promise<number[]> {
  const samples: number[] = [];
  const run = (appendStreams += 1);
  for (let i = 0; i < n; i++) {
    const event = { id: randomUUID(), type: 'bench.appended', data: { i }, metadata: { correlationId: randomUUID() } };
    const started = performance.now();
    await store.append(`bench-append-${run}-${i}`, [event], { expectedRevision: 'no_stream' });
    samples.push(performance.now() - started);
  }
  return samples;
}

// ---- rebuild vs readAll ---------------------------------------------------------------------

/** Touch what a reader would touch, so nothing is optimised away. */
let sink = 0;

async function readAllRate(store: EventStore, filter?: EventFilter): Promise<{ events: number; perSecond: number }> {
  let events = 0;
  const started = performance.now();
  for await (const event of store.readAll(filter === undefined ? {} : { filter })) {
    events += 1;
    sink += event.type.length;
  }
  return { events, perSecond: rate(events, performance.now() - started) };
}

function describeFilter(filter: EventFilter): string {
  return 'prefixes' in filter ? filter.prefixes.join(' ') : `/${filter.regex}/`;
}

// ---- RSS (child process) --------------------------------------------------------------------

interface RssResult {
  readonly projection: string;
  readonly events: number;
  readonly baselineMb: number;
  readonly peakMb: number;
  readonly growthMb: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
}

function isRssResult(value: unknown): value is RssResult {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record['projection'] === 'string' && ['events', 'baselineMb', 'peakMb', 'growthMb', 'seconds', 'eventsPerSecond'].every((key) => typeof record[key] === 'number');
}

function measureRss(events: number, log: SuiteOptions['log']): Promise<RssResult> {
  return runMeasuringChild('flow-rss.ts', [String(events)], isRssResult, log);
}

// ---- the suite ------------------------------------------------------------------------------

export async function run(options: SuiteOptions): Promise<Figure[]> {
  const sizes = options.quick ? QUICK : FULL;
  const { log } = options;
  const dir = mkdtempSync(join(tmpdir(), 'bench-flow-'));
  const figures: Figure[] = [];
  try {
    // 1. The flow, with every handler running.
    const engine = await startEngine({ dataDir: dir, runHandlers: true, http: { rateLimit: false } });
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    try {
      const tenant = engine.deps.tenants.createTenant('Bench Flow', 'bench-flow');
      const correlationId = randomUUID();
      await engine.deps.billing.create({ tenantId: tenant.tenantId, correlationId, causationId: correlationId }, 'enterprise');
      const apiKey = engine.deps.tenants.issueKey(tenant.tenantId, 'user').apiKey;
      const address = await engine.http.listen({ host: '127.0.0.1', port: 0 });
      const url = new URL('/scorings', address);
      await engine.runner.waitForIdle();
      const watcher = new NotificationWatcher(engine.deps.store, (await engine.deps.store.headPosition()) ?? 'start');
      try {
        log(`flow: warm-up ${sizes.warmupSeconds} s, ${CONCURRENCY} flows in flight`);
        const warm = await runFlows(agent, url, apiKey, watcher, sizes.warmupSeconds);
        if (warm.failures.length > 0) log(`flow: warm-up failures: ${warm.failures.slice(0, 3).join(' | ')}`);
        await engine.runner.waitForIdle();
        const half = Math.floor(sizes.appendSamples / 2);
        await appendLatencies(engine.deps.store, 20);
        const appendsBefore = await appendLatencies(engine.deps.store, half);
        await engine.runner.waitForIdle();

        log(`flow: ${sizes.flowSeconds} s, ${CONCURRENCY} flows in flight (closed loop: the sustained maximum)`);
        const flow = await runFlows(agent, url, apiKey, watcher, sizes.flowSeconds);
        // Sustained means every group kept up: projections and metering yield to the flow's hops
        // (foreground groups), so they may end the run behind; the time they need to catch up counts.
        const drainStarted = performance.now();
        await engine.runner.waitForIdle(undefined, { timeout: DRAIN_TIMEOUT_MS });
        const drainMs = performance.now() - drainStarted;
        const criticalPathPerSecond = rate(flow.completed, flow.elapsedMs);
        const flowsPerSecond = rate(flow.completed, flow.elapsedMs + drainMs);
        log(`flow: closed loop ${criticalPathPerSecond.toFixed(0)} flows/s on the critical path; every group idle ${(drainMs / 1000).toFixed(1)} s later: sustained ${flowsPerSecond.toFixed(0)} flows/s`);
        const offered = Math.max(1, Math.round(flowsPerSecond * LOAD_FRACTION));
        log(`flow: ${sizes.flowSeconds} s at ${offered} flows/s (open loop, ${LOAD_FRACTION * 100}% of the sustained maximum)`);
        const paced = await runFlowsAtRate(agent, url, apiKey, watcher, sizes.flowSeconds, offered);
        await engine.runner.waitForIdle(undefined, { timeout: DRAIN_TIMEOUT_MS });
        log(`flow: ${sizes.serialSeconds} s, 1 flow in flight`);
        const serial = await runFlows(agent, url, apiKey, watcher, sizes.serialSeconds, 1);
        await engine.runner.waitForIdle(undefined, { timeout: DRAIN_TIMEOUT_MS });
        const appendsAfter = await appendLatencies(engine.deps.store, sizes.appendSamples - half);
        const append = stats([...appendsBefore, ...appendsAfter]);
        const saturated = stats(flow.latencies);
        const latency = stats(paced.latencies);
        const fmt = (ms: number): string => ms.toFixed(2);
        const describe = (run: FlowRun, label: string): string => {
          const l = stats(run.latencies);
          return (
            `flow ${label}: ${count(run.completed)} flows in ${(run.elapsedMs / 1000).toFixed(1)} s (${rate(run.completed, run.elapsedMs).toFixed(0)}/s); to notification.user.sent p50 ${fmt(l.p50)} p99 ${fmt(l.p99)} ms; ` +
            `to notification.email.sent p50 ${fmt(median(run.emailLatencies))}; seen by the watcher p50 ${fmt(median(run.observedLatencies))}; POST round trip p50 ${fmt(median(run.requestLatencies))} ms; event loop utilisation ${run.utilization.toFixed(2)}`
          );
        };
        log(describe(flow, `${CONCURRENCY} in flight`));
        log(describe(paced, `at ${offered}/s`));
        log(`flow: one append p50 ${fmt(append.p50)} p99 ${fmt(append.p99)} ms (${append.count} appends: half before, half after the flows)`);
        log(describe(serial, '1 in flight'));
        const failures = [...flow.failures, ...paced.failures, ...serial.failures];
        if (failures.length > 0) log(`flow: ${failures.length} failures, e.g. ${failures.slice(0, 3).join(' | ')}`);
        figures.push(
          figure({ name: `scoring flows/s end to end, sustained maximum (POST /scorings → notification.user.sent, ${CONCURRENCY} in flight, closed loop, until every group has caught up)`, value: flowsPerSecond, unit: 'flows/s' }),
          figure({
            name: `scoring flow p50 latency at ${LOAD_FRACTION * 100}% of the sustained maximum (open loop), request scheduled → notification.user.sent created (baseline: one durable append p50, target ratio <= ${FLOW_TARGET_RATIO})`,
            value: latency.p50,
            unit: 'ms',
            baseline: append.p50,
            target: { of: 'ratio', op: '<=', threshold: FLOW_TARGET_RATIO },
          }),
          figure({ name: `scoring flow p99 latency at ${LOAD_FRACTION * 100}% of the sustained maximum (baseline: one durable append p99)`, value: latency.p99, unit: 'ms', baseline: append.p99 }),
          figure({
            name: `scoring flow p50 latency at the sustained maximum, ${CONCURRENCY} in flight (queueing: in flight / throughput; baseline: one durable append p50)`,
            value: saturated.p50,
            unit: 'ms',
            baseline: append.p50,
          }),
          figure({
            name: 'scoring flow p50 latency, 1 flow in flight (unloaded critical path, for reference; baseline: one durable append p50)',
            value: median(serial.latencies),
            unit: 'ms',
            baseline: append.p50,
          }),
          figure({ name: `scoring flows failed (non-202, or no notification within ${FLOW_TIMEOUT_MS / 1000} s)`, value: failures.length, unit: 'flows', target: atMost(0) }),
        );
      } finally {
        await watcher.close();
      }
    } finally {
      agent.destroy();
      await engine.stop();
    }

    // 2. Rebuilds over the flow's history plus a generated one; the engine is stopped so no handler
    // reacts to it (its read-model checkpoints run, as under the engine or the CLI).
    const offline = await openOfflineEngineDeps({ dataDir: dir });
    const deps = offline.deps;
    try {
      log(`rebuild: writing ${count(sizes.historyScorings)} scorings of history (${sizes.historyTenants} tenants)`);
      const tenants = await createHistoryTenants(deps, sizes.historyTenants, 'bench-history');
      const written = performance.now();
      const events = await writeHistory(deps.store, tenants, { scorings: sizes.historyScorings, result: await exampleResult(), log });
      log(`rebuild: wrote ${count(events)} events in ${((performance.now() - written) / 1000).toFixed(1)} s`);

      await readAllRate(deps.store);
      const unfiltered = [await readAllRate(deps.store), await readAllRate(deps.store)];
      const total = unfiltered[0]?.events ?? 0;
      log(`rebuild: readAll of ${count(total)} events: ${unfiltered.map((r) => r.perSecond.toFixed(0)).join(' / ')} events/s`);
      figures.push(figure({ name: `readAll of all ${count(total)} events, unfiltered (for reference)`, value: median(unfiltered.map((r) => r.perSecond)), unit: 'events/s' }));

      for (const projection of createProjections()) {
        const filter = projectionFilter(projection);
        // read, rebuild, read, rebuild, read: value = mean of the two rebuilds, baseline = median of the three reads.
        const reads = [await readAllRate(deps.store, filter)];
        const rebuilds: RebuildResult[] = [];
        for (let round = 0; round < REBUILD_ROUNDS; round++) {
          rebuilds.push(await rebuildProjection(deps, projection));
          reads.push(await readAllRate(deps.store, filter));
        }
        const matching = reads[0]?.events ?? 0;
        const replayed = rebuilds[0]?.events ?? 0;
        if (replayed !== matching) log(`rebuild: WARNING ${projection.name} replayed ${replayed} events, the filtered readAll read ${matching}`);
        const baseline = median(reads.map((r) => r.perSecond));
        const value = rebuilds.reduce((sum, r) => sum + r.eventsPerSecond, 0) / rebuilds.length;
        log(
          `rebuild: ${projection.name}: ${count(replayed)} events, ${rebuilds.map((r) => r.eventsPerSecond.toFixed(0)).join(' / ')} events/s of replay ` +
            `(${rebuilds.map((r) => (r.replayMs / 1000).toFixed(1)).join(' / ')} s); filtered readAll ${reads.map((r) => r.perSecond.toFixed(0)).join(' / ')} events/s`,
        );
        figures.push(
          figure({
            name: `rebuild ${projection.name}: ${count(replayed)} of ${count(total)} events, mean of ${REBUILD_ROUNDS} (baseline: median of 3 store.readAll filtered on ${describeFilter(filter)}, same data)`,
            value,
            unit: 'events/s',
            baseline,
            target: ratioAtLeast(REBUILD_TARGET_RATIO),
          }),
        );
      }
    } finally {
      await offline.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // 3. RSS of a rebuild over a large history, in a child process.
  log(`RSS: rebuild over ${count(sizes.rssEvents)} events in a child process`);
  const rss = await measureRss(sizes.rssEvents, log);
  log(`RSS: ${rss.projection}: baseline ${rss.baselineMb.toFixed(1)} MB, peak ${rss.peakMb.toFixed(1)} MB, ${rss.seconds.toFixed(1)} s, ${rss.eventsPerSecond.toFixed(0)} events/s`);
  figures.push(
    figure({
      name: `rebuild ${rss.projection} over ${count(rss.events)} events: peak RSS growth${options.quick ? ' (--quick: 100,000, not 1,000,000)' : ''}`,
      value: rss.growthMb,
      unit: 'MB',
      target: atMost(RSS_TARGET_MB),
    }),
  );
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  return figures;
}
