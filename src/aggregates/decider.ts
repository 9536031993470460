/**
 * The decider pattern: an aggregate is three pure values, no I/O, no clock (times and ids come in
 * the command). A command handler loads the stream, folds it with `evolve` from `initialState`,
 * calls `decide`, and appends the events with optimistic concurrency on the revision it read.
 */
export interface Decider<Command, Event, State> {
  readonly initialState: State;
  /** The events a command causes in `state` (none: nothing to do). Throws BusinessRuleError. */
  decide(command: Command, state: State): readonly Event[];
  evolve(state: State, event: Event): State;
  /**
   * Optional: the id an event must be appended with when duplicates must collapse
   * (`deterministicEventId`). `undefined`: the handler uses a random uuid.
   */
  eventId?(event: Event): string | undefined;
  /**
   * Optional: true for events that carry the complete state (`evolve(anything, e)` does not depend
   * on the state before `e`). A handler may then read the stream backwards to the newest such
   * event and fold only from it (`stateFromNewestFirst`): loading cost independent of history.
   */
  isCheckpoint?(event: Event): boolean;
  /**
   * Optional: true when the state holds personal data (the scoring request's holds the applicant).
   * A command handler then keeps no copy of it between commands: a borrower forgotten meanwhile
   * must not come back from memory (a retry re-emits the request its state holds), and only the
   * store, where the forget redacts, is read.
   */
  readonly stateHoldsPersonalData?: boolean;
}

/** The state after `events`, starting from `from` (default: the initial state). */
export function fold<C, E, S>(decider: Decider<C, E, S>, events: Iterable<E>, from: S = decider.initialState): S {
  let state = from;
  for (const event of events) state = decider.evolve(state, event);
  return state;
}

/**
 * The state from events read newest first (a backwards stream read), stopping at the newest
 * checkpoint event. Without `isCheckpoint` this reads everything. Returns how many were read.
 */
export function stateFromNewestFirst<C, E, S>(decider: Decider<C, E, S>, newestFirst: Iterable<E>): { state: S; read: number } {
  const tail: E[] = [];
  for (const event of newestFirst) {
    tail.push(event);
    if (decider.isCheckpoint?.(event) === true) break;
  }
  return { state: fold(decider, tail.reverse()), read: tail.length };
}
