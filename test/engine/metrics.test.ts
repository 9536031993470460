import { describe, expect, it } from 'vitest';
import { createMetrics, dashboard } from '../../src/engine/metrics.js';

describe('createMetrics', () => {
  it('gives every app its own registry (no global default registry)', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.eventsAppended.inc({ type: 'ai.scoring.requested' });
    expect(await a.registry.metrics()).toContain('events_appended_total{type="ai.scoring.requested"} 1');
    expect(await b.registry.metrics()).not.toContain('events_appended_total{type="ai.scoring.requested"}');
    expect(await a.registry.metrics()).toContain('process_cpu_user_seconds_total');
  });

  it('exposes every metric of the brief', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual(
      [
        'breaker_state',
        'breaker_transitions_total',
        'event_end_to_end_latency_seconds',
        'events_appended_total',
        'events_handled_total',
        'handler_duration_seconds',
        'handler_failures_total',
        'handler_retries_total',
        'parked_messages',
        'subscription_consumers',
        'subscription_in_flight',
        'subscription_lag_events',
      ].sort(),
    );
  });

  it("computes the spec's dashboard with per-group detail", async () => {
    const m = createMetrics({ defaultMetrics: false });
    for (let i = 0; i < 5; i++) m.eventsAppended.inc({ type: 'billing.usage.recorded' });
    m.eventsAppended.inc({ type: 'ai.scoring.requested' }, 2);
    m.eventsHandled.inc({ group: 'usage', type: 'billing.usage.recorded', outcome: 'acked' }, 4);
    m.eventsHandled.inc({ group: 'usage', type: 'billing.usage.recorded', outcome: 'parked' });
    m.eventsHandled.inc({ group: 'scoring', type: 'ai.scoring.requested', outcome: 'acked' }, 2);
    m.handlerDuration.observe({ group: 'usage' }, 0.1);
    m.handlerDuration.observe({ group: 'usage' }, 0.3);
    m.handlerDuration.observe({ group: 'scoring' }, 0.2);
    m.endToEndLatency.observe({ group: 'usage' }, 1.5);
    m.subscriptionLag.set({ group: 'usage' }, 7);
    m.subscriptionInFlight.set({ group: 'usage' }, 1);
    m.subscriptionLag.set({ group: 'scoring' }, 0);
    m.subscriptionConsumers.set({ group: 'usage' }, 2);
    m.subscriptionConsumers.set({ group: 'scoring' }, 0);
    m.handlerRetries.inc({ group: 'usage' }, 3);
    m.handlerFailures.inc({ group: 'usage', kind: 'transient' }, 3);
    m.handlerFailures.inc({ group: 'usage', kind: 'business' });
    m.parkedMessages.set({ group: 'usage' }, 1);
    m.breakers.state.set({ breaker: 'ai-model' }, 2);

    const d = await dashboard(m);
    expect(d).toMatchObject({
      eventsPublished: 7,
      eventsProcessed: 6,
      eventsFailed: 1,
      averageProcessingTime: 200,
      queueSize: 8,
      subscriptionsActive: 1,
      breakers: [{ breaker: 'ai-model', state: 'open' }],
    });
    expect(d.groups).toEqual([
      {
        group: 'scoring',
        eventsProcessed: 2,
        eventsFailed: 0,
        retries: 0,
        failures: { transient: 0, business: 0, system: 0 },
        averageProcessingTime: 200,
        averageEndToEndLatency: 0,
        lag: 0,
        inFlight: 0,
        parked: 0,
        consumers: 0,
      },
      {
        group: 'usage',
        eventsProcessed: 4,
        eventsFailed: 1,
        retries: 3,
        failures: { transient: 3, business: 1, system: 0 },
        averageProcessingTime: 200,
        averageEndToEndLatency: 1500,
        lag: 7,
        inFlight: 1,
        parked: 1,
        consumers: 2,
      },
    ]);
  });

  it('gives an all-zero dashboard for a fresh app', async () => {
    expect(await dashboard(createMetrics({ defaultMetrics: false }))).toEqual({
      eventsPublished: 0,
      eventsProcessed: 0,
      eventsFailed: 0,
      averageProcessingTime: 0,
      queueSize: 0,
      subscriptionsActive: 0,
      groups: [],
      breakers: [],
    });
  });
});
