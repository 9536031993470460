import type { EventStore } from '../../../src/eventstore/port.js';

/**
 * One store implementation under contract test. Every contract test must work on a shared,
 * long-lived EventStoreDB database: use `unique()` for every stream and group name, and filter
 * $all reads to the test's own streams or event types.
 */
export interface StoreLane {
  readonly name: string;
  /** Open a store (the same underlying database each time within one lane instance). */
  open(): Promise<EventStore>;
  /** Close `store` and open the same database again (a process restart). */
  reopen(store: EventStore): Promise<EventStore>;
  /** Release everything (delete temp files, stop containers). */
  dispose(): Promise<void>;
}

let counter = 0;
/** A name no other test (or earlier run against the same EventStoreDB) has used. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}${process.pid.toString(36)}${counter}`;
}
