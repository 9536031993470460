import * as esdb from '@eventstore/db-client';
import {
  EventStoreError,
  MaxAppendSizeExceededError,
  MaximumSubscribersReachedError,
  PersistentSubscriptionDoesNotExistError,
  PersistentSubscriptionDroppedError,
  PersistentSubscriptionExistsError,
  StoreUnavailableError,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '../errors.js';
import type { ExpectedRevision } from '../port.js';

/** What the failing call was about: fills in what the client's error leaves out. */
export interface ErrorContext {
  readonly stream?: string;
  readonly expectedRevision?: ExpectedRevision;
  /** The append's size as counted by validation.appendSize. */
  readonly appendSize?: number;
  /** Persistent subscription source name ('$all' or the stream) and group. */
  readonly source?: string;
  readonly group?: string;
}

/**
 * The server encodes expected/actual versions in error metadata as .NET longs: -1 NoStream,
 * -2 Any, -4 StreamExists. The client passes them through as negative bigints on some paths
 * (e.g. deleteStream), so normalise.
 */
function expectedFromClient(value: esdb.AppendExpectedRevision | undefined, fallback: ExpectedRevision): ExpectedRevision {
  if (value === undefined) return fallback;
  if (typeof value !== 'bigint' || value >= 0n) return value;
  if (value === -1n) return 'no_stream';
  if (value === -4n) return 'stream_exists';
  return 'any';
}

function actualFromClient(value: esdb.CurrentRevision | undefined): bigint | 'no_stream' {
  return typeof value === 'bigint' && value >= 0n ? value : 'no_stream';
}

function nonEmpty(value: string | undefined, fallback: string | undefined): string {
  return value !== undefined && value.length > 0 ? value : (fallback ?? '');
}

/** The one place the client's errors become the port's typed errors. Unknown errors pass through. */
export function mapError(raw: unknown, ctx: ErrorContext = {}): Error {
  if (raw instanceof EventStoreError) return raw;
  if (!(raw instanceof Error)) return new Error(String(raw));
  // Some paths (e.g. the server-features probe before an append) reject with a raw gRPC ServiceError.
  const error = esdb.convertToCommandError(raw);
  const source = ctx.source ?? ctx.stream ?? '';
  const group = ctx.group ?? '';

  if (error instanceof esdb.WrongExpectedVersionError) {
    return withCause(
      new WrongExpectedVersionError(
        nonEmpty(error.streamName, ctx.stream),
        expectedFromClient(error.expectedVersion, ctx.expectedRevision ?? 'any'),
        actualFromClient(error.actualVersion),
      ),
      error,
    );
  }
  if (error instanceof esdb.StreamNotFoundError) return withCause(new StreamNotFoundError(nonEmpty(ctx.stream, error.streamName)), error);
  if (error instanceof esdb.StreamDeletedError) return withCause(new StreamDeletedError(nonEmpty(ctx.stream, error.streamName)), error);
  if (error instanceof esdb.MaxAppendSizeExceededError) {
    return withCause(new MaxAppendSizeExceededError(ctx.stream ?? '', ctx.appendSize ?? 0, error.maxAppendSize), error);
  }
  if (error instanceof esdb.PersistentSubscriptionExistsError) {
    return withCause(new PersistentSubscriptionExistsError(nonEmpty(ctx.source, error.streamName), nonEmpty(ctx.group, error.groupName)), error);
  }
  if (error instanceof esdb.PersistentSubscriptionDoesNotExistError || (error instanceof esdb.NotFoundError && ctx.group !== undefined)) {
    return withCause(new PersistentSubscriptionDoesNotExistError(source, group), error);
  }
  if (error instanceof esdb.PersistentSubscriptionMaximumSubscribersReachedError) {
    return withCause(new MaximumSubscribersReachedError(source, group), error);
  }
  if (error instanceof esdb.PersistentSubscriptionDroppedError) {
    return withCause(new PersistentSubscriptionDroppedError(source, group, error.message), error);
  }
  if (error instanceof esdb.UnavailableError || error instanceof esdb.DeadlineExceededError || error instanceof esdb.NotLeaderError) {
    return new StoreUnavailableError(`EventStoreDB is unavailable: ${error.message}`, { cause: error });
  }
  if (isDisposedClientError(error)) return new StoreUnavailableError(`EventStoreDB client is closed: ${error.message}`, { cause: error });
  return error;
}

/** grpc-js raises plain errors (not CommandErrors) once the channel is closed by dispose(). */
function isDisposedClientError(error: Error): boolean {
  return /channel has been closed|Channel has been shut down/i.test(error.message);
}

function withCause<E extends EventStoreError>(mapped: E, cause: Error): E {
  Object.defineProperty(mapped, 'cause', { value: cause, enumerable: false, configurable: true, writable: true });
  return mapped;
}
