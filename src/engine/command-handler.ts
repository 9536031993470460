import { setTimeout as sleep } from 'node:timers/promises';
import { stateFromNewestFirst, type Decider } from '../aggregates/decider.js';
import { decodeEvent, encodeEvent, type DecodeFailure, type DecodedEvent } from '../contracts/events/codec.js';
import type { EventBody } from '../contracts/events/catalog.js';
import type { EventEnvelope } from '../contracts/events/metadata.js';
import { StreamNotFoundError, WrongExpectedVersionError } from '../eventstore/errors.js';
import type { AppendCondition, AppendResult, AppendWriteOptions, EventData, EventStore, ExpectedRevision, RecordedEvent } from '../eventstore/port.js';
import { newId } from '../contracts/ids.js';

export interface CommandOutcome<E, S> {
  readonly events: readonly E[];
  /** Ids the events were appended with, in order. */
  readonly eventIds: readonly string[];
  readonly state: S;
  /** Undefined when the decision produced no events (an idempotent no-op). */
  readonly append?: AppendResult;
  readonly attempts: number;
}

export interface CommandHandlerOptions {
  /** Attempts on WrongExpectedVersion before giving up with ConcurrencyConflictError. */
  readonly maxAttempts?: number;
  /** Base of the jittered back-off between attempts, in ms. */
  readonly backoffMs?: number;
  /** Streams whose folded state is kept in memory (LRU); 0 disables. Default 10,000. */
  readonly stateCacheSize?: number;
}

/** Raised after the bounded retries on concurrent writers are spent: the HTTP layer answers 409. */
export class ConcurrencyConflictError extends Error {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    readonly stream: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(`Stream '${stream}' kept changing under ${attempts} attempts; retry the request`, options);
    this.name = 'ConcurrencyConflictError';
  }
}

/** A stored event that fails its contract: reported with stream and revision, never folded into state. */
export class CorruptEventError extends Error {
  readonly code = 'CORRUPT_EVENT';
  constructor(readonly failure: DecodeFailure) {
    super(`Event ${failure.eventId} at ${failure.streamId}@${failure.revision} (${failure.type}) fails its contract: ${failure.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`);
    this.name = 'CorruptEventError';
  }
}

export function decodeOrThrow(recorded: RecordedEvent): DecodedEvent {
  const decoded = decodeEvent(recorded);
  if (!decoded.ok) throw new CorruptEventError(decoded.error);
  return decoded.event;
}

interface CachedState {
  readonly decider: object;
  readonly state: unknown;
  readonly revision: bigint;
}

export interface ExecuteOptions {
  /**
   * The stream is believed not to exist yet (its id was generated for this command): the first
   * attempt decides on the initial state without reading the stream, and its append's expected
   * revision (no_stream) proves the belief. Whenever it does not hold (the stream exists, or
   * deciding or encoding throws, or the decision is a no-op), the command runs as it would without
   * the hint, from the stream's actual state: the outcome is the same, only the read is saved.
   * Ignored for deciders with an eventId hook: with deterministic ids, a no_stream append to an
   * existing stream could be an idempotent replay (a success) instead of a conflict.
   */
  readonly newStream?: boolean;
  /**
   * Other streams the command was admitted on (AppendWriteOptions.conditions): each append of the
   * command commits only if they are unchanged, else it fails with ConditionFailedError (not
   * retried here: the caller decides again on fresh state). Only on stores with conditionalAppends.
   */
  readonly conditions?: readonly AppendCondition[];
}

/** A state taken from the cache without reading the store, at the revision it was folded to. */
export interface CachedLoadedState<S> {
  readonly state: S;
  readonly revision: bigint;
}

export interface LoadedState<S> {
  readonly state: S;
  readonly revision: ExpectedRevision;
}

/**
 * Load → decide → append with the expected revision. A concurrent writer makes the append fail
 * with WrongExpectedVersion: reload and decide again, a bounded number of times with jitter.
 * Business-rule errors thrown by decide propagate untouched (the HTTP layer maps them).
 */
