import { StreamDeletedError, WrongExpectedVersionError } from '../errors.js';
import type { ExpectedRevision } from '../port.js';
import type { StreamState } from './queries.js';

/**
 * The outcome of EventStoreDB's commit check: write after the current last revision, or the
 * stream is already past the expected revision and the batch may be an idempotent replay of the
 * events after `after` (-1n for no_stream).
 */
export type RevisionCheck = { readonly kind: 'write' } | { readonly kind: 'replay'; readonly after: bigint };

const WRITE: RevisionCheck = { kind: 'write' };

export function actualVersion(state: StreamState | undefined): bigint | 'no_stream' {
  return state === undefined || state.lastRevision < 0n ? 'no_stream' : state.lastRevision;
}

/**
 * - tombstoned: always StreamDeleted;
 * - any: no check;
 * - stream_exists: the stream has events; soft-deleted → StreamDeleted;
 * - no_stream: no event was ever written (a soft delete does not reset that), else replay check;
 * - N: the last revision is N; below it → replay check; above → WrongExpectedVersion.
 */
export function checkExpectedRevision(stream: string, state: StreamState | undefined, expected: ExpectedRevision): RevisionCheck {
  if (state?.tombstoned === true) throw new StreamDeletedError(stream);
  const last = state?.lastRevision ?? -1n;
  if (expected === 'any') return WRITE;
  if (expected === 'stream_exists') {
    if (state?.softDeleted === true) throw new StreamDeletedError(stream);
    if (last < 0n) throw new WrongExpectedVersionError(stream, expected, 'no_stream');
    return WRITE;
  }
  const wanted = expected === 'no_stream' ? -1n : expected;
  if (wanted === last) return WRITE;
  if (wanted < last) return { kind: 'replay', after: wanted };
  throw new WrongExpectedVersionError(stream, expected, actualVersion(state));
}

/** For deletes: no idempotent replay, the revision must match exactly. */
export function checkExpectedRevisionExactly(stream: string, state: StreamState | undefined, expected: ExpectedRevision): void {
  if (checkExpectedRevision(stream, state, expected).kind === 'replay') throw new WrongExpectedVersionError(stream, expected, actualVersion(state));
}
