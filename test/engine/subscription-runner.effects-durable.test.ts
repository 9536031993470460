/**
 * The runner's `effectsDurable` option on a real event store (the embedded SQLite store, in
 * memory): a handled message is acked only once its effects are durable, the consumer goes on with
 * the next message meanwhile, a failure to make effects durable is a system error (nack retry,
 * pause), and stop() waits for the acks still pending.
 *
 * Acks and nacks are observed at the subscription the runner gets from the store (wrapped, then
 * passed through). Waits are event-driven (deferred promises, waitForIdle); timeouts only guard
 * hangs, and the one fixed sleep only gives a wrong implementation time to show itself.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetrics, type EngineMetrics } from '../../src/engine/metrics.js';
import { IdleTimeoutError, type EventHandler, type HandlerContext, type SubscriptionRunner, type SubscriptionRunnerOptions } from '../../src/engine/subscription-runner.js';
import { metricSum as sharedMetricSum, startTestRunner } from './runner-support.js';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import type { NackAction, PersistentSubscriptionSettings, RecordedEvent } from '../../src/eventstore/port.js';

const SETTINGS: Partial<PersistentSubscriptionSettings> = { startFrom: 'start', messageTimeout: 10_000, checkPointAfter: 100, checkPointLowerBound: 1 };
const IDLE = { timeout: 20_000 };
const ALL = { kind: 'all' } as const;

let store: EmbeddedEventStore;
let metrics: EngineMetrics;
const runners: SubscriptionRunner[] = [];
/** What the runner did at the store, in order: `ack:{n}`, `nack-{action}:{n}`, `unsubscribe`. */
let timeline: string[];
/** Event id → its `n`, for readable timelines. */
const numbers = new Map<string, number>();

beforeEach(async () => {
  store = await EmbeddedEventStore.open({ path: ':memory:' });
  metrics = createMetrics({ defaultMetrics: false });
  timeline = [];
  numbers.clear();
  // Record the runner's acks, nacks and unsubscribes, then pass them on to the store.
  const subscribe = store.subscribeToPersistentSubscription.bind(store);
  vi.spyOn(store, 'subscribeToPersistentSubscription').mockImplementation((source, group, options) => {
    const subscription = subscribe(source, group, options);
    const ack = subscription.ack.bind(subscription);
    const nack = subscription.nack.bind(subscription);
    const unsubscribe = subscription.unsubscribe.bind(subscription);
    subscription.ack = (...ids: string[]) => {
      timeline.push(...ids.map((id) => `ack:${numbers.get(id)}`));
      return ack(...ids);
    };
    subscription.nack = (action: NackAction, reason: string, ...ids: string[]) => {
      timeline.push(...ids.map((id) => `nack-${action}:${numbers.get(id)}`));
      return nack(action, reason, ...ids);
    };
    subscription.unsubscribe = () => {
      timeline.push('unsubscribe');
      return unsubscribe();
    };
    return subscription;
  });
});

afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop({ timeout: 2_000 })));
  await store.close();
  vi.restoreAllMocks();
});

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Fails instead of hanging when `promise` never settles (a wrong implementation). */
function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function append(prefix: string, stream: string, count: number): Promise<string[]> {
  const events = Array.from({ length: count }, (_, n) => ({ id: randomUUID(), type: `${prefix}.happened`, data: { n } }));
  events.forEach((event, n) => numbers.set(event.id, n));
  await store.append(stream, events);
  return events.map((event) => event.id);
}

function n(event: RecordedEvent): number {
  return (event.data as { n: number }).n;
}

function handler(name: string, prefix: string, handle: (event: RecordedEvent, context: HandlerContext) => Promise<void>, extra: Partial<EventHandler> = {}): EventHandler {
  return { name, source: { kind: 'all', filter: { on: 'eventType', prefixes: [`${prefix}.`] } }, settings: SETTINGS, handle, ...extra };
}

function startRunner(handlers: EventHandler[], options: Partial<SubscriptionRunnerOptions> = {}): Promise<SubscriptionRunner> {
  return startTestRunner(runners, { store, handlers, metrics, ...options });
}

function metricSum(name: string, labels: Record<string, string> = {}): Promise<number> {
  return sharedMetricSum(metrics, name, labels);
}

