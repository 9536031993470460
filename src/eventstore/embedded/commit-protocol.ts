/**
 * The messages between the embedded store and its commit worker (commit-thread.ts,
 * commit-worker.ts). Errors cross the thread boundary as data and are rebuilt as the same typed
 * store errors on the store's side.
 */
import { StoreUnavailableError, StreamDeletedError, WrongExpectedVersionError } from '../errors.js';
import type { ExpectedRevision } from '../port.js';
import type { BatchResult, WriteOutcome } from './group-commit.js';
import type { WriteRequest } from './writes.js';

export interface CommitWorkerData {
  /** Absolute path of the store's file (already migrated, in WAL mode). */
  readonly path: string;
  readonly busyTimeoutMs: number;
}

export type ToWorker = { readonly type: 'commit'; readonly id: number; readonly batch: readonly WriteRequest[] } | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly committed: boolean; readonly snapshot: bigint; readonly outcomes: readonly SerialisedOutcome[] };

export type SerialisedError =
  | { readonly kind: 'wrong-expected-version'; readonly stream: string; readonly expected: ExpectedRevision; readonly actual: bigint | 'no_stream' }
  | { readonly kind: 'stream-deleted'; readonly stream: string }
  | { readonly kind: 'unavailable'; readonly message: string }
  | { readonly kind: 'other'; readonly name: string; readonly message: string; readonly code?: string };

export type SerialisedOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: SerialisedError };

export function serialiseError(error: unknown): SerialisedError {
  if (error instanceof WrongExpectedVersionError) return { kind: 'wrong-expected-version', stream: error.streamName, expected: error.expectedVersion, actual: error.actualVersion };
  if (error instanceof StreamDeletedError) return { kind: 'stream-deleted', stream: error.streamName };
  if (error instanceof StoreUnavailableError) return { kind: 'unavailable', message: error.message };
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return { kind: 'other', name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { kind: 'other', name: 'Error', message: String(error) };
}

/** Any other error a write may raise (not a store error: a bug), rebuilt with its name, message and code. */
class CommitWorkerError extends Error {
  constructor(
    name: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = name;
  }
}

export function deserialiseError(error: SerialisedError): Error {
  switch (error.kind) {
    case 'wrong-expected-version':
      return new WrongExpectedVersionError(error.stream, error.expected, error.actual);
    case 'stream-deleted':
      return new StreamDeletedError(error.stream);
    case 'unavailable':
      return new StoreUnavailableError(error.message);
    case 'other':
      return new CommitWorkerError(error.name, error.message, error.code);
  }
}

export function serialiseOutcome(outcome: WriteOutcome): SerialisedOutcome {
  return outcome.ok ? outcome : { ok: false, error: serialiseError(outcome.error) };
}

export function deserialiseResult(message: Extract<FromWorker, { type: 'result' }>): BatchResult {
  return {
    committed: message.committed,
    snapshot: message.snapshot,
    outcomes: message.outcomes.map((outcome): WriteOutcome => (outcome.ok ? outcome : { ok: false, error: deserialiseError(outcome.error) })),
  };
}

