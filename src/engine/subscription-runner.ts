/**
 * Runs event handlers (projections, process managers), each on its own persistent subscription
 * group, with the spec's failure handling (shared/spec/event-flow.md):
 *
 * - success → ack (only after handle() resolved: at-least-once, handlers are idempotent);
 * - transient error → retried IN PROCESS, on the same consumer, after delayFor(attempt) (capped
 *   exponential backoff, full jitter); after policy.maxRetries retries → nack('park') (the parked
 *   stream is the dead-letter queue; "Replay Parked Messages" brings them back);
 * - business error → onBusinessError hook, then nack('park') at once, never retried;
 * - system error → nack('retry'), onSystemError alert + log, the whole group pauses in this
 *   process (its consumers unsubscribe, so the store holds nothing in flight for them) and
 *   resumes when store.health() (and the handler's healthCheck, if any) is ok again, probing with
 *   exponential backoff that grows with consecutive system failures.
 *
 * Why in-process retries rather than nack('retry'): EventStoreDB redelivers a retried message at
 * once (there is no delayed nack) and possibly to another consumer, so backoff would need a held
 * message anyway and ordering would be lost. Retrying in place keeps per-consumer order (what the
 * Pinned strategy is chosen for) and costs nothing at the store. The price: the message stays in
 * flight while waiting, so a policy's worst case (sum of the delay caps plus handler time) must
 * stay well under the group's messageTimeout — the runner warns at start when it does not (the
 * store would then redeliver the message itself; harmless for idempotent handlers, just wasteful).
 * Each consumer handles its messages one at a time; `concurrency` adds consumers. Messages queued
 * in a consumer's buffer (bufferSize) wait behind a retrying message and also count against
 * messageTimeout: keep bufferSize small for slow handlers.
 *
 * Shutdown: stop() stops taking messages and aborts retry waits at once (those messages are left
 * un-acked: the store redelivers them), waits for running handle() calls up to stopTimeout, then
 * aborts the handlers' `signal`, and unsubscribes.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import { PersistentSubscriptionExistsError, StreamNotFoundError } from '../eventstore/errors.js';
import {
  EXCLUDE_SYSTEM_EVENTS,
  PERSISTENT_SUBSCRIPTION_DEFAULTS,
  sourceName,
  type EventFilter,
  type EventStore,
  type PersistentEvent,
  type PersistentSubscription,
  type PersistentSubscriptionInfo,
  type PersistentSubscriptionSettings,
  type Position,
  type RecordedEvent,
  type StoreHealth,
  type SubscriptionSource,
} from '../eventstore/port.js';
import { classify, describeError, type FailureKind } from './failures.js';
import type { EngineMetrics, HandledOutcome } from './metrics.js';
import { canRetry, delayFor, retryPolicy, worstCaseRetryTime, type RandomSource, type RetryPolicy } from './retry-policy.js';

export interface HandlerContext {
  /** The group (handler name). */
  readonly group: string;
  /** The store's retry count for this delivery: 0 first time, >0 after a redelivery (timeout, nack retry, consumer gone). */
  readonly retryCount: number;
  /** In-process attempt for this delivery: 0 first call, n on the n-th retry after a transient failure. */
  readonly attempt: number;
  /** Aborted when stop() has waited stopTimeout for handlers: give up, the message is redelivered later. */
  readonly signal: AbortSignal;
}

export interface EventHandler {
  /** The persistent subscription group name; unique per runner. */
  readonly name: string;
  /** Usually { kind: 'all', filter: { on: 'eventType', prefixes: [...] } }. */
  readonly source: SubscriptionSource;
  /** Used when the runner creates the group (e.g. consumerStrategyName 'Pinned', startFrom 'start'). */
  readonly settings?: Partial<PersistentSubscriptionSettings>;
  /** Consumers of this group in this process. Default 1. */
  readonly concurrency?: number;
  /** Un-acked messages the store may push to each consumer. Default 10 (the client's default). */
  readonly bufferSize?: number;
  /** Overrides of the runner's retry policy for this handler. */
  readonly retryPolicy?: Partial<RetryPolicy>;
  /** Consulted with store.health() before a paused group resumes: true (or no check) = healthy. */
  healthCheck?(): Promise<boolean>;
  handle(event: RecordedEvent, context: HandlerContext): Promise<void>;
}

export type SystemFailurePhase = 'create' | 'subscribe' | 'handle' | 'ack' | 'hook';

export interface SystemAlert {
  readonly group: string;
  readonly phase: SystemFailurePhase;
  readonly error: unknown;
  readonly event?: RecordedEvent;
  /** System failures in a row for this group (reset by a successful handle). */
  readonly consecutiveFailures: number;
}