describe('SubscriptionRunner effectsDurable (embedded store)', () => {
  it('acks only once effects are durable, and handles the next message while the previous ack waits', async () => {
    const durable = deferred();
    const bothWaiting = deferred();
    let durableCalls = 0;
    const acksSeenByHandle: number[] = [];
    await append('pa', 'loan-1', 2);
    const runner = await startRunner([
      handler('pa-group', 'pa', async () => {
        acksSeenByHandle.push(timeline.filter((entry) => entry.startsWith('ack')).length);
      }),
    ], {
      effectsDurable: () => {
        durableCalls += 1;
        if (durableCalls === 2) bothWaiting.resolve();
        return durable.promise;
      },
    });

    // Message 2 was handled (and is waiting for durability too) although message 1 is not acked.
    await within(bothWaiting.promise, 'the second message handled while the first waits for durability');
    expect(acksSeenByHandle).toEqual([0, 0]);
    expect(timeline).toEqual([]);
    expect(runner.status()[0]).toMatchObject({ inFlight: 2, paused: false });
    expect((await store.getPersistentSubscriptionInfo(ALL, 'pa-group')).stats.totalInFlightMessages).toBe(2);
    expect(await metricSum('events_handled_total', { group: 'pa-group', outcome: 'acked' })).toBe(0);
    const notIdle = await runner.waitForIdle('pa-group', { timeout: 200 }).catch((error: unknown) => error);
    expect(notIdle).toBeInstanceOf(IdleTimeoutError);
    expect((notIdle as IdleTimeoutError).pending.join()).toMatch(/2 message\(s\) being handled/);

    // Durable: both are acked, in order, with the one shared wait.
    durable.resolve();
    await runner.waitForIdle('pa-group', IDLE);
    expect(timeline).toEqual(['ack:0', 'ack:1']);
    expect(durableCalls).toBe(2);
    expect(runner.status()[0]).toMatchObject({ inFlight: 0 });
    expect((await store.getPersistentSubscriptionInfo(ALL, 'pa-group')).stats.totalInFlightMessages).toBe(0);
    expect(await metricSum('events_handled_total', { group: 'pa-group', outcome: 'acked' })).toBe(2);
  });

  it('effectsDurable is awaited after handle() resolves, never before', async () => {
    const order: string[] = [];
    const release = deferred();
    await append('ob', 'loan-2', 1);
    const runner = await startRunner([
      handler('ob-group', 'ob', async () => {
        order.push('handle started');
        await release.promise;
        order.push('handle resolved');
      }),
    ], {
      effectsDurable: async () => void order.push('effectsDurable'),
    });
    await within(
      (async () => {
        while (!order.includes('handle started')) await new Promise((resolve) => setImmediate(resolve));
      })(),
      'handle() called',
    );
    release.resolve();
    await runner.waitForIdle('ob-group', IDLE);
    expect(order).toEqual(['handle started', 'handle resolved', 'effectsDurable']);
    expect(timeline).toEqual(['ack:0']);
  });

  it('effectsDurable rejecting: nack retry, alert, pause until healthy, then the message is redelivered, handled again and acked', async () => {
    const deliveries: { n: number; retryCount: number; at: number }[] = [];
    const events: string[] = [];
    const alerts: string[] = [];
    let failures = 1;
    let healthChecks = 0;
    await append('ed', 'loan-3', 2);
    const runner = await startRunner(
      [
        handler(
          'ed-group',
          'ed',
          async (event, context) => {
            deliveries.push({ n: n(event), retryCount: context.retryCount, at: events.length });
            events.push(`handle:${n(event)}`);
          },
          {
            healthCheck: async () => {
              healthChecks += 1;
              events.push(healthChecks >= 2 ? 'healthy' : 'unhealthy');
              return healthChecks >= 2;
            },
          },
        ),
      ],
      {
        effectsDurable: async () => {
          if (failures > 0) {
            failures -= 1;
            throw new Error('Read-model database: fdatasync of the WAL failed: EIO');
          }
        },
        onSystemError: (alert) => void alerts.push(`${alert.group}:${alert.phase}:${alert.consecutiveFailures}:${(alert.error as Error).message}`),
      },
    );
    await runner.waitForIdle(undefined, IDLE);

    // The first message was nacked for retry (not acked), the group paused (an alert, health probes until healthy)...
    expect(alerts).toEqual(['ed-group:handle:1:Read-model database: fdatasync of the WAL failed: EIO']);
    expect(healthChecks).toBe(2);
    expect(timeline[0]).toBe('nack-retry:0');
    expect(timeline).toContain('unsubscribe'); // the pause let go of the consumer
    // ...and after the resume it came back (a redelivery) and was handled again, then acked.
    const zero = deliveries.filter((d) => d.n === 0);
    expect(zero).toHaveLength(2);
    expect(zero[0]?.retryCount).toBe(0);
    expect(zero[1]?.retryCount).toBeGreaterThanOrEqual(1);
    expect(zero[1]?.at).toBeGreaterThan(events.indexOf('healthy'));
    expect(deliveries.filter((d) => d.n === 1)).toHaveLength(1);
    expect(timeline.filter((entry) => entry.startsWith('ack')).sort()).toEqual(['ack:0', 'ack:1']);
    expect(timeline.indexOf('ack:0')).toBeGreaterThan(timeline.indexOf('unsubscribe'));

    expect(await store.listParkedMessages(ALL, 'ed-group')).toEqual([]);
    expect(runner.status()[0]).toMatchObject({ paused: false, consecutiveSystemFailures: 0, consumers: 1, inFlight: 0 });
    expect(runner.status()[0]?.lastError).toMatch(/fdatasync of the WAL failed/);
    expect(await metricSum('events_handled_total', { group: 'ed-group', outcome: 'retried' })).toBe(1);
    expect(await metricSum('events_handled_total', { group: 'ed-group', outcome: 'acked' })).toBe(2);
    expect(await metricSum('handler_failures_total', { group: 'ed-group', kind: 'system' })).toBe(1);
  });

  it('stop() waits for a pending ack: the message is acked before the consumer unsubscribes', async () => {
    const durable = deferred();
    const waiting = deferred();
    await append('sp', 'loan-4', 1);
    const runner = await startRunner([handler('sp-group', 'sp', async () => undefined)], {
      effectsDurable: () => {
        waiting.resolve();
        return durable.promise;
      },
    });
    await within(waiting.promise, 'effectsDurable called');

    let stopped = false;
    const stopping = runner.stop({ timeout: 20_000 }).then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 100)); // time for a stop() that does not wait to finish
    expect(stopped).toBe(false);
    expect(timeline).toEqual([]);

    durable.resolve();
    await within(stopping, 'stop() after the ack');
    expect(timeline).toEqual(['ack:0', 'unsubscribe']);
    expect(await metricSum('events_handled_total', { group: 'sp-group', outcome: 'acked' })).toBe(1);
    expect((await store.getPersistentSubscriptionInfo(ALL, 'sp-group')).connections).toEqual([]);

    // It was really acked at the store: a new runner on the group gets only what comes later.
    const later: number[] = [];
    const next = await startRunner([handler('sp-group', 'sp', async (event) => void later.push(n(event)))]);
    await append('sp', 'loan-4b', 1);
    await next.waitForIdle(undefined, IDLE);
    expect(later).toEqual([0]);
    expect(timeline.filter((entry) => entry.startsWith('ack'))).toHaveLength(2);
  });

  it('stop() gives up on an ack whose effects never become durable after its timeout: unsubscribed, the message is redelivered later', async () => {
    const waiting = deferred();
    const seen: string[] = [];
    const [id] = await append('nv', 'loan-5', 1);
    const runner = await startRunner([handler('nv-group', 'nv', async (event) => void seen.push(event.id))], {
      effectsDurable: () => {
        waiting.resolve();
        return new Promise<void>(() => undefined); // never
      },
    });
    await within(waiting.promise, 'effectsDurable called');
    await within(runner.stop({ timeout: 200 }), 'stop() with an ack that never settles');
    expect(timeline).toEqual(['unsubscribe']);

    const again = await startRunner([handler('nv-group', 'nv', async (event) => void seen.push(event.id))]);
    await again.waitForIdle(undefined, IDLE);
    expect(seen).toEqual([id, id]);
  });
});
