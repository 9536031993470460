/**
 * The app's Prometheus metrics on ONE prom-client Registry owned by the app (never the global
 * default registry, so a test process can build many apps), and the spec's monitoring dashboard
 * (shared/spec/event-flow.md, "Monitoring Dashboard") computed from them.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type {
  AppendOptions,
  AppendResult,
  AppendWriteOptions,
  CatchUpSubscription,
  EventData,
  EventStore,
  ParkedMessage,
  PersistentSubscription,
  PersistentSubscriptionInfo,
  PersistentSubscriptionSettings,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  ReplayParkedOptions,
  StoreHealth,
  SubscribePersistentOptions,
  SubscribeToAllOptions,
  SubscriptionSource,
} from '../eventstore/port.js';
import { type BreakerMetrics, createBreakerMetrics } from './breakers.js';
import type { FailureKind } from './failures.js';

/** How the runner finished with one delivered message. */
export type HandledOutcome =
  /** handle() resolved; acked. */
  | 'acked'
  /** Business error, or transient retries exhausted: parked (the dead-letter stream). */
  | 'parked'
  /** System error: nack('retry'), the group paused. */
  | 'retried'
  /** Shutdown while retrying or handling: left un-acked, the store redelivers it. */
  | 'abandoned';

export interface EngineMetrics {
  readonly registry: Registry;
  readonly eventsAppended: Counter<'type'>;
  readonly eventsHandled: Counter<'group' | 'type' | 'outcome'>;
  readonly handlerDuration: Histogram<'group'>;
  readonly endToEndLatency: Histogram<'group'>;
  readonly subscriptionLag: Gauge<'group'>;
  readonly subscriptionInFlight: Gauge<'group'>;
  /** Consumers of the group currently subscribed in this process. */
  readonly subscriptionConsumers: Gauge<'group'>;
  readonly handlerRetries: Counter<'group'>;
  readonly parkedMessages: Gauge<'group'>;
  readonly handlerFailures: Counter<'group' | 'kind'>;
  readonly breakers: BreakerMetrics;
}

