/**
 * The subscription runner on a real event store (the embedded SQLite store, in memory).
 * Waits are event-driven (runner.waitForIdle, deferred promises); timeouts only guard hangs.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BusinessError, SystemError, TransientError } from '../../src/engine/failures.js';
import { createMetrics, dashboard, instrumentStore, type EngineMetrics } from '../../src/engine/metrics.js';
import { IdleTimeoutError, type EventHandler, type HandlerContext, type SubscriptionRunner, type SubscriptionRunnerOptions } from '../../src/engine/subscription-runner.js';
import { metricSum as sharedMetricSum, startTestRunner } from './runner-support.js';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import type { EventStore, PersistentSubscriptionSettings, RecordedEvent } from '../../src/eventstore/port.js';

const SETTINGS: Partial<PersistentSubscriptionSettings> = { startFrom: 'start', messageTimeout: 2_000, checkPointAfter: 100, checkPointLowerBound: 1 };
const IDLE = { timeout: 20_000 };

let store: EmbeddedEventStore;
let metrics: EngineMetrics;
const runners: SubscriptionRunner[] = [];

beforeEach(async () => {
  store = await EmbeddedEventStore.open({ path: ':memory:' });
  metrics = createMetrics({ defaultMetrics: false });
});

afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop({ timeout: 2_000 })));
  await store.close();
});

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function append(prefix: string, stream: string, count: number, from = 0): Promise<void> {
  await store.append(
    stream,
    Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type: `${prefix}.happened`, data: { n: from + i } })),
  );
}

function handler(name: string, prefix: string, handle: (event: RecordedEvent, context: HandlerContext) => Promise<void>, extra: Partial<EventHandler> = {}): EventHandler {
  return { name, source: { kind: 'all', filter: { on: 'eventType', prefixes: [`${prefix}.`] } }, settings: SETTINGS, handle, ...extra };
}

function startRunner(handlers: EventHandler[], options: Partial<SubscriptionRunnerOptions> = {}, on: EventStore = store): Promise<SubscriptionRunner> {
  return startTestRunner(runners, { store: on, handlers, metrics, ...options });
}

function metricSum(name: string, labels: Record<string, string> = {}): Promise<number> {
  return sharedMetricSum(metrics, name, labels);
}

describe('SubscriptionRunner on the embedded store', () => {
  it('success path: handles and acks every event once; a new runner on the group gets nothing again', async () => {
    const seen = new Map<string, number>();
    const record = async (event: RecordedEvent): Promise<void> => void seen.set(event.id, (seen.get(event.id) ?? 0) + 1);
    for (let s = 0; s < 5; s++) await append('ok', `order-${s}`, 4);
    await append('other', 'noise-1', 3); // outside the filter

    const runner = await startRunner([handler('ok-group', 'ok', record, { concurrency: 2 })]);
    await runner.waitForIdle('ok-group', IDLE);
    expect(seen.size).toBe(20);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);

    const info = await store.getPersistentSubscriptionInfo({ kind: 'all' }, 'ok-group');
    expect(info.stats).toMatchObject({ totalInFlightMessages: 0, parkedMessageCount: 0, retryBufferCount: 0 });
    const d = await dashboard(metrics);
    expect(d).toMatchObject({ eventsProcessed: 20, eventsFailed: 0, subscriptionsActive: 1 });
    expect(d.groups[0]).toMatchObject({ group: 'ok-group', consumers: 2, inFlight: 0, retries: 0 });
    expect(await metricSum('event_end_to_end_latency_seconds')).toBeGreaterThanOrEqual(0);

    // Events appended while running are handled too.
    await append('ok', 'order-9', 3);
    await runner.waitForIdle(undefined, IDLE);
    expect(seen.size).toBe(23);

    await runner.stop();
    const again: string[] = [];
    const second = await startRunner([handler('ok-group', 'ok', async (event) => void again.push(event.id))]);
    await append('ok', 'order-10', 1);
    await second.waitForIdle(undefined, IDLE);
    expect(again).toHaveLength(1);
    expect(seen.size).toBe(23);
  });

  it('transient error: retried in process, then succeeds; nothing parked', async () => {
    const attempts = new Map<string, number[]>();
    await append('tr', 'loan-1', 3);
    const runner = await startRunner([
      handler('tr-group', 'tr', async (event, context) => {
        attempts.set(event.id, [...(attempts.get(event.id) ?? []), context.attempt]);
        if ((event.data as { n: number }).n === 1 && context.attempt < 2) throw new TransientError('AI model timed out', { reason: 'timeout' });
      }),
    ]);
    await runner.waitForIdle(undefined, IDLE);
    expect([...attempts.values()].map((a) => a.join(','))).toEqual(['0', '0,1,2', '0']);
    expect(await store.listParkedMessages({ kind: 'all' }, 'tr-group')).toEqual([]);
    expect(await metricSum('handler_retries_total', { group: 'tr-group' })).toBe(2);
    expect(await metricSum('events_handled_total', { group: 'tr-group', outcome: 'acked' })).toBe(3);
  });

  it('transient error forever: parked after maxRetries, the rest of the group goes on', async () => {
    let poisonCalls = 0;
    await append('tf', 'loan-2', 3);
    const runner = await startRunner([
      handler('tf-group', 'tf', async (event) => {
        if ((event.data as { n: number }).n === 0) {
          poisonCalls += 1;
          throw new TransientError('upstream 503', { reason: 'upstream-5xx' });
        }
      }),
    ]);
    await runner.waitForIdle(undefined, IDLE);
    expect(poisonCalls).toBe(4);
    const parked = await store.listParkedMessages({ kind: 'all' }, 'tf-group');
    expect(parked).toHaveLength(1);
    expect(parked[0]?.event.data).toEqual({ n: 0 });
    expect(parked[0]?.reason).toMatch(/gave up after 3 retries: TransientError: upstream 503/);
    await runner.refreshStats();
    expect(await metricSum('parked_messages', { group: 'tf-group' })).toBe(1);
    expect(await metricSum('events_handled_total', { group: 'tf-group', outcome: 'parked' })).toBe(1);
    expect(await metricSum('events_handled_total', { group: 'tf-group', outcome: 'acked' })).toBe(2);
    expect((await dashboard(metrics)).eventsFailed).toBe(1);
  });

  it('business error: parked at once without retry, and the hook is called (it appends notification.admin.sent)', async () => {
    let calls = 0;
    const hookCalls: { eventId: string; code: string }[] = [];
    await append('bz', 'loan-3', 2);
    const counted = instrumentStore(store, metrics);
    const runner = await startRunner(
      [
        handler('bz-group', 'bz', async (event) => {
          calls += 1;
          if ((event.data as { n: number }).n === 1) throw new BusinessError('LTV_TOO_HIGH', 'loan-to-value above 97%');
        }),
      ],
      {
        onBusinessError: async (event, error) => {
          hookCalls.push({ eventId: event.id, code: (error as BusinessError).code });
          await counted.append('notifications-admin', [{ id: randomUUID(), type: 'notification.admin.sent', data: { failedEventId: event.id, reason: (error as Error).message } }]);
        },
      },
      counted,
    );
    await runner.waitForIdle(undefined, IDLE);
    expect(calls).toBe(2);
    const parked = await store.listParkedMessages({ kind: 'all' }, 'bz-group');
    expect(parked.map((p) => p.event.data)).toEqual([{ n: 1 }]);
    expect(parked[0]?.reason).toMatch(/Business error: BusinessError \[LTV_TOO_HIGH\]: loan-to-value above 97%$/);
    expect(hookCalls).toEqual([{ eventId: parked[0]?.event.id, code: 'LTV_TOO_HIGH' }]);
    const notes: RecordedEvent[] = [];
    for await (const e of store.readStream('notifications-admin')) notes.push(e);
    expect(notes.map((e) => e.type)).toEqual(['notification.admin.sent']);
    expect(await metricSum('handler_retries_total', { group: 'bz-group' })).toBe(0);
    expect(await metricSum('handler_failures_total', { group: 'bz-group', kind: 'business' })).toBe(1);
    expect(await metricSum('events_appended_total', { type: 'notification.admin.sent' })).toBe(1);
  });

  it('system error: nack retry, alert, pause until healthy, resume and handle the redelivered message', async () => {
    const deliveries: { n: number; retryCount: number }[] = [];
    let failed = false;
    let handlerHealthChecks = 0;
    const alerts: string[] = [];
    const healthSpy = vi.spyOn(store, 'health');
    await append('sy', 'loan-4', 2);
    const runner = await startRunner(
      [
        handler(
          'sy-group',
          'sy',
          async (event, context) => {
            const n = (event.data as { n: number }).n;
            deliveries.push({ n, retryCount: context.retryCount });
            if (n === 0 && !failed) {
              failed = true;
              throw new SystemError('read-model', 'read model database unavailable');
            }
          },
          { healthCheck: async () => ++handlerHealthChecks >= 3 },
        ),
      ],
      { onSystemError: (alert) => void alerts.push(`${alert.group}:${alert.phase}:${alert.consecutiveFailures}`) },
    );
    await runner.waitForIdle(undefined, IDLE);
    expect(alerts).toEqual(['sy-group:handle:1']);
    expect(handlerHealthChecks).toBe(3);
    expect(healthSpy.mock.calls.length).toBeGreaterThanOrEqual(3);
    // The failed message came back (nack retry, then the pause's unsubscribe: retryCount >= 1) and was handled after the resume.
    const zero = deliveries.filter((d) => d.n === 0);
    expect(zero).toHaveLength(2);
    expect(zero[0]?.retryCount).toBe(0);
    expect(zero[1]?.retryCount).toBeGreaterThanOrEqual(1);
    // The next message waited in the consumer's buffer during the pause: handled once, after the resume.
    expect(deliveries.filter((d) => d.n === 1)).toHaveLength(1);
    expect(await store.listParkedMessages({ kind: 'all' }, 'sy-group')).toEqual([]);
    expect(runner.status()[0]).toMatchObject({ paused: false, consecutiveSystemFailures: 0, consumers: 1 });
    expect(await metricSum('events_handled_total', { group: 'sy-group', outcome: 'retried' })).toBe(1);
    expect(await metricSum('handler_failures_total', { group: 'sy-group', kind: 'system' })).toBe(1);
  });

  it('stop() stops taking messages, drains the in-flight handler, then unsubscribes', async () => {
    const started = deferred();
    const release = deferred();
    const handled: number[] = [];
    await append('sd', 'loan-5', 1);
    const runner = await startRunner([
      handler('sd-group', 'sd', async (event) => {
        const n = (event.data as { n: number }).n;
        if (n === 0) {
          started.resolve();
          await release.promise;
        }
        handled.push(n);
      }),
    ]);
    await started.promise;
    let stopped = false;
    const stopping = runner.stop({ timeout: 20_000 }).then(() => (stopped = true));
    await append('sd', 'loan-5', 2, 1); // arrives during shutdown: must not be taken
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(handled).toEqual([0]);
    expect(await metricSum('events_handled_total', { group: 'sd-group', outcome: 'acked' })).toBe(1);
    expect((await store.getPersistentSubscriptionInfo({ kind: 'all' }, 'sd-group')).connections).toEqual([]);

    // The drained message was acked: a new runner gets only the two later events.
    const later: number[] = [];
    const next = await startRunner([handler('sd-group', 'sd', async (event) => void later.push((event.data as { n: number }).n))]);
    await next.waitForIdle(undefined, IDLE);
    expect(later.sort()).toEqual([1, 2]);
  });

  it('Pinned consumers keep per-stream order through in-process retries', async () => {
    const order = new Map<string, number[]>();
    const failedOnce = new Set<string>();
    for (let s = 0; s < 4; s++) await append('pn', `account-${s}`, 6);
    const runner = await startRunner([
      handler(
        'pn-group',
        'pn',
        async (event) => {
          const n = (event.data as { n: number }).n;
          if (n % 3 === 1 && !failedOnce.has(event.id)) {
            failedOnce.add(event.id);
            throw new TransientError('blip');
          }
          order.set(event.streamId, [...(order.get(event.streamId) ?? []), n]);
        },
        { concurrency: 2, settings: { ...SETTINGS, consumerStrategyName: 'Pinned' } },
      ),
    ]);
    await runner.waitForIdle(undefined, IDLE);
    expect(order.size).toBe(4);
    for (const ns of order.values()) expect(ns).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('waitForIdle reports what is pending when it times out', async () => {
    const release = deferred();
    await append('wi', 'loan-6', 1);
    const runner = await startRunner([handler('wi-group', 'wi', () => release.promise)]);
    const error = await runner.waitForIdle('wi-group', { timeout: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdleTimeoutError);
    expect((error as IdleTimeoutError).pending.join()).toMatch(/wi-group/);
    release.resolve();
    await runner.waitForIdle('wi-group', IDLE);
  });

  it('an existing group is reused (PersistentSubscriptionExists is not an error)', async () => {
    await store.createPersistentSubscription({ kind: 'all', filter: { on: 'eventType', prefixes: ['ex.'] } }, 'ex-group', SETTINGS);
    await append('ex', 'loan-7', 2);
    const seen: number[] = [];
    const runner = await startRunner([handler('ex-group', 'ex', async (event) => void seen.push((event.data as { n: number }).n))]);
    await runner.waitForIdle(undefined, IDLE);
    expect(seen.sort()).toEqual([0, 1]);
  });

  it('a group on a single stream source', async () => {
    await append('st', 'ledger-1', 3);
    const seen: bigint[] = [];
    const runner = await startRunner([{ name: 'st-group', source: { kind: 'stream', stream: 'ledger-1' }, settings: SETTINGS, handle: async (event) => void seen.push(event.revision) }]);
    await runner.waitForIdle(undefined, IDLE);
    expect(seen).toEqual([0n, 1n, 2n]);
  });
});