export interface SubscriptionRunnerOptions {
  readonly store: EventStore;
  readonly handlers: readonly EventHandler[];
  readonly metrics?: EngineMetrics;
  readonly logger?: Logger;
  /** Transient-failure retries; defaults from the spec (3 retries, 1 s doubling, cap 30 s). */
  readonly retryPolicy?: Partial<RetryPolicy>;
  /** Health-probe backoff while a group is paused after a system error. Default 500 ms doubling to 30 s. */
  readonly pausePolicy?: Partial<RetryPolicy>;
  readonly random?: RandomSource;
  /**
   * Called for a business error before the message is parked. Must be idempotent (it runs again
   * if parking fails and the message comes back): derive appended event ids from event.id. If it
   * throws a system error the message is nacked for retry and the group pauses; other errors are
   * retried in process like transient failures, then the message is parked anyway (logged).
   */
  readonly onBusinessError?: (event: RecordedEvent, error: unknown, group: string) => void | Promise<void>;
  /** Alert for system failures (the runner also logs them at error level). Errors it throws are logged. */
  readonly onSystemError?: (alert: SystemAlert) => void | Promise<void>;
  /** How often subscription stats (lag, parked) are refreshed into the metrics, ms. Default 5,000; 0 disables. */
  readonly statsInterval?: number;
  /** How long stop() waits for running handlers before aborting their signal, ms. Default 10,000. */
  readonly stopTimeout?: number;
  /**
   * Resolves once every effect handlers have stored so far is durable (read models commit
   * without an fsync on the event loop: WalSync). Awaited after each handle() and before the
   * ack, so a checkpoint never passes an effect a power loss could still take back.
   */
  readonly effectsDurable?: () => Promise<void>;
  /**
   * The groups on a user-facing critical path (the next hop of a flow someone waits for). When
   * given, every other group yields to the event loop before each message, so commit results,
   * HTTP requests and these groups' messages, already queued, go first, and a burst of
   * background work (projections, metering) no longer sits between two hops of a flow. Every
   * message is still handled, only later in the turn. Default: none yields.
   */
  readonly foregroundGroups?: readonly string[];
}

export interface GroupStatus {
  readonly group: string;
  readonly source: string;
  readonly concurrency: number;
  readonly consumers: number;
  readonly inFlight: number;
  readonly paused: boolean;
  readonly consecutiveSystemFailures: number;
  readonly lastError?: string;
}

export interface WaitForIdleOptions {
  /** Default 10,000 ms. */
  readonly timeout?: number;
  /** Re-check interval for store-side state (local changes wake it at once). Default 50 ms. */
  readonly pollInterval?: number;
}

export class IdleTimeoutError extends Error {
  constructor(
    readonly timeout: number,
    readonly pending: readonly string[],
  ) {
    super(`Subscriptions not idle after ${timeout} ms: ${pending.join('; ')}`);
    this.name = 'IdleTimeoutError';
  }
}

interface Pause {
  readonly promise: Promise<void>;
}

interface GroupState {
  readonly handler: EventHandler;
  readonly name: string;
  readonly source: SubscriptionSource;
  readonly policy: RetryPolicy;
  readonly concurrency: number;
  readonly bufferSize: number;
  readonly logger: Logger;
  readonly sessions: Set<AbortController>;
  readonly subscriptions: Set<PersistentSubscription>;
  loops: Promise<void>[];
  consumers: number;
  inFlight: number;
  pause: Pause | undefined;
  consecutiveSystemFailures: number;
  lastError: string | undefined;
  /** The highest position / revision this process acked or parked (for waitForIdle). */
  settledPosition: bigint | undefined;
  settledRevision: bigint | undefined;
  /** The last matching event when this runner created the group from 'end': nothing up to it is delivered. */
  baseline: Position | bigint | undefined;
  /** Messages this process nacked with 'park', by event id → when: the store writes the parked link asynchronously. */
  readonly pendingParks: Map<string, number>;
  /** Yields to the event loop before each message (see foregroundGroups). */
  readonly background: boolean;
}

/** After this long a park is assumed written even if waitForIdle could not see it (e.g. replayed at once). */
const PARK_VISIBILITY_MS = 5_000;

const ABORTED = Symbol('aborted');

/** Resolves in the event loop's check phase, after the I/O callbacks already due. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function nextOrAbort<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T> | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(describeError(error)));
      },
    );
  });
}

/** Waits `ms`; false when `signal` aborted first. */
async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
}

/** The correlation and causation ids of an event, for logs (absent when its metadata has none). */
function traceOf(event: RecordedEvent): { correlationId?: string; causationId?: string } {
  const { correlationId, causationId } = event.metadata;
  return {
    ...(typeof correlationId === 'string' ? { correlationId } : {}),
    ...(typeof causationId === 'string' ? { causationId } : {}),
  };
}