export class CommandHandler {
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly cacheSize: number;
  /**
   * States already folded, by stream (least recently used first). A load folds only the events
   * after the cached revision, so it stays correct whoever else appends: the tail is always read,
   * and the append's expected revision catches anything newer.
   */
  private states = new Map<string, CachedState>();
  /** The previous generation: two generations give LRU-like eviction at O(1) per operation. */
  private olderStates = new Map<string, CachedState>();

  constructor(
    private readonly store: EventStore,
    options: CommandHandlerOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.backoffMs = options.backoffMs ?? 5;
    this.cacheSize = options.stateCacheSize ?? 10_000;
  }

  private remember(stream: string, decider: Pick<Decider<unknown, unknown, unknown>, 'stateHoldsPersonalData'>, state: unknown, revision: ExpectedRevision): void {
    if (typeof revision !== 'bigint' || this.cacheSize === 0 || decider.stateHoldsPersonalData === true) return;
    this.states.set(stream, { decider, state, revision });
    if (this.states.size >= this.cacheSize / 2) {
      this.olderStates = this.states;
      this.states = new Map();
    }
  }

  private cached(stream: string): CachedState | undefined {
    return this.states.get(stream) ?? this.olderStates.get(stream);
  }

  private forget(stream: string): void {
    this.states.delete(stream);
    this.olderStates.delete(stream);
  }

  /**
   * The state of `stream` as this handler last loaded or wrote it, WITHOUT reading the store, or
   * undefined when it has none. It may be stale (another writer may have appended since): a
   * decision on it is only sound under an AppendCondition on its revision, which the store checks
   * when the resulting append commits, so this answers only on a store with conditional appends.
   */
  cachedState<C, E extends EventBody, S>(stream: string, decider: Decider<C, E, S>): CachedLoadedState<S> | undefined {
    if (this.store.conditionalAppends !== true) return undefined;
    const cached = this.cached(stream);
    return cached !== undefined && cached.decider === decider ? { state: cached.state as S, revision: cached.revision } : undefined;
  }

  /**
   * The state of a stream. Deciders with checkpoint events (state-carrying events) are loaded
   * backwards to the newest checkpoint, so the cost does not grow with the stream's history.
   */
  async load<C, E extends EventBody, S>(stream: string, decider: Decider<C, E, S>): Promise<LoadedState<S>> {
    const loaded = await this.loadFromStore(stream, decider);
    this.remember(stream, decider, loaded.state, loaded.revision);
    return loaded;
  }

  private async loadFromStore<C, E extends EventBody, S>(stream: string, decider: Decider<C, E, S>): Promise<LoadedState<S>> {
    const cached = this.cached(stream);
    if (cached && cached.decider === decider) {
      try {
        let state = cached.state as S;
        let revision = cached.revision;
        for await (const recorded of this.store.readStream(stream, { fromRevision: cached.revision + 1n })) {
          state = decider.evolve(state, decodeOrThrow(recorded) as unknown as E);
          revision = recorded.revision;
        }
        return { state, revision };
      } catch (error) {
        // Deleted since it was cached: fold from scratch below.
        this.forget(stream);
        if (!(error instanceof StreamNotFoundError)) throw error;
      }
    }
    try {
      if (decider.isCheckpoint) {
        let revision: bigint | undefined;
        const newestFirst: E[] = [];
        for await (const recorded of this.store.readStream(stream, { direction: 'backwards', fromRevision: 'end', notFound: 'empty' })) {
          revision ??= recorded.revision;
          const event = decodeOrThrow(recorded) as unknown as E;
          newestFirst.push(event);
          if (decider.isCheckpoint(event)) break;
        }
        return { state: stateFromNewestFirst(decider, newestFirst).state, revision: revision ?? 'no_stream' };
      }
      let state = decider.initialState;
      let revision: bigint | undefined;
      for await (const recorded of this.store.readStream(stream, { notFound: 'empty' })) {
        state = decider.evolve(state, decodeOrThrow(recorded) as unknown as E);
        revision = recorded.revision;
      }
      return { state, revision: revision ?? 'no_stream' };
    } catch (error) {
      // Stores that ignore `notFound: 'empty'` (test doubles, say) still throw: same outcome.
      if (error instanceof StreamNotFoundError) return { state: decider.initialState, revision: 'no_stream' };
      throw error;
    }
  }

