/**
 * The runner's decisions against a scripted test double (test/engine/support): exact retry
 * counts and park reasons, hook failure paths, shutdown edge cases. The behaviour on a real store
 * is in subscription-runner.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BusinessError, SystemError, TransientError } from '../../src/engine/failures.js';
import { createMetrics, dashboard, type EngineMetrics } from '../../src/engine/metrics.js';
import { createSubscriptionRunner, subscriptionLag, type EventHandler, type HandlerContext, type SubscriptionRunner } from '../../src/engine/subscription-runner.js';
import { PERSISTENT_SUBSCRIPTION_DEFAULTS, type PersistentSubscriptionInfo, type RecordedEvent } from '../../src/eventstore/port.js';
import { recordedEvent, ScriptedStore } from './support/scripted-subscription.js';

const runners: SubscriptionRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop({ timeout: 1_000 })));
});

function handler(name: string, handle: (event: RecordedEvent, context: HandlerContext) => Promise<void>, extra: Partial<EventHandler> = {}): EventHandler {
  return { name, source: { kind: 'all', filter: { on: 'eventType', prefixes: ['test.'] } }, handle, ...extra };
}

async function start(store: ScriptedStore, handlers: EventHandler[], options: { metrics?: EngineMetrics; onBusinessError?: (event: RecordedEvent, error: unknown) => Promise<void>; onSystemError?: () => void } = {}): Promise<SubscriptionRunner> {
  const runner = createSubscriptionRunner({
    store,
    handlers,
    retryPolicy: { retryDelay: 5, maxRetryDelay: 20, maxRetries: 3 },
    pausePolicy: { retryDelay: 5, maxRetryDelay: 20 },
    statsInterval: 0,
    ...options,
  });
  runners.push(runner);
  await runner.start();
  await store.until(() => store.liveSubscriptions === handlers.reduce((n, h) => n + (h.concurrency ?? 1), 0));
  return runner;
}

async function counter(metrics: EngineMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((s, v) => s + v.value, 0);
}

describe('SubscriptionRunner decisions (scripted test double)', () => {
  it('retries a transient failure in process with attempts 0..n, then acks once', async () => {
    const store = new ScriptedStore();
    const metrics = createMetrics({ defaultMetrics: false });
    const attempts: number[] = [];
    const runner = await start(store, [
      handler('g', async (_event, context) => {
        attempts.push(context.attempt);
        if (context.attempt < 2) throw new TransientError('flaky');
      }),
    ], { metrics });
    const event = recordedEvent();
    store.push(event);
    await store.until(() => store.settlements.length === 1);
    await runner.waitForIdle();
    expect(store.settlements).toEqual([{ eventId: event.id, action: 'ack' }]);
    expect(attempts).toEqual([0, 1, 2]);
    expect(await counter(metrics, 'handler_retries_total', { group: 'g' })).toBe(2);
    expect(await counter(metrics, 'handler_failures_total', { group: 'g', kind: 'transient' })).toBe(2);
    expect(await counter(metrics, 'events_handled_total', { group: 'g', outcome: 'acked' })).toBe(1);
  });

  it('parks after maxRetries retries of a transient failure, with the reason', async () => {
    const store = new ScriptedStore();
    let calls = 0;
    await start(store, [
      handler('g', async () => {
        calls += 1;
        throw new TransientError('still down');
      }),
    ]);
    const event = recordedEvent();
    store.push(event);
    await store.until(() => store.settlements.length === 1);
    expect(calls).toBe(4);
    expect(store.settlements[0]).toMatchObject({ eventId: event.id, action: 'park', reason: expect.stringMatching(/gave up after 3 retries: TransientError: still down/) as unknown });
  });

  it('per-handler retry policy overrides the runner policy', async () => {
    const store = new ScriptedStore();
    let calls = 0;
    await start(store, [handler('g', async () => void (calls += 1, (() => { throw new TransientError('x'); })()), { retryPolicy: { maxRetries: 0 } })]);
    store.push(recordedEvent());
    await store.until(() => store.settlements.length === 1);
    expect(calls).toBe(1);
    expect(store.settlements[0]?.action).toBe('park');
  });

  it('business error: hook first, then park, no retry', async () => {
    const store = new ScriptedStore();
    const metrics = createMetrics({ defaultMetrics: false });
    const order: string[] = [];
    let calls = 0;
    const runner = await start(store, [handler('g', async () => {
      calls += 1;
      throw new BusinessError('BAD_SCORE', 'score out of range');
    })], {
      metrics,
      onBusinessError: async (event, error) => {
        order.push(`hook:${event.id}:${(error as BusinessError).code}:${store.settlements.length}`);
      },
    });
    const event = recordedEvent();
    store.push(event);
    await store.until(() => store.settlements.length === 1);
    await runner.waitForIdle();
    expect(calls).toBe(1);
    expect(order).toEqual([`hook:${event.id}:BAD_SCORE:0`]);
    expect(store.settlements[0]).toMatchObject({ action: 'park', reason: 'Business error: BusinessError [BAD_SCORE]: score out of range' });
    expect((await dashboard(metrics)).eventsFailed).toBe(1);
  });

  it('a failing onBusinessError hook is retried, then the message is parked anyway', async () => {
    const store = new ScriptedStore();
    let hookCalls = 0;
    await start(store, [handler('g', () => Promise.reject(new BusinessError('X', 'bad')))], {
      onBusinessError: async () => {
        hookCalls += 1;
        throw new TransientError('mailer down');
      },
    });
    store.push(recordedEvent());
    await store.until(() => store.settlements.length === 1);
    expect(hookCalls).toBe(4);
    expect(store.settlements[0]?.action).toBe('park');
  });

  it('a hook failing with a system error nacks for retry and pauses the group', async () => {
    const store = new ScriptedStore();
    let hookCalls = 0;
    await start(store, [handler('g', () => Promise.reject(new BusinessError('X', 'bad')))], {
      onBusinessError: async () => {
        hookCalls += 1;
        if (hookCalls === 1) throw new SystemError('store', 'down');
      },
    });
    store.push(recordedEvent());
    await store.until(() => store.settlements.length === 2);
    expect(store.settlements.map((s) => s.action)).toEqual(['retry', 'park']);
    expect(store.subscribeCount).toBe(2);
    expect(hookCalls).toBe(2);
  });

  it('system error: nack retry, alert, unsubscribe, probe health until ok, resubscribe and handle', async () => {
    const store = new ScriptedStore();
    let healthCalls = 0;
    store.health = () => Promise.resolve({ ok: ++healthCalls >= 3, detail: 'db down' });
    const alerts: string[] = [];
    let calls = 0;
    const runner = await start(store, [handler('g', async () => {
      calls += 1;
      if (calls === 1) throw new SystemError('read-model', 'database is locked for good');
    })], { onSystemError: () => void alerts.push('alert') });
    const event = recordedEvent();
    store.push(event);
    await store.until(() => store.settlements.some((s) => s.action === 'ack'));
    await runner.waitForIdle();
    expect(store.settlements.map((s) => s.action)).toEqual(['retry', 'ack']);
    expect(healthCalls).toBe(3);
    expect(alerts).toEqual(['alert']);
    expect(store.subscribeCount).toBe(2);
    expect(runner.status()[0]).toMatchObject({ paused: false, consecutiveSystemFailures: 0, consumers: 1 });
  });

  it('stop() during a retry wait returns at once and leaves the message for redelivery', async () => {
    const store = new ScriptedStore();
    const metrics = createMetrics({ defaultMetrics: false });
    const runner = createSubscriptionRunner({
      store,
      metrics,
      handlers: [handler('g', () => Promise.reject(new TransientError('x')))],
      retryPolicy: { retryDelay: 60_000, maxRetryDelay: 60_000, jitter: false },
      statsInterval: 0,
    });
    runners.push(runner);
    await runner.start();
    store.push(recordedEvent());
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        void counter(metrics, 'handler_retries_total', { group: 'g' }).then((n) => {
          if (n >= 1) {
            clearInterval(poll);
            resolve();
          }
        });
      }, 10);
    });
    const started = Date.now();
    await runner.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(store.settlements).toEqual([]);
    expect(await counter(metrics, 'events_handled_total', { outcome: 'abandoned' })).toBe(1);
    expect(store.liveSubscriptions).toBe(0);
  });

  it('stop() aborts the handler signal after the timeout', async () => {
    const store = new ScriptedStore();
    let sawAbort = false;
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const runner = await start(store, [
      handler('g', (_event, { signal }) =>
        new Promise<void>((_resolve, reject) => {
          markStarted();
          signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new Error('aborted'));
          });
        }),
      ),
    ]);
    store.push(recordedEvent());
    await started;
    await runner.stop({ timeout: 100 });
    expect(sawAbort).toBe(true);
    expect(store.settlements).toEqual([]);
    expect(store.liveSubscriptions).toBe(0);
  });

  it('runs `concurrency` consumers and creates the group once', async () => {
    const store = new ScriptedStore();
    const seen = new Set<string>();
    await start(store, [handler('g', async (event) => void seen.add(event.id), { concurrency: 3 })]);
    for (let i = 0; i < 9; i++) store.push(recordedEvent());
    await store.until(() => store.settlements.length === 9);
    expect(store.created).toEqual(['g']);
    expect(store.subscribeCount).toBe(3);
    expect(seen.size).toBe(9);
  });

  it('rejects duplicate group names and bad concurrency', () => {
    const store = new ScriptedStore();
    const h = handler('g', () => Promise.resolve());
    expect(() => createSubscriptionRunner({ store, handlers: [h, h] })).toThrow(/share the group name/);
    expect(() => createSubscriptionRunner({ store, handlers: [{ ...h, concurrency: 0 }] })).toThrow(RangeError);
  });
});

describe('subscriptionLag', () => {
  const info = (stats: Partial<PersistentSubscriptionInfo['stats']>): PersistentSubscriptionInfo => ({
    eventSource: '$all',
    groupName: 'g',
    status: 'Live',
    settings: PERSISTENT_SUBSCRIPTION_DEFAULTS,
    connections: [],
    stats: { totalItems: 0, totalInFlightMessages: 0, parkedMessageCount: 0, outstandingMessagesCount: 0, retryBufferCount: 0, ...stats },
  });

  it('is last known minus last checkpointed: commit positions for $all, revisions for streams', () => {
    expect(subscriptionLag(info({ lastKnownPosition: { commit: 120n, prepare: 120n }, lastCheckpointedPosition: { commit: 100n, prepare: 100n } }))).toBe(20);
    expect(subscriptionLag(info({ lastKnownRevision: 9n, lastCheckpointedRevision: 4n }))).toBe(5);
    expect(subscriptionLag(info({ lastKnownRevision: 2n }))).toBe(3);
    expect(subscriptionLag(info({ lastKnownPosition: { commit: 5n, prepare: 5n }, lastCheckpointedPosition: { commit: 7n, prepare: 7n } }))).toBe(0);
    expect(subscriptionLag(info({}))).toBe(0);
  });
});
