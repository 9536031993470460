import type { AppendResult, EventData, ExpectedRevision, Position, ReadAllOptions, ReadStreamOptions, RecordedEvent } from '../port.js';

/**
 * What the embedded persistent-subscription engine needs from the embedded store core. Like
 * EventStoreDB, the engine keeps all its state in system streams of the store itself:
 * `$persistentSubscriptionConfig` (group definitions), `$persistentsubscription-{src}::{group}-checkpoint`
 * and `...-parked` (links to parked events, truncated with $tb after a replay).
 */
export interface EmbeddedStoreInternals {
  /** Like EventStore.append but also accepts system ('$'-prefixed) stream names. */
  appendSystem(stream: string, events: readonly EventData[], expectedRevision?: ExpectedRevision): Promise<AppendResult>;
  /** Set the stream's truncate-before ($tb): earlier revisions become invisible to reads. */
  setTruncateBefore(stream: string, revision: bigint): Promise<void>;
  /** The port's reads; system streams are readable by name. readAll includes system events unless filtered. */
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /** Synchronous batch read for hot paths: events strictly after `after` (or from the start), forwards. */
  readAllAfter(after: Position | undefined, maxCount: number): RecordedEvent[];
  /** Called (synchronously, in-process) after every committed append with the new head position. */
  onAppended(listener: (head: Position) => void): () => void;
  headPosition(): Promise<Position | undefined>;
}