  /**
   * Decides `command` on `stream` and appends the events with `envelope` (correlation and
   * causation flow from the command to every event it produces). Event ids come from the
   * decider's `eventId` hook where duplicates must collapse, else random.
   */
  async execute<C, E extends EventBody, S>(stream: string, decider: Decider<C, E, S>, command: C, envelope: EventEnvelope, options: ExecuteOptions = {}): Promise<CommandOutcome<E, S>> {
    const conditions = options.conditions !== undefined && options.conditions.length > 0 ? options.conditions : undefined;
    if (options.newStream === true && decider.eventId === undefined && (decider.stateHoldsPersonalData === true || this.cached(stream) === undefined)) {
      const outcome = await this.executeOnNewStream(stream, decider, command, envelope, conditions);
      if (outcome !== undefined) return outcome;
    }
    let lastConflict: WrongExpectedVersionError | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const { state, revision } = await this.load(stream, decider);
      const events = decider.decide(command, state);
      const nextState = events.reduce((s, e) => decider.evolve(s, e), state);
      if (events.length === 0) return { events, eventIds: [], state: nextState, attempts: attempt };
      const eventIds = events.map((event) => decider.eventId?.(event) ?? newId());
      const data = events.map((event, i) => encodeEvent(event, envelope, eventIds[i] as string));
      try {
        const append = await this.store.append(stream, data, appendOptions(revision, conditions));
        this.remember(stream, decider, nextState, append.nextExpectedRevision);
        return { events, eventIds, state: nextState, append, attempts: attempt };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        lastConflict = error;
        // Full jitter keeps competing writers from retrying in lock-step.
        await sleep(Math.random() * this.backoffMs * 2 ** (attempt - 1));
      }
    }
    throw new ConcurrencyConflictError(stream, this.maxAttempts, { cause: lastConflict });
  }

  /** ExecuteOptions.newStream: the outcome when the stream did not exist, or undefined to run the command as usual. */
  private async executeOnNewStream<C, E extends EventBody, S>(
    stream: string,
    decider: Decider<C, E, S>,
    command: C,
    envelope: EventEnvelope,
    conditions: readonly AppendCondition[] | undefined,
  ): Promise<CommandOutcome<E, S> | undefined> {
    let events: readonly E[];
    let nextState: S;
    let eventIds: string[];
    let data: EventData[];
    try {
      events = decider.decide(command, decider.initialState);
      if (events.length === 0) return undefined;
      nextState = events.reduce((s, e) => decider.evolve(s, e), decider.initialState);
      eventIds = events.map(() => newId());
      data = events.map((event, i) => encodeEvent(event, envelope, eventIds[i] as string));
    } catch {
      return undefined; // the stream's actual state decides (and raises) instead
    }
    try {
      const append = await this.store.append(stream, data, appendOptions('no_stream', conditions));
      this.remember(stream, decider, nextState, append.nextExpectedRevision);
      return { events, eventIds, state: nextState, append, attempts: 1 };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) return undefined; // it exists after all
      throw error; // as the usual first attempt's append would have (the read of a missing stream cannot fail)
    }
  }
}

function appendOptions(expectedRevision: ExpectedRevision, conditions: readonly AppendCondition[] | undefined): AppendWriteOptions {
  return conditions === undefined ? { expectedRevision } : { expectedRevision, conditions };
}
