/**
 * Circuit breakers (opossum 9) for calls to external services (AI model, e-mail, payment
 * gateway). Business errors are not failures of the dependency, so they never trip a breaker.
 * State changes are logged (pino) and exported as metrics:
 *   breaker_state{breaker}                 0 closed, 1 half-open, 2 open
 *   breaker_transitions_total{breaker,to}  to = open | halfOpen | close
 * A BreakerRegistry lists every breaker with its state for the admin summary.
 */
import CircuitBreaker from 'opossum';
import pino, { type Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { classify } from './failures.js';

export type BreakerState = 'closed' | 'halfOpen' | 'open';
export type BreakerTransition = 'open' | 'halfOpen' | 'close';

export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = Object.freeze({ closed: 0, halfOpen: 1, open: 2 });

export interface BreakerOptions {
  /** Ms before a call counts as failed (opossum ETIMEDOUT); false disables. Default 10,000. */
  readonly timeout?: number | false;
  /** Failure percentage of the rolling window at which the breaker opens. Default 50. */
  readonly errorThresholdPercentage?: number;
  /** Ms the breaker stays open before letting one trial call through (half-open). Default 30,000. */
  readonly resetTimeout?: number;
  /** Calls needed in the rolling window before the breaker may open. Default 5. */
  readonly volumeThreshold?: number;
  /** Extra errors that must not count as failures (business errors never do). */
  readonly errorFilter?: (error: unknown) => boolean;
  /** Rolling statistics window in ms. Default 10,000. */
  readonly rollingCountTimeout?: number;
  readonly rollingCountBuckets?: number;
}

export interface BreakerMetrics {
  readonly state: Gauge<'breaker'>;
  readonly transitions: Counter<'breaker' | 'to'>;
}

/** Registers the breaker metrics on `registry` (metrics.ts does this for the app registry). */
export function createBreakerMetrics(registry: Registry): BreakerMetrics {
  return {
    state: new Gauge({ name: 'breaker_state', help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open', labelNames: ['breaker'] as const, registers: [registry] }),
    transitions: new Counter({
      name: 'breaker_transitions_total',
      help: 'Circuit breaker state transitions by target state (open, halfOpen, close)',
      labelNames: ['breaker', 'to'] as const,
      registers: [registry],
    }),
  };
}

export interface BreakerSummary {
  readonly name: string;
  readonly state: BreakerState;
  readonly stats: {
    readonly fires: number;
    readonly successes: number;
    readonly failures: number;
    readonly rejects: number;
    readonly timeouts: number;
  };
}

export type Breaker<TArgs extends unknown[], TResult> = CircuitBreaker<TArgs, TResult>;

export interface BreakerDeps {
  readonly logger?: Logger;
  readonly metrics?: BreakerMetrics;
  /** Registers the breaker here (names must be unique within a registry). */
  readonly registry?: BreakerRegistry;
}

export function breakerState(breaker: { readonly opened: boolean; readonly halfOpen: boolean }): BreakerState {
  if (breaker.halfOpen) return 'halfOpen';
  if (breaker.opened) return 'open';
  return 'closed';
}

const silentLogger: Logger = pino({ level: 'silent' });

/**
 * An opossum breaker around `fn`. Call it with `breaker.fire(...args)`. While open, calls fail
 * fast with an EOPENBREAKER error (classify → transient).
 */
export function createBreaker<TArgs extends unknown[], TResult>(
  name: string,
  fn: (...args: TArgs) => Promise<TResult>,
  options: BreakerOptions = {},
  deps: BreakerDeps = {},
): Breaker<TArgs, TResult> {
  const userFilter = options.errorFilter;
  const breaker = new CircuitBreaker<TArgs, TResult>(fn, {
    name,
    timeout: options.timeout ?? 10_000,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    resetTimeout: options.resetTimeout ?? 30_000,
    volumeThreshold: options.volumeThreshold ?? 5,
    rollingCountTimeout: options.rollingCountTimeout ?? 10_000,
    rollingCountBuckets: options.rollingCountBuckets ?? 10,
    // A filtered error is rejected to the caller but counted as a success by opossum.
    errorFilter: (error: unknown) => classify(error) === 'business' || (userFilter ? userFilter(error) : false),
  });

  const logger = (deps.logger ?? silentLogger).child({ breaker: name });
  const metrics = deps.metrics;
  metrics?.state.set({ breaker: name }, BREAKER_STATE_VALUE.closed);

  const onTransition = (to: BreakerTransition, state: BreakerState): void => {
    metrics?.state.set({ breaker: name }, BREAKER_STATE_VALUE[state]);
    metrics?.transitions.inc({ breaker: name, to });
    const stats = breaker.stats;
    const entry = { to, fires: stats.fires, failures: stats.failures, rejects: stats.rejects, timeouts: stats.timeouts };
    if (to === 'open') logger.warn(entry, `circuit breaker '${name}' opened`);
    else if (to === 'halfOpen') logger.info(entry, `circuit breaker '${name}' half-open: trying one call`);
    else logger.info(entry, `circuit breaker '${name}' closed`);
  };
  breaker.on('open', () => onTransition('open', 'open'));
  breaker.on('halfOpen', () => onTransition('halfOpen', 'halfOpen'));
  breaker.on('close', () => onTransition('close', 'closed'));
  breaker.on('shutdown', () => metrics?.state.remove({ breaker: name }));

  deps.registry?.add(breaker);
  return breaker;
}

interface RegisteredBreaker {
  readonly name: string;
  readonly opened: boolean;
  readonly halfOpen: boolean;
  readonly stats: CircuitBreaker.Stats;
  shutdown(): void;
}

/** The breakers of one app: creation with shared logger and metrics, listing, shutdown. */
export class BreakerRegistry {
  readonly #breakers = new Map<string, RegisteredBreaker>();
  readonly #logger: Logger | undefined;
  readonly #metrics: BreakerMetrics | undefined;

  constructor(deps: { readonly logger?: Logger; readonly metrics?: BreakerMetrics } = {}) {
    this.#logger = deps.logger;
    this.#metrics = deps.metrics;
  }

  /** createBreaker with this registry's logger and metrics, registered here. */
  create<TArgs extends unknown[], TResult>(name: string, fn: (...args: TArgs) => Promise<TResult>, options: BreakerOptions = {}): Breaker<TArgs, TResult> {
    return createBreaker(name, fn, options, { logger: this.#logger, metrics: this.#metrics, registry: this });
  }

  add(breaker: RegisteredBreaker): void {
    if (this.#breakers.has(breaker.name)) throw new Error(`A circuit breaker named '${breaker.name}' is already registered`);
    this.#breakers.set(breaker.name, breaker);
  }

  get(name: string): RegisteredBreaker | undefined {
    return this.#breakers.get(name);
  }

  list(): BreakerSummary[] {
    return [...this.#breakers.values()]
      .map((breaker) => {
        const stats = breaker.stats;
        return {
          name: breaker.name,
          state: breakerState(breaker),
          stats: { fires: stats.fires, successes: stats.successes, failures: stats.failures, rejects: stats.rejects, timeouts: stats.timeouts },
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stops every breaker's timers; they reject calls afterwards. */
  shutdown(): void {
    for (const breaker of this.#breakers.values()) breaker.shutdown();
    this.#breakers.clear();
  }
}