/** Lag as exported in subscription_lag_events: last known minus last checkpointed. */
export function subscriptionLag(info: PersistentSubscriptionInfo): number {
  const { stats } = info;
  if (stats.lastKnownPosition) {
    const checkpoint = stats.lastCheckpointedPosition?.commit ?? -1n;
    const lag = stats.lastKnownPosition.commit - checkpoint;
    return lag > 0n ? Number(lag) : 0;
  }
  if (stats.lastKnownRevision !== undefined) {
    const checkpoint = stats.lastCheckpointedRevision ?? -1n;
    const lag = stats.lastKnownRevision - checkpoint;
    return lag > 0n ? Number(lag) : 0;
  }
  return 0;
}

function differingSettings(requested: Partial<PersistentSubscriptionSettings>, actual: PersistentSubscriptionSettings): string[] {
  const keys = Object.keys(requested) as (keyof PersistentSubscriptionSettings)[];
  return keys.filter((key) => key !== 'startFrom' && requested[key] !== undefined && requested[key] !== actual[key]);
}

const silentLogger: Logger = pino({ level: 'silent' });

export class SubscriptionRunner {
  readonly #store: EventStore;
  readonly #options: SubscriptionRunnerOptions;
  readonly #logger: Logger;
  readonly #metrics: EngineMetrics | undefined;
  readonly #pausePolicy: RetryPolicy;
  readonly #random: RandomSource;
  readonly #groups = new Map<string, GroupState>();
  readonly #changes = new EventEmitter();
  /** #lastMatchingPosition answers by filter, with the head they were read at. */
  readonly #lastMatching = new Map<string, { readonly head: bigint; readonly position: Position | undefined }>();
  readonly #stopController = new AbortController();
  readonly #forceController = new AbortController();
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #statsTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: SubscriptionRunnerOptions) {
    this.#store = options.store;
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'subscription-runner' });
    this.#metrics = options.metrics;
    this.#random = options.random ?? Math.random;
    this.#pausePolicy = retryPolicy({ retryDelay: 500, maxRetryDelay: 30_000, maxRetries: Number.MAX_SAFE_INTEGER, ...options.pausePolicy });
    this.#changes.setMaxListeners(0);
    const basePolicy = retryPolicy(options.retryPolicy);
    for (const handler of options.handlers) {
      if (this.#groups.has(handler.name)) throw new Error(`Two handlers share the group name '${handler.name}'`);
      const concurrency = handler.concurrency ?? 1;
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`Handler '${handler.name}': concurrency must be a positive integer`);
      this.#groups.set(handler.name, {
        handler,
        name: handler.name,
        source: handler.source,
        policy: retryPolicy({ ...basePolicy, ...handler.retryPolicy }),
        concurrency,
        bufferSize: handler.bufferSize ?? 10,
        logger: this.#logger.child({ group: handler.name }),
        sessions: new Set(),
        subscriptions: new Set(),
        loops: [],
        consumers: 0,
        inFlight: 0,
        pause: undefined,
        consecutiveSystemFailures: 0,
        lastError: undefined,
        settledPosition: undefined,
        settledRevision: undefined,
        baseline: undefined,
        pendingParks: new Map(),
        background: options.foregroundGroups !== undefined && !options.foregroundGroups.includes(handler.name),
      });
    }
  }

  get groups(): readonly string[] {
    return [...this.#groups.keys()];
  }

  /** Creates missing groups (all of them, before any consumer starts), then subscribes every consumer. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`SubscriptionRunner.start(): already ${this.#state}`);
    this.#state = 'starting';
    try {
      for (const group of this.#groups.values()) await this.#ensureGroup(group);
    } catch (error) {
      this.#state = 'stopped';
      throw error;
    }
    if (this.#stopController.signal.aborted) {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'running';
    for (const group of this.#groups.values()) {
      this.#metrics?.subscriptionInFlight.set({ group: group.name }, 0);
      this.#metrics?.subscriptionConsumers.set({ group: group.name }, 0);
      for (let index = 0; index < group.concurrency; index++) {
        group.loops.push(
          this.#consumerLoop(group, index).catch((error: unknown) => {
            group.lastError = describeError(error);
            group.logger.fatal({ err: error, consumer: index }, 'consumer loop crashed: this consumer is gone until restart');
          }),
        );
      }
    }
    const interval = this.#options.statsInterval ?? 5_000;
    if (interval > 0) {
      this.#statsTimer = setInterval(() => void this.refreshStats(), interval);
      this.#statsTimer.unref();
    }
    this.#logger.info({ groups: this.groups }, 'subscription runner started');
  }

  /** Stops taking messages, waits for running handlers (up to stopTimeout), unsubscribes. Idempotent. */
  stop(options: { readonly timeout?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.timeout ?? this.#options.stopTimeout ?? 10_000);
    return this.#stopping;
  }

  async #stop(timeout: number): Promise<void> {
    if (this.#state === 'new' || this.#state === 'stopped' || this.#state === 'starting') {
      // While starting: start() sees the abort and stops before any consumer runs.
      this.#stopController.abort();
      if (this.#state !== 'starting') this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    this.#stopController.abort();
    for (const group of this.#groups.values()) for (const session of group.sessions) session.abort();
    this.#emitChange();

    const loops = Promise.all([...this.#groups.values()].flatMap((group) => group.loops)).then(() => true);
    const timers = new AbortController();
    const within = (ms: number): Promise<boolean> => Promise.race([loops, sleep(ms, false, { ref: false, signal: timers.signal }).catch(() => false)]);
    const drained = await within(timeout);
    if (!drained) {
      const stuck = [...this.#groups.values()].filter((g) => g.inFlight > 0).map((g) => `${g.name} (${g.inFlight})`);
      this.#logger.warn({ stuck, timeout }, 'handlers still running after the stop timeout: aborting their signal');
      this.#forceController.abort();
      const grace = Math.min(timeout, 1_000);
      const finished = await within(grace);
      if (!finished) {
        this.#logger.error({ stuck }, 'handlers ignored the abort signal: unsubscribing under them (their messages will be redelivered)');
        await Promise.all(
          [...this.#groups.values()].flatMap((group) => [...group.subscriptions].map((subscription) => this.#unsubscribe(group, subscription))),
        );
      }
    }
    timers.abort();
    this.#state = 'stopped';
    this.#emitChange();
    this.#logger.info('subscription runner stopped');
  }

  status(): GroupStatus[] {
    return [...this.#groups.values()].map((group) => ({
      group: group.name,
      source: sourceName(group.source),
      concurrency: group.concurrency,
      consumers: group.consumers,
      inFlight: group.inFlight,
      paused: group.pause !== undefined,
      consecutiveSystemFailures: group.consecutiveSystemFailures,
      ...(group.lastError === undefined ? {} : { lastError: group.lastError }),
    }));
  }

  /** Reads every group's info from the store into subscription_lag_events and parked_messages. */
  async refreshStats(): Promise<void> {
    await Promise.all([...this.#groups.values()].map((group) => this.#refreshGroupStats(group)));
  }

  /**
   * Resolves when the group (or every group) has handled everything in its source up to now:
   * nothing in flight here or at the store, no retries queued, not paused, every consumer
   * subscribed, and the last event matching the group's source acked or parked by this process
   * (or checkpointed by the store, or before the group's start). Wakes on every local ack/nack;
   * polls the store every pollInterval. Throws IdleTimeoutError listing what is still pending.
   */
  async waitForIdle(group?: string, options: WaitForIdleOptions = {}): Promise<void> {
    const timeout = options.timeout ?? 10_000;
    const pollInterval = options.pollInterval ?? 50;
    const groups = group === undefined ? [...this.#groups.values()] : [this.#group(group)];
    const deadline = Date.now() + timeout;
    for (;;) {
      if (this.#state !== 'running') throw new Error(`waitForIdle: the runner is ${this.#state}`);
      // What this process knows first (free); the store is asked only once every group is quiet here.
      let pending = groups.flatMap((g) => {
        const reason = this.#localReason(g);
        return reason ? [`${g.name}: ${reason}`] : [];
      });
      if (pending.length === 0) {
        for (const g of groups) {
          const reason = await this.#pendingReason(g);
          if (reason) pending = [...pending, `${g.name}: ${reason}`];
        }
      }
      if (pending.length === 0) return;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new IdleTimeoutError(timeout, pending);
      await this.#nextChange(Math.min(remaining, pollInterval));
    }
  }

  #group(name: string): GroupState {
    const group = this.#groups.get(name);
    if (!group) throw new Error(`No handler for group '${name}'`);
    return group;
  }

  #emitChange(): void {
    this.#changes.emit('change');
  }

  #nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#changes.off('change', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#changes.on('change', done);
    });
  }

  #localReason(group: GroupState): string | undefined {
    if (group.inFlight > 0) return `${group.inFlight} message(s) being handled`;
    if (group.pause) return 'paused after a system error';
    if (group.consumers < group.concurrency) return `${group.consumers}/${group.concurrency} consumers subscribed`;
    return undefined;
  }

  async #pendingReason(group: GroupState): Promise<string | undefined> {
    const local = this.#localReason(group);
    if (local) return local;
    const info = await this.#refreshGroupStats(group);
    if (!info) return 'subscription info unavailable';
    const { stats } = info;
    if (stats.totalInFlightMessages > 0) return `${stats.totalInFlightMessages} in flight at the store`;
    if (stats.outstandingMessagesCount > 0) return `${stats.outstandingMessagesCount} outstanding at the store`;
    if (stats.retryBufferCount > 0) return `${stats.retryBufferCount} queued for retry at the store`;
    if (group.inFlight > 0) return `${group.inFlight} message(s) being handled`;
    const parks = await this.#unwrittenParks(group);
    if (parks > 0) return `${parks} parked message(s) not yet in the parked stream`;
    return this.#uncaughtReason(group, info);
  }

  async #unwrittenParks(group: GroupState): Promise<number> {
    if (group.pendingParks.size === 0) return 0;
    let parked: Set<string>;
    try {
      parked = new Set((await this.#store.listParkedMessages(group.source, group.name, { maxCount: 1_000 })).map((message) => message.event.id));
    } catch (error) {
      group.logger.debug({ err: error }, 'could not list parked messages');
      return group.pendingParks.size;
    }
    const now = Date.now();
    for (const [eventId, at] of group.pendingParks) {
      if (parked.has(eventId) || now - at > PARK_VISIBILITY_MS) group.pendingParks.delete(eventId);
    }
    return group.pendingParks.size;
  }

  /** Whether the last event of the source (matching the filter) has been settled. */
  async #uncaughtReason(group: GroupState, info: PersistentSubscriptionInfo): Promise<string | undefined> {
    const source = group.source;
    if (source.kind === 'all') {
      const last = await this.#lastMatchingPosition(source.filter);
      if (last === undefined) return undefined;
      const startFrom = info.settings.startFrom;
      if (typeof startFrom === 'object' && last.commit < startFrom.commit) return undefined;
      if (typeof group.baseline === 'object' && last.commit <= group.baseline.commit) return undefined;
      if (group.settledPosition !== undefined && last.commit <= group.settledPosition) return undefined;
      const checkpoint = info.stats.lastCheckpointedPosition;
      if (checkpoint && last.commit <= checkpoint.commit) return undefined;
      return `last matching event at commit ${last.commit} not handled yet (handled up to ${group.settledPosition ?? 'nothing'})`;
    }
    const last = await this.#lastRevision(source.stream);
    if (last === undefined) return undefined;
    const startFrom = info.settings.startFrom;
    if (typeof startFrom === 'bigint' && last < startFrom) return undefined;
    if (typeof group.baseline === 'bigint' && last <= group.baseline) return undefined;
    if (group.settledRevision !== undefined && last <= group.settledRevision) return undefined;
    const checkpoint = info.stats.lastCheckpointedRevision;
    if (checkpoint !== undefined && last <= checkpoint) return undefined;
    return `last event of '${source.stream}' at revision ${last} not handled yet (handled up to ${group.settledRevision ?? 'nothing'})`;
  }

  /**
   * The position of the newest event matching `filter`. A backwards filtered read can scan far for
   * a rare event type, and waitForIdle asks for every group on every poll: the answer is kept
   * per filter until the store's head moves.
   */
  async #lastMatchingPosition(filter: EventFilter | undefined): Promise<Position | undefined> {
    const key = JSON.stringify(filter ?? null);
    const head = (await this.#store.headPosition())?.commit;
    const known = this.#lastMatching.get(key);
    if (known !== undefined && head !== undefined && known.head === head) return known.position;
    let position: Position | undefined;
    for await (const event of this.#store.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 1, filter: filter ?? EXCLUDE_SYSTEM_EVENTS })) {
      position = event.position;
      break;
    }
    if (head !== undefined) this.#lastMatching.set(key, { head, position });
    return position;
  }

  async #lastRevision(stream: string): Promise<bigint | undefined> {
    try {
      for await (const event of this.#store.readStream(stream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 })) return event.revision;
      return undefined;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
  }

  async #refreshGroupStats(group: GroupState): Promise<PersistentSubscriptionInfo | undefined> {
    try {
      const info = await this.#store.getPersistentSubscriptionInfo(group.source, group.name);
      this.#metrics?.subscriptionLag.set({ group: group.name }, subscriptionLag(info));
      this.#metrics?.parkedMessages.set({ group: group.name }, info.stats.parkedMessageCount);
      return info;
    } catch (error) {
      group.logger.debug({ err: error }, 'could not read subscription info');
      return undefined;
    }
  }

  async #ensureGroup(group: GroupState): Promise<void> {
    const requested = group.handler.settings ?? {};
    const startFrom = requested.startFrom ?? PERSISTENT_SUBSCRIPTION_DEFAULTS.startFrom;
    // A group created from 'end' never sees what is already there: remember where that was (cheap reads only).
    let baseline: Position | bigint | undefined;
    if (startFrom === 'end') {
      baseline = group.source.kind === 'all' ? await this.#store.headPosition() : await this.#lastRevision(group.source.stream);
    }
    try {
      await this.#store.createPersistentSubscription(group.source, group.name, requested);
      group.baseline = baseline;
      group.logger.info({ source: sourceName(group.source), settings: requested }, 'created persistent subscription group');
    } catch (error) {
      if (!(error instanceof PersistentSubscriptionExistsError)) {
        group.logger.error({ err: error }, 'could not create persistent subscription group');
        await this.#alert({ group: group.name, phase: 'create', error, consecutiveFailures: 1 });
        throw error;
      }
      const info = await this.#store.getPersistentSubscriptionInfo(group.source, group.name);
      const differing = differingSettings(requested, info.settings);
      if (differing.length > 0) {
        group.logger.warn({ differing, requested, actual: info.settings }, 'existing persistent subscription group has other settings than the handler asks for (not updated)');
      }
    }
    const settings = { ...PERSISTENT_SUBSCRIPTION_DEFAULTS, ...requested };
    const worstCase = worstCaseRetryTime(group.policy);
    if (worstCase >= settings.messageTimeout / 2) {
      group.logger.warn(
        { worstCaseRetryMs: worstCase, messageTimeout: settings.messageTimeout },
        'in-process retries may outlast the message timeout: the store would redeliver the message meanwhile',
      );
    }
  }

  async #consumerLoop(group: GroupState, index: number): Promise<void> {
    const logger = group.logger.child({ consumer: index });
    let failuresInARow = 0;
    while (!this.#stopController.signal.aborted) {
      if (group.pause) {
        await group.pause.promise;
        continue;
      }
      const session = new AbortController();
      group.sessions.add(session);
      let subscription: PersistentSubscription | undefined;
      let ended = false;
      try {
        subscription = this.#store.subscribeToPersistentSubscription(group.source, group.name, { bufferSize: group.bufferSize });
        group.subscriptions.add(subscription);
        group.consumers += 1;
        this.#metrics?.subscriptionConsumers.set({ group: group.name }, group.consumers);
        this.#emitChange();
        ended = await this.#pump(group, subscription, session.signal);
        failuresInARow = 0;
      } catch (error) {
        if (this.#stopController.signal.aborted) break;
        failuresInARow += 1;
        const kind = classify(error);
        group.lastError = describeError(error);
        logger.error({ err: error, kind }, 'subscription failed');
        if (kind === 'system') this.#pauseGroup(group, 'subscribe', error);
      } finally {
        group.sessions.delete(session);
        if (subscription && group.subscriptions.has(subscription)) await this.#unsubscribe(group, subscription);
      }
      if (this.#stopController.signal.aborted) break;
      if (failuresInARow > 0 || ended) {
        if (ended) logger.warn('subscription ended by the store: resubscribing');
        if (!(await wait(delayFor(Math.max(failuresInARow, 1), this.#pausePolicy, this.#random), this.#stopController.signal))) break;
      }
    }
  }

  async #unsubscribe(group: GroupState, subscription: PersistentSubscription): Promise<void> {
    if (!group.subscriptions.delete(subscription)) return;
    group.consumers -= 1;
    this.#metrics?.subscriptionConsumers.set({ group: group.name }, group.consumers);
    this.#emitChange();
    try {
      await subscription.unsubscribe();
    } catch (error) {
      group.logger.debug({ err: error }, 'unsubscribe failed');
    }
  }

  /** Handles messages until the session is aborted (false) or the subscription ends (true). */
  async #pump(group: GroupState, subscription: PersistentSubscription, signal: AbortSignal): Promise<boolean> {
    const iterator = subscription[Symbol.asyncIterator]();
    // Acks waiting for their effects to become durable; the next message does not wait for them.
    const acks = new Set<Promise<void>>();
    try {
      for (;;) {
        const next = await nextOrAbort(iterator, signal);
        if (next === ABORTED) return false;
        if (next.done) return true;
        if (group.background) await yieldToEventLoop();
        const { ack } = await this.#process(group, subscription, next.value);
        if (ack !== undefined) {
          acks.add(ack);
          void ack.then(() => acks.delete(ack));
        }
        if (signal.aborted) return false;
      }
    } finally {
      await Promise.all(acks);
    }
  }

  /**
   * Handles one message (with in-process retries) and settles it. A success is acked only once
   * its effects are durable (effectsDurable); that wait is returned rather than awaited, so the
   * consumer goes on with the next message meanwhile and concurrent effects share one sync. The
   * message stays in flight until its ack settles.
   */
  async #process(group: GroupState, subscription: PersistentSubscription, message: PersistentEvent): Promise<{ readonly ack?: Promise<void> }> {
    const { event, retryCount } = message;
    const labels = { group: group.name };
    group.inFlight += 1;
    this.#metrics?.subscriptionInFlight.inc(labels);
    // Set on success: the ack waiting for durability (wrapped: an async function would adopt a returned promise).
    const pending: { ack?: Promise<void> } = {};
    try {
      for (let attempt = 0; ; attempt++) {
        const endTimer = this.#metrics?.handlerDuration.startTimer(labels);
        let failure: { readonly error: unknown } | undefined;
        try {
          await group.handler.handle(event, { group: group.name, retryCount, attempt, signal: this.#forceController.signal });
        } catch (error) {
          failure = { error };
        }
        endTimer?.();

        if (!failure) {
          pending.ack = this.#ackWhenDurable(group, subscription, event);
          return pending;
        }

        const { error } = failure;
        const kind = classify(error);
        group.lastError = describeError(error);
        this.#metrics?.handlerFailures.inc({ group: group.name, kind });
        const context = { eventId: event.id, type: event.type, stream: event.streamId, ...traceOf(event), retryCount, attempt, kind, err: error };

        if (kind === 'business') {
          group.logger.warn(context, 'business error: parking the message');
          await this.#businessFailure(group, subscription, event, error);
          return pending;
        }
        if (kind === 'system') {
          group.logger.error(context, 'system error: nacking for retry and pausing the group');
          await this.#settle(group, subscription, event, 'retried', `System error: ${describeError(error)}`);
          this.#pauseGroup(group, 'handle', error, event);
          return pending;
        }
        // transient
        if (this.#stopController.signal.aborted) {
          group.logger.info(context, 'transient error during shutdown: leaving the message for redelivery');
          this.#settleLocally(group, event, 'abandoned');
          return pending;
        }
        if (!canRetry(attempt, group.policy)) {
          group.logger.warn(context, `transient error after ${attempt} retries: parking the message`);
          await this.#settle(group, subscription, event, 'parked', `Transient error, gave up after ${attempt} retries: ${describeError(error)}`);
          return pending;
        }
        const delay = delayFor(attempt + 1, group.policy, this.#random);
        group.logger.info({ ...context, delay }, 'transient error: retrying');
        this.#metrics?.handlerRetries.inc(labels);
        if (!(await wait(delay, this.#stopController.signal))) {
          this.#settleLocally(group, event, 'abandoned');
          return pending;
        }
      }
    } finally {
      const done = (): void => {
        group.inFlight -= 1;
        this.#metrics?.subscriptionInFlight.dec(labels);
        this.#emitChange();
      };
      if (pending.ack === undefined) done();
      else void pending.ack.then(done);
    }
    return pending;
  }

  /** Acks once the handler's effects are durable; if they cannot be made durable, the message is retried and the group pauses (a system failure). Never rejects. */
  async #ackWhenDurable(group: GroupState, subscription: PersistentSubscription, event: RecordedEvent): Promise<void> {
    try {
      await this.#options.effectsDurable?.();
    } catch (error) {
      group.lastError = describeError(error);
      this.#metrics?.handlerFailures.inc({ group: group.name, kind: 'system' });
      group.logger.error({ eventId: event.id, type: event.type, err: error }, 'effects could not be made durable: nacking for retry and pausing the group');
      await this.#settle(group, subscription, event, 'retried', `System error: ${describeError(error)}`);
      this.#pauseGroup(group, 'handle', error, event);
      return;
    }
    if (await this.#settle(group, subscription, event, 'acked')) {
      // An earlier message's ack may land after a later one paused the group: only an ack while running proves health.
      if (group.pause === undefined) group.consecutiveSystemFailures = 0;
      this.#metrics?.endToEndLatency.observe({ group: group.name }, Math.max(0, (Date.now() - event.created.getTime()) / 1000));
    }
  }

  async #businessFailure(group: GroupState, subscription: PersistentSubscription, event: RecordedEvent, error: unknown): Promise<void> {
    const hook = this.#options.onBusinessError;
    const reason = `Business error: ${describeError(error)}`;
    if (hook) {
      for (let attempt = 0; ; attempt++) {
        try {
          await hook(event, error, group.name);
          break;
        } catch (hookError) {
          const kind = classify(hookError);
          group.logger.error({ err: hookError, eventId: event.id, attempt, kind }, 'onBusinessError hook failed');
          if (kind === 'system') {
            await this.#settle(group, subscription, event, 'retried', `onBusinessError hook failed: ${describeError(hookError)}`);
            this.#pauseGroup(group, 'hook', hookError, event);
            return;
          }
          if (!canRetry(attempt, group.policy) || this.#stopController.signal.aborted) break;
          if (!(await wait(delayFor(attempt + 1, group.policy, this.#random), this.#stopController.signal))) break;
        }
      }
    }
    await this.#settle(group, subscription, event, 'parked', reason);
  }

  /** Acks or nacks; true when the store took it. A failure leaves the message to the store's messageTimeout. */
  async #settle(group: GroupState, subscription: PersistentSubscription, event: RecordedEvent, outcome: Exclude<HandledOutcome, 'abandoned'>, reason = ''): Promise<boolean> {
    try {
      if (outcome === 'acked') await subscription.ack(event.id);
      else await subscription.nack(outcome === 'parked' ? 'park' : 'retry', reason, event.id);
    } catch (error) {
      const kind: FailureKind = classify(error);
      group.lastError = describeError(error);
      group.logger.error({ err: error, eventId: event.id, outcome, kind }, 'ack/nack failed: the store will redeliver the message after its timeout');
      if (kind === 'system') this.#pauseGroup(group, 'ack', error, event);
      return false;
    }
    if (outcome === 'parked') this.#rememberPark(group, event.id);
    this.#settleLocally(group, event, outcome);
    return true;
  }

  #rememberPark(group: GroupState, eventId: string): void {
    const now = Date.now();
    for (const [id, at] of group.pendingParks) {
      if (now - at <= PARK_VISIBILITY_MS) break;
      group.pendingParks.delete(id);
    }
    group.pendingParks.set(eventId, now);
  }

  #settleLocally(group: GroupState, event: RecordedEvent, outcome: HandledOutcome): void {
    this.#metrics?.eventsHandled.inc({ group: group.name, type: event.type, outcome });
    if (outcome === 'acked' || outcome === 'parked') {
      if (group.settledPosition === undefined || event.position.commit > group.settledPosition) group.settledPosition = event.position.commit;
      if (group.source.kind === 'stream' && event.streamId === group.source.stream && (group.settledRevision === undefined || event.revision > group.settledRevision)) {
        group.settledRevision = event.revision;
      }
    }
  }

  #pauseGroup(group: GroupState, phase: SystemFailurePhase, error: unknown, event?: RecordedEvent): void {
    group.consecutiveSystemFailures += 1;
    const consecutiveFailures = group.consecutiveSystemFailures;
    void this.#alert({ group: group.name, phase, error, consecutiveFailures, ...(event ? { event } : {}) });
    if (group.pause || this.#stopController.signal.aborted) return;
    group.logger.error({ phase, consecutiveFailures, err: error }, 'group paused until the store is healthy');
    for (const session of group.sessions) session.abort();
    const promise = this.#probeUntilHealthy(group, consecutiveFailures)
      .catch((probeError: unknown) => group.logger.error({ err: probeError }, 'health probe failed unexpectedly: resuming'))
      .finally(() => {
        group.pause = undefined;
        this.#emitChange();
      });
    group.pause = { promise };
    this.#emitChange();
  }

  async #probeUntilHealthy(group: GroupState, consecutiveFailures: number): Promise<void> {
    for (let probe = 0; ; probe++) {
      const attempt = Math.min(consecutiveFailures + probe, 64);
      if (!(await wait(delayFor(attempt, this.#pausePolicy, this.#random), this.#stopController.signal))) return;
      let health: StoreHealth;
      try {
        health = await this.#store.health();
        if (health.ok && group.handler.healthCheck && !(await group.handler.healthCheck())) health = { ok: false, detail: 'handler health check failed' };
      } catch (error) {
        health = { ok: false, detail: describeError(error) };
      }
      if (health.ok) {
        group.logger.info({ probes: probe + 1 }, 'healthy again: resuming the group');
        return;
      }
      group.logger.warn({ probe: probe + 1, detail: health.detail }, 'still unhealthy: group stays paused');
    }
  }

  async #alert(alert: SystemAlert): Promise<void> {
    const hook = this.#options.onSystemError;
    if (!hook) return;
    try {
      await hook(alert);
    } catch (error) {
      this.#logger.error({ err: error, group: alert.group }, 'onSystemError hook failed');
    }
  }
}

export function createSubscriptionRunner(options: SubscriptionRunnerOptions): SubscriptionRunner {
  return new SubscriptionRunner(options);
}
