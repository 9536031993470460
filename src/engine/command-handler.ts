import { setTimeout as sleep } from 'node:timers/promises';
import { StreamNotFoundError, WrongExpectedVersionError } from '../eventstore/errors.js';
import type { AppendResult, EventData, EventStore, ExpectedRevision, RecordedEvent } from '../eventstore/port.js';

/** A pure decider, as in src/aggregates: decide(command, state) → events, evolve(state, event) → state. */
export interface DeciderLike<C, E, S> {
  readonly initialState: S;
  decide(command: C, state: S): readonly E[];
  evolve(state: S, event: E): S;
}

/** How an aggregate's events travel to and from the store (validation, upcasting, metadata). */
export interface StreamCodec<E> {
  decode(recorded: RecordedEvent): E;
  encode(event: E, index: number): EventData;
}

export interface CommandOutcome<E, S> {
  readonly events: readonly E[];
  readonly state: S;
  /** Undefined when the decision produced no events (an idempotent no-op). */
  readonly append?: AppendResult;
  readonly attempts: number;
}

export interface HandleCommandOptions {
  /** Attempts on WrongExpectedVersion before giving up with ConcurrencyConflictError. */
  readonly maxAttempts?: number;
  /** Base of the jittered back-off between attempts, in ms. */
  readonly backoffMs?: number;
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

export async function loadState<E, S>(store: EventStore, stream: string, decider: Pick<DeciderLike<unknown, E, S>, 'initialState' | 'evolve'>, codec: Pick<StreamCodec<E>, 'decode'>): Promise<{ state: S; revision: ExpectedRevision }> {
  let state = decider.initialState;
  let revision: bigint | undefined;
  try {
    for await (const recorded of store.readStream(stream)) {
      state = decider.evolve(state, codec.decode(recorded));
      revision = recorded.revision;
    }
  } catch (error) {
    if (!(error instanceof StreamNotFoundError)) throw error;
  }
  return { state, revision: revision ?? 'no_stream' };
}

/**
 * Load → decide → append with the expected revision. A concurrent writer makes the append fail
 * with WrongExpectedVersion: reload and decide again, a bounded number of times with jitter.
 * Business-rule errors thrown by decide propagate untouched (the caller maps them to 422).
 */
export async function handleCommand<C, E, S>(
  store: EventStore,
  stream: string,
  decider: DeciderLike<C, E, S>,
  codec: StreamCodec<E>,
  command: C,
  options: HandleCommandOptions = {},
): Promise<CommandOutcome<E, S>> {
  const maxAttempts = options.maxAttempts ?? 5;
  const backoffMs = options.backoffMs ?? 5;
  let lastConflict: WrongExpectedVersionError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const { state, revision } = await loadState(store, stream, decider, codec);
    const events = decider.decide(command, state);
    const nextState = events.reduce(decider.evolve, state);
    if (events.length === 0) return { events, state: nextState, attempts: attempt };
    try {
      const append = await store.append(stream, events.map(codec.encode), { expectedRevision: revision });
      return { events, state: nextState, append, attempts: attempt };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      lastConflict = error;
      // Full jitter keeps competing writers from retrying in lock-step.
      await sleep(Math.random() * backoffMs * 2 ** (attempt - 1));
    }
  }
  throw new ConcurrencyConflictError(stream, maxAttempts, { cause: lastConflict });
}
