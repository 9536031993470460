/**
 * The messages between the embedded store and its commit worker (commit-thread.ts,
 * commit-worker.ts). Errors cross the thread boundary as data and are rebuilt as the same typed
 * store errors on the store's side.
 */
import { ConditionFailedError, StoreUnavailableError, StreamDeletedError, WrongExpectedVersionError } from '../errors.js';
import type { AppendCondition, ExpectedRevision } from '../port.js';
import type { PreparedEvent } from '../validation.js';
import type { BatchResult, WriteOutcome } from './group-commit.js';
import type { WriteRequest } from './writes.js';

export interface CommitWorkerData {
  /** Absolute path of the store's file (already migrated, in WAL mode). */
  readonly path: string;
  readonly busyTimeoutMs: number;
}

export type ToWorker =
  | { readonly type: 'commit'; readonly id: number; readonly batch: PackedBatch }
  /** From WalCheckpointer: the connection's wal_autocheckpoint, and a checkpoint between two batches. */
  | { readonly type: 'autocheckpoint'; readonly pages: number }
  | { readonly type: 'checkpoint' }
  | { readonly type: 'close' };

/**
 * A batch of WriteRequests as one flat array of primitives. postMessage copies it by structured
 * clone on the event loop, and an array of strings and bigints clones several times faster than
 * the same data as nested objects (no property names, no object headers): with a batch per turn
 * under load, that copy was a few percent of the API's CPU.
 *
 *   append:    'append', stream, expected, n, (id, type, data, metadata, seal) × n, m, (stream, revision) × m
 *              seal: 0, or 1, placeholder, prefix, key, aad, plaintext (DeferredSeal)
 *   delete:    'delete', stream, expected
 *   tombstone: 'tombstone', stream, expected
 *   truncate:  'truncate', stream, revision
 */
export type PackedBatch = readonly (string | number | bigint)[];

export function packBatch(batch: readonly WriteRequest[]): PackedBatch {
  const out: (string | number | bigint)[] = [];
  for (const request of batch) {
    switch (request.kind) {
      case 'append': {
        out.push('append', request.stream, request.expected, request.events.length);
        for (const event of request.events) {
          out.push(event.id, event.type, event.data, event.metadata);
          const seal = event.seal;
          if (seal === undefined) out.push(0);
          else out.push(1, seal.placeholder, seal.prefix, seal.key, seal.aad, seal.plaintext);
        }
        const conditions = request.conditions ?? [];
        out.push(conditions.length);
        for (const condition of conditions) out.push(condition.stream, condition.revision);
        break;
      }
      case 'delete':
      case 'tombstone':
        out.push(request.kind, request.stream, request.expected);
        break;
      case 'truncate':
        out.push('truncate', request.stream, request.revision);
        break;
    }
  }
  return out;
}

export function unpackBatch(packed: PackedBatch): WriteRequest[] {
  const batch: WriteRequest[] = [];
  let i = 0;
  const next = (): string | number | bigint => {
    if (i >= packed.length) throw new Error('truncated batch');
    return packed[i++] as string | number | bigint;
  };
  const text = (): string => String(next());
  const count = (): number => Number(next());
  const revision = (): bigint => BigInt(next());
  const expected = (): ExpectedRevision => next() as ExpectedRevision;
  while (i < packed.length) {
    const kind = text();
    if (kind === 'append') {
      const stream = text();
      const expectedRevision = expected();
      const events: PreparedEvent[] = [];
      for (let n = count(); n > 0; n--) {
        const event = { id: text(), type: text(), data: text(), metadata: text() };
        events.push(count() === 0 ? event : { ...event, seal: { placeholder: text(), prefix: text(), key: text(), aad: text(), plaintext: text() } });
      }
      const conditions: AppendCondition[] = [];
      for (let m = count(); m > 0; m--) conditions.push({ stream: text(), revision: revision() });
      batch.push(conditions.length > 0 ? { kind, stream, events, expected: expectedRevision, conditions } : { kind, stream, events, expected: expectedRevision });
    } else if (kind === 'delete' || kind === 'tombstone') {
      batch.push({ kind, stream: text(), expected: expected() });
    } else if (kind === 'truncate') {
      batch.push({ kind, stream: text(), revision: revision() });
    } else {
      throw new Error(`unknown write '${kind}' in batch`);
    }
  }
  return batch;
}

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly committed: boolean; readonly snapshot: bigint; readonly outcomes: readonly SerialisedOutcome[] };

export type SerialisedError =
  | { readonly kind: 'wrong-expected-version'; readonly stream: string; readonly expected: ExpectedRevision; readonly actual: bigint | 'no_stream' }
  | { readonly kind: 'condition-failed'; readonly stream: string; readonly expected: bigint; readonly actual: bigint | 'no_stream' | 'deleted' }
  | { readonly kind: 'stream-deleted'; readonly stream: string }
  | { readonly kind: 'unavailable'; readonly message: string }
  | { readonly kind: 'other'; readonly name: string; readonly message: string; readonly code?: string };

export type SerialisedOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: SerialisedError };

export function serialiseError(error: unknown): SerialisedError {
  if (error instanceof WrongExpectedVersionError) return { kind: 'wrong-expected-version', stream: error.streamName, expected: error.expectedVersion, actual: error.actualVersion };
  if (error instanceof ConditionFailedError) return { kind: 'condition-failed', stream: error.streamName, expected: error.expectedRevision, actual: error.actual };
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
    case 'condition-failed':
      return new ConditionFailedError(error.stream, error.expected, error.actual);
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

