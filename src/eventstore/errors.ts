import type { ExpectedRevision } from './port.js';

/** Base of every error the event store port raises; adapters map their native errors onto these. */
export abstract class EventStoreError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class WrongExpectedVersionError extends EventStoreError {
  readonly code = 'WRONG_EXPECTED_VERSION';
  constructor(
    readonly streamName: string,
    readonly expectedVersion: ExpectedRevision,
    readonly actualVersion: bigint | 'no_stream',
  ) {
    super(`Append to '${streamName}' expected revision ${String(expectedVersion)} but the stream is at ${String(actualVersion)}`);
  }
}

/** An append's condition (AppendWriteOptions.conditions) no longer held when it was to commit: nothing was written. */
export class ConditionFailedError extends EventStoreError {
  readonly code = 'CONDITION_FAILED';
  constructor(
    readonly streamName: string,
    readonly expectedRevision: bigint,
    /** The stream's last revision then, or 'deleted' when it was soft-deleted or tombstoned. */
    readonly actual: bigint | 'no_stream' | 'deleted',
  ) {
    super(`The append depended on '${streamName}' at revision ${expectedRevision}, but it is at ${String(actual)}`);
  }
}

export class StreamNotFoundError extends EventStoreError {
  readonly code = 'STREAM_NOT_FOUND';
  constructor(readonly streamName: string) {
    super(`Stream '${streamName}' not found`);
  }
}

export class StreamDeletedError extends EventStoreError {
  readonly code = 'STREAM_DELETED';
  constructor(readonly streamName: string) {
    super(`Stream '${streamName}' is deleted`);
  }
}

export class MaxAppendSizeExceededError extends EventStoreError {
  readonly code = 'MAX_APPEND_SIZE_EXCEEDED';
  constructor(
    readonly streamName: string,
    readonly size: number,
    readonly maxAppendSize: number,
  ) {
    super(`Append to '${streamName}' is ${size} bytes, over the limit of ${maxAppendSize}`);
  }
}

/** Bad arguments: invalid stream names, missing types, non-serialisable data, negative revisions. */
export class InvalidArgumentError extends EventStoreError {
  readonly code = 'INVALID_ARGUMENT';
  constructor(
    message: string,
    readonly argument: string,
  ) {
    super(message);
  }
}

export class PersistentSubscriptionExistsError extends EventStoreError {
  readonly code = 'PERSISTENT_SUBSCRIPTION_EXISTS';
  constructor(
    readonly source: string,
    readonly group: string,
  ) {
    super(`Persistent subscription '${group}' on '${source}' already exists`);
  }
}

export class PersistentSubscriptionDoesNotExistError extends EventStoreError {
  readonly code = 'PERSISTENT_SUBSCRIPTION_DOES_NOT_EXIST';
  constructor(
    readonly source: string,
    readonly group: string,
  ) {
    super(`Persistent subscription '${group}' on '${source}' does not exist`);
  }
}

export class MaximumSubscribersReachedError extends EventStoreError {
  readonly code = 'MAXIMUM_SUBSCRIBERS_REACHED';
  constructor(
    readonly source: string,
    readonly group: string,
  ) {
    super(`Persistent subscription '${group}' on '${source}' has reached its maximum number of subscribers`);
  }
}

export class PersistentSubscriptionDroppedError extends EventStoreError {
  readonly code = 'PERSISTENT_SUBSCRIPTION_DROPPED';
  constructor(
    readonly source: string,
    readonly group: string,
    reason: string,
  ) {
    super(`Persistent subscription '${group}' on '${source}' was dropped: ${reason}`);
  }
}

/** The store cannot be reached or has been closed: a system error, not the caller's fault. */
export class StoreUnavailableError extends EventStoreError {
  readonly code = 'STORE_UNAVAILABLE';
}
