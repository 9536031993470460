import { ConditionFailedError, StreamDeletedError, WrongExpectedVersionError } from '../errors.js';
import type { AppendCondition, AppendResult, ExpectedRevision } from '../port.js';
import { actualVersion, checkExpectedRevision, checkExpectedRevisionExactly } from './expected-revision.js';
import type { WriteOp } from './group-commit.js';
import type { EventQueries, StreamState } from './queries.js';
import type { PreparedEvent } from '../validation.js';
import { completeSeal } from '../../shared/deferred-seal.js';

/**
 * A write as data: what the store submits to the group commit. Plain values only (strings,
 * bigints), so a batch can be posted to the commit worker (commit-thread.ts) as it is.
 */
export type WriteRequest =
  | { readonly kind: 'append'; readonly stream: string; readonly events: readonly PreparedEvent[]; readonly expected: ExpectedRevision; readonly conditions?: readonly AppendCondition[] }
  | { readonly kind: 'delete'; readonly stream: string; readonly expected: ExpectedRevision }
  | { readonly kind: 'tombstone'; readonly stream: string; readonly expected: ExpectedRevision }
  | { readonly kind: 'truncate'; readonly stream: string; readonly revision: bigint };

/** The operation that performs `request` on the connection of `queries`. */
export function writeOp(queries: EventQueries, request: WriteRequest): WriteOp<unknown> {
  switch (request.kind) {
    case 'append':
      return appendOp(queries, request.stream, request.events, request.expected, request.conditions);
    case 'delete':
      return deleteOp(queries, request.stream, request.expected);
    case 'tombstone':
      return tombstoneOp(queries, request.stream, request.expected);
    case 'truncate':
      return truncateOp(queries, request.stream, request.revision);
  }
}

/** Thrown inside the append savepoint when an event id already exists in the stream. */
class DuplicateEventId extends Error {}

function isDuplicateIdViolation(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (error as Error & { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' && error.message.includes('events.id');
}

/**
 * Append as EventStoreDB does: expected-revision check, then either write (continuing the
 * numbering, also after a soft delete) or, when the stream is already past the expected revision,
 * compare the ids after it (all equal → the original result, nothing written).
 * Event ids are unique per stream: with any/stream_exists, a batch whose ids ALL exist already is a
 * retry and returns the original result; a partial overlap is a WrongExpectedVersion.
 */
export function appendOp(
  queries: EventQueries,
  stream: string,
  events: readonly PreparedEvent[],
  expected: ExpectedRevision,
  conditions: readonly AppendCondition[] = [],
): WriteOp<AppendResult> {
  return {
    run(): AppendResult {
      const state = queries.stream(stream);
      const check = checkExpectedRevision(stream, state, expected);
      if (check.kind === 'replay' && state !== undefined) return replay(queries, stream, state, events, expected, check.after);
      for (const condition of conditions) checkCondition(queries, condition);
      return write(queries, stream, state, events);
    },
    recover(error: unknown): AppendResult {
      if (!(error instanceof DuplicateEventId)) throw error;
      const state = queries.stream(stream);
      if (state !== undefined && (expected === 'any' || expected === 'stream_exists')) {
        const original = findAll(queries, state, events);
        if (original !== undefined) return original;
      }
      throw new WrongExpectedVersionError(stream, expected, actualVersion(state));
    },
  };
}

/** AppendWriteOptions.conditions: the stream is still at the revision, and readable (a deleted stream reads as another state). */
function checkCondition(queries: EventQueries, condition: AppendCondition): void {
  const state = queries.stream(condition.stream);
  if (state !== undefined && (state.softDeleted || state.tombstoned)) throw new ConditionFailedError(condition.stream, condition.revision, 'deleted');
  const actual = actualVersion(state);
  if (actual !== condition.revision) throw new ConditionFailedError(condition.stream, condition.revision, actual);
}

function write(queries: EventQueries, stream: string, existing: StreamState | undefined, events: readonly PreparedEvent[]): AppendResult {
  const state = existing ?? queries.createStream(stream);
  const created = Date.now();
  let revision = state.lastRevision;
  let seq = 0n;
  try {
    for (const event of events) {
      revision += 1n;
      const data = event.seal === undefined ? event.data : completeSeal(event.data, event.seal);
      seq = queries.insertEvent(state.id, revision, event.id, event.type, data, event.metadata, created);
    }
  } catch (error) {
    if (isDuplicateIdViolation(error)) throw new DuplicateEventId();
    throw error;
  }
  const truncateBefore = state.softDeleted ? state.lastRevision + 1n : state.truncateBefore;
  queries.updateStream({ ...state, lastRevision: revision, truncateBefore, softDeleted: false });
  return { nextExpectedRevision: revision, position: { commit: seq, prepare: seq } };
}

function replay(
  queries: EventQueries,
  stream: string,
  state: StreamState,
  events: readonly PreparedEvent[],
  expected: ExpectedRevision,
  after: bigint,
): AppendResult {
  let revision = after;
  let seq = 0n;
  for (const event of events) {
    revision += 1n;
    const existing = queries.eventAt(state.id, revision);
    if (existing === undefined || existing.id !== event.id) throw new WrongExpectedVersionError(stream, expected, actualVersion(state));
    seq = existing.seq;
  }
  return { nextExpectedRevision: revision, position: { commit: seq, prepare: seq } };
}

/** The original result of a batch whose ids all exist in the stream: its last-written event. */
function findAll(queries: EventQueries, state: StreamState, events: readonly PreparedEvent[]): AppendResult | undefined {
  let revision = -1n;
  let seq = 0n;
  for (const event of events) {
    const existing = queries.eventById(state.id, event.id);
    if (existing === undefined) return undefined;
    if (existing.revision > revision) {
      revision = existing.revision;
      seq = existing.seq;
    }
  }
  return { nextExpectedRevision: revision, position: { commit: seq, prepare: seq } };
}

/** Soft delete: $tb = "max" until the next append; numbering continues. A stream without events: nothing to do. */
export function deleteOp(queries: EventQueries, stream: string, expected: ExpectedRevision): WriteOp<void> {
  return {
    run(): void {
      const state = queries.stream(stream);
      checkExpectedRevisionExactly(stream, state, expected);
      if (state === undefined || state.lastRevision < 0n) return;
      queries.updateStream({ ...state, softDeleted: true, truncateBefore: state.lastRevision + 1n });
    },
  };
}

/** Hard delete: reads and appends fail with StreamDeleted forever (also for a stream that never existed). */
export function tombstoneOp(queries: EventQueries, stream: string, expected: ExpectedRevision): WriteOp<void> {
  return {
    run(): void {
      const existing = queries.stream(stream);
      checkExpectedRevisionExactly(stream, existing, expected);
      const state = existing ?? queries.createStream(stream);
      queries.updateStream({ ...state, tombstoned: true });
    },
  };
}

/** $tb: revisions below `revision` become invisible to stream reads ($all keeps them, as EventStoreDB before a scavenge). */
export function truncateOp(queries: EventQueries, stream: string, revision: bigint): WriteOp<void> {
  return {
    run(): void {
      const existing = queries.stream(stream);
      if (existing?.tombstoned === true) throw new StreamDeletedError(stream);
      const state = existing ?? queries.createStream(stream);
      queries.updateStream({ ...state, truncateBefore: revision });
    },
  };
}
