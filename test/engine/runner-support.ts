import type { EngineMetrics } from '../../src/engine/metrics.js';
import { createSubscriptionRunner, type SubscriptionRunner, type SubscriptionRunnerOptions } from '../../src/engine/subscription-runner.js';

/** Fast retries and pause probes, no stats timer: what the runner tests run with unless a test says otherwise. */
export const FAST_RUNNER: Partial<SubscriptionRunnerOptions> = {
  retryPolicy: { maxRetries: 3, retryDelay: 5, maxRetryDelay: 20 },
  pausePolicy: { retryDelay: 10, maxRetryDelay: 50 },
  statsInterval: 0,
};

/** Starts a runner with FAST_RUNNER defaults and keeps it in `runners` for the test's afterEach to stop. */
export async function startTestRunner(runners: SubscriptionRunner[], options: SubscriptionRunnerOptions): Promise<SubscriptionRunner> {
  const runner = createSubscriptionRunner({ ...FAST_RUNNER, ...options });
  runners.push(runner);
  await runner.start();
  return runner;
}

/** Sum of a prom-client metric's values whose labels include `labels`. */
export async function metricSum(metrics: EngineMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((s, v) => s + v.value, 0);
}