export interface CreateMetricsOptions {
  /** Node process metrics (CPU, memory, event loop lag, GC) on the same registry. Default true. */
  readonly defaultMetrics?: boolean;
  /** Labels added to every metric (e.g. { node: 'app-1' }). */
  readonly defaultLabels?: Record<string, string>;
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

export function createMetrics(options: CreateMetricsOptions = {}): EngineMetrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  const registers = [registry];
  const metrics: EngineMetrics = {
    registry,
    eventsAppended: new Counter({ name: 'events_appended_total', help: 'Events appended to the event store, by event type', labelNames: ['type'] as const, registers }),
    eventsHandled: new Counter({
      name: 'events_handled_total',
      help: 'Messages finished by subscription handlers, by group, event type and outcome (acked, parked, retried, abandoned)',
      labelNames: ['group', 'type', 'outcome'] as const,
      registers,
    }),
    handlerDuration: new Histogram({ name: 'handler_duration_seconds', help: 'Duration of one handler call', labelNames: ['group'] as const, buckets: DURATION_BUCKETS, registers }),
    endToEndLatency: new Histogram({
      name: 'event_end_to_end_latency_seconds',
      help: 'Time from event creation (append) to successful handling, by group',
      labelNames: ['group'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    subscriptionLag: new Gauge({
      name: 'subscription_lag_events',
      help: 'Last known minus last checkpointed (revisions for stream groups, commit positions for $all groups)',
      labelNames: ['group'] as const,
      registers,
    }),
    subscriptionInFlight: new Gauge({ name: 'subscription_in_flight', help: 'Messages received by this process and not yet acked or nacked', labelNames: ['group'] as const, registers }),
    subscriptionConsumers: new Gauge({ name: 'subscription_consumers', help: 'Consumers of the group subscribed in this process', labelNames: ['group'] as const, registers }),
    handlerRetries: new Counter({ name: 'handler_retries_total', help: 'In-process retries of handlers after transient failures', labelNames: ['group'] as const, registers }),
    parkedMessages: new Gauge({ name: 'parked_messages', help: 'Messages in the group’s parked (dead-letter) stream', labelNames: ['group'] as const, registers }),
    handlerFailures: new Counter({ name: 'handler_failures_total', help: 'Failed handler calls by kind (transient, business, system)', labelNames: ['group', 'kind'] as const, registers }),
    breakers: createBreakerMetrics(registry),
  };
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return metrics;
}

export interface GroupDashboard {
  readonly group: string;
  readonly eventsProcessed: number;
  readonly eventsFailed: number;
  readonly retries: number;
  readonly failures: Readonly<Record<FailureKind, number>>;
  /** Mean handler call duration, ms. */
  readonly averageProcessingTime: number;
  /** Mean event-created → handled latency, ms. */
  readonly averageEndToEndLatency: number;
  readonly lag: number;
  readonly inFlight: number;
  readonly parked: number;
  readonly consumers: number;
}

/** The spec's dashboard object, plus per-group detail and breaker states. */
export interface Dashboard {
  /** events_appended_total, all types. */
  readonly eventsPublished: number;
  /** Messages handled successfully (acked), all groups. */
  readonly eventsProcessed: number;
  /** Messages given up on (parked: business errors and exhausted retries), all groups. */
  readonly eventsFailed: number;
  /** Mean handler call duration, ms. */
  readonly averageProcessingTime: number;
  /** Queue depth: sum of the groups' lag plus messages in flight. */
  readonly queueSize: number;
  /** Groups with at least one consumer subscribed in this process. */
  readonly subscriptionsActive: number;
  readonly groups: readonly GroupDashboard[];
  readonly breakers: readonly { readonly breaker: string; readonly state: 'closed' | 'halfOpen' | 'open' }[];
}

interface Sample {
  readonly value: number;
  readonly labels: Partial<Record<string, string | number>>;
  readonly metricName?: string;
}

async function samples(metric: { get(): Promise<{ values: Sample[] }> }): Promise<Sample[]> {
  return (await metric.get()).values;
}

function label(sample: Sample, name: string): string | undefined {
  const value = sample.labels[name];
  return value === undefined ? undefined : String(value);
}

function sum(values: readonly Sample[], predicate: (sample: Sample) => boolean = () => true): number {
  return values.filter(predicate).reduce((total, sample) => total + sample.value, 0);
}

function histogramMeanMs(values: readonly Sample[], group?: string): number {
  const inGroup = (sample: Sample): boolean => group === undefined || label(sample, 'group') === group;
  const total = sum(values, (s) => inGroup(s) && (s.metricName ?? '').endsWith('_sum'));
  const count = sum(values, (s) => inGroup(s) && (s.metricName ?? '').endsWith('_count'));
  return count === 0 ? 0 : Math.round((total / count) * 1000 * 100) / 100;
}

const STATE_NAMES = ['closed', 'halfOpen', 'open'] as const;

export async function dashboard(metrics: EngineMetrics): Promise<Dashboard> {
  const [appended, handled, durations, latencies, lag, inFlight, consumers, retries, parked, failures, breakerStates] = await Promise.all([
    samples(metrics.eventsAppended),
    samples(metrics.eventsHandled),
    samples(metrics.handlerDuration),
    samples(metrics.endToEndLatency),
    samples(metrics.subscriptionLag),
    samples(metrics.subscriptionInFlight),
    samples(metrics.subscriptionConsumers),
    samples(metrics.handlerRetries),
    samples(metrics.parkedMessages),
    samples(metrics.handlerFailures),
    samples(metrics.breakers.state),
  ]);

  const groupNames = new Set<string>();
  for (const list of [handled, lag, inFlight, consumers, retries, parked, failures, durations]) {
    for (const sample of list) {
      const group = label(sample, 'group');
      if (group !== undefined) groupNames.add(group);
    }
  }

  const byGroup = (list: readonly Sample[], group: string, extra: (s: Sample) => boolean = () => true): number => sum(list, (s) => label(s, 'group') === group && extra(s));
  const groups: GroupDashboard[] = [...groupNames].sort().map((group) => ({
    group,
    eventsProcessed: byGroup(handled, group, (s) => label(s, 'outcome') === 'acked'),
    eventsFailed: byGroup(handled, group, (s) => label(s, 'outcome') === 'parked'),
    retries: byGroup(retries, group),
    failures: {
      transient: byGroup(failures, group, (s) => label(s, 'kind') === 'transient'),
      business: byGroup(failures, group, (s) => label(s, 'kind') === 'business'),
      system: byGroup(failures, group, (s) => label(s, 'kind') === 'system'),
    },
    averageProcessingTime: histogramMeanMs(durations, group),
    averageEndToEndLatency: histogramMeanMs(latencies, group),
    lag: byGroup(lag, group),
    inFlight: byGroup(inFlight, group),
    parked: byGroup(parked, group),
    consumers: byGroup(consumers, group),
  }));

  return {
    eventsPublished: sum(appended),
    eventsProcessed: sum(handled, (s) => label(s, 'outcome') === 'acked'),
    eventsFailed: sum(handled, (s) => label(s, 'outcome') === 'parked'),
    averageProcessingTime: histogramMeanMs(durations),
    queueSize: groups.reduce((total, g) => total + Math.max(g.lag, 0) + g.inFlight, 0),
    subscriptionsActive: groups.filter((g) => g.consumers > 0).length,
    groups,
    breakers: breakerStates
      .map((s) => ({ breaker: label(s, 'breaker') ?? '', state: STATE_NAMES[s.value] ?? 'open' }))
      .sort((a, b) => a.breaker.localeCompare(b.breaker)),
  };
}

/** Counts successful appends in events_appended_total{type}. */
export function countAppended(metrics: EngineMetrics, events: readonly EventData[]): void {
  for (const event of events) metrics.eventsAppended.inc({ type: event.type });
}

/**
 * The store with appends counted in events_appended_total. Everything else is delegated as is.
 * (An idempotent re-append of the same event ids is counted again: the store does not say.)
 */
export function instrumentStore(store: EventStore, metrics: EngineMetrics): EventStore {
  return new InstrumentedStore(store, metrics);
}

class InstrumentedStore implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly metrics: EngineMetrics,
  ) {}

  get kind(): EventStore['kind'] {
    return this.inner.kind;
  }
  get conditionalAppends(): boolean {
    return this.inner.conditionalAppends === true;
  }

  async append(stream: string, events: readonly EventData[], options?: AppendWriteOptions): Promise<AppendResult> {
    const result = await this.inner.append(stream, events, options);
    countAppended(this.metrics, events);
    return result;
  }
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent> {
    return this.inner.readStream(stream, options);
  }
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
    return this.inner.readAll(options);
  }
  deleteStream(stream: string, options?: AppendOptions): Promise<void> {
    return this.inner.deleteStream(stream, options);
  }
  tombstoneStream(stream: string, options?: AppendOptions): Promise<void> {
    return this.inner.tombstoneStream(stream, options);
  }
  headPosition(): Promise<Position | undefined> {
    return this.inner.headPosition();
  }
  subscribeToAll(options?: SubscribeToAllOptions): CatchUpSubscription {
    return this.inner.subscribeToAll(options);
  }
  createPersistentSubscription(source: SubscriptionSource, group: string, settings?: Partial<PersistentSubscriptionSettings>): Promise<void> {
    return this.inner.createPersistentSubscription(source, group, settings);
  }
  updatePersistentSubscription(source: SubscriptionSource, group: string, settings: Partial<PersistentSubscriptionSettings>): Promise<void> {
    return this.inner.updatePersistentSubscription(source, group, settings);
  }
  deletePersistentSubscription(source: SubscriptionSource, group: string): Promise<void> {
    return this.inner.deletePersistentSubscription(source, group);
  }
  listPersistentSubscriptions(): Promise<PersistentSubscriptionInfo[]> {
    return this.inner.listPersistentSubscriptions();
  }
  getPersistentSubscriptionInfo(source: SubscriptionSource, group: string): Promise<PersistentSubscriptionInfo> {
    return this.inner.getPersistentSubscriptionInfo(source, group);
  }
  subscribeToPersistentSubscription(source: SubscriptionSource, group: string, options?: SubscribePersistentOptions): PersistentSubscription {
    return this.inner.subscribeToPersistentSubscription(source, group, options);
  }
  listParkedMessages(source: SubscriptionSource, group: string, options?: { maxCount?: number }): Promise<ParkedMessage[]> {
    return this.inner.listParkedMessages(source, group, options);
  }
  replayParkedMessages(source: SubscriptionSource, group: string, options?: ReplayParkedOptions): Promise<void> {
    return this.inner.replayParkedMessages(source, group, options);
  }
  health(): Promise<StoreHealth> {
    return this.inner.health();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
