import type Database from 'better-sqlite3';
import { EventStoreError, StoreUnavailableError } from '../errors.js';

/** A write that runs inside the group transaction, in its own savepoint. */
export interface WriteOp<T> {
  /** Throwing rolls back this op only (its savepoint); the others in the group still commit. */
  run(): T;
  /** Called after run() threw and its savepoint was rolled back, still inside the group transaction. */
  recover?(error: unknown): T;
}

interface Pending {
  readonly op: WriteOp<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  ok: boolean;
  value: unknown;
  error: unknown;
}

/**
 * Group commit: every write submitted in the same turn of the event loop is flushed (on
 * setImmediate) in ONE immediate transaction, so one WAL fsync covers them all. Each write gets a
 * savepoint, so a failing check rolls back only that write (a write alone in its group needs none).
 * Promises settle after COMMIT returned, i.e. once the batch is durable. setImmediate rather than a
 * microtask: it also groups writes issued by different I/O callbacks of the same loop iteration.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private scheduled = false;
  /** Transactions committed so far (diagnostics: appends per commit = group-commit efficiency). */
  commits = 0;
  private lastSnapshot = 0n;
  private readonly groupTransaction: Database.Transaction<(batch: Pending[]) => void>;
  private readonly savepoint: Database.Transaction<(op: WriteOp<unknown>) => unknown>;
  private readonly soloTransaction: Database.Transaction<(op: WriteOp<unknown>) => unknown>;

  constructor(
    private readonly db: Database.Database,
    /** Runs inside each group transaction after its writes (e.g. read the new head without a separate read transaction). */
    private readonly snapshot: () => bigint,
    /** Runs after each successful COMMIT with the snapshot, before the promises settle. */
    private readonly afterCommit: (snapshot: bigint) => void,
    private readonly maxWritesPerCommit = 1_000,
  ) {
    this.savepoint = db.transaction((op: WriteOp<unknown>) => op.run());
    this.soloTransaction = db.transaction((op: WriteOp<unknown>) => {
      const value = op.run();
      this.lastSnapshot = this.snapshot();
      return value;
    });
    this.groupTransaction = db.transaction((batch: Pending[]) => {
      for (const pending of batch) this.runOne(pending);
      this.lastSnapshot = this.snapshot();
    });
  }

  submit<T>(op: WriteOp<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (value: unknown) => void, reject, ok: false, value: undefined, error: undefined });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Commit everything queued now (synchronously). Also used by close(). */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.length <= this.maxWritesPerCommit ? this.queue : this.queue.slice(0, this.maxWritesPerCommit);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.maxWritesPerCommit);
      this.commit(batch);
    }
  }

  private commit(batch: Pending[]): void {
    if (batch.length === 1 && batch[0] !== undefined) {
      this.commitAlone(batch[0]);
      return;
    }
    try {
      this.groupTransaction.immediate(batch);
    } catch (error) {
      const failure = unavailable(error);
      for (const pending of batch) pending.reject(pending.ok || !(pending.error instanceof EventStoreError) ? failure : pending.error);
      return;
    }
    this.commits += 1;
    try {
      this.afterCommit(this.lastSnapshot);
    } finally {
      for (const pending of batch) {
        if (pending.ok) pending.resolve(pending.value);
        else pending.reject(pending.error);
      }
    }
  }

  /**
   * A write alone in its group needs no savepoint: the transaction itself is its rollback scope.
   * recover() then runs after the rollback, outside a transaction (it only reads committed rows).
   */
  private commitAlone(pending: Pending): void {
    let value: unknown;
    try {
      value = this.soloTransaction.immediate(pending.op);
    } catch (error) {
      if (pending.op.recover === undefined || !isOpError(error)) {
        pending.reject(isOpError(error) ? error : unavailable(error));
        return;
      }
      try {
        value = pending.op.recover(error);
      } catch (recoverError) {
        pending.reject(recoverError);
        return;
      }
      pending.resolve(value);
      return;
    }
    this.commits += 1;
    try {
      this.afterCommit(this.lastSnapshot);
    } finally {
      pending.resolve(value);
    }
  }

  private runOne(pending: Pending): void {
    try {
      pending.value = this.savepoint(pending.op);
      pending.ok = true;
      return;
    } catch (error) {
      this.abortIfTransactionLost(error);
      if (pending.op.recover === undefined || !isOpError(error)) {
        pending.error = isOpError(error) ? error : unavailable(error);
        return;
      }
      try {
        pending.value = pending.op.recover(error);
        pending.ok = true;
      } catch (recoverError) {
        this.abortIfTransactionLost(recoverError);
        pending.error = recoverError;
      }
    }
  }

  /** SQLite may roll back the whole transaction on I/O errors: then nothing of the group can commit. */
  private abortIfTransactionLost(error: unknown): void {
    if (!this.db.inTransaction) throw error;
  }
}

function unavailable(error: unknown): StoreUnavailableError {
  return new StoreUnavailableError(`Event store commit failed: ${(error as Error).message}`, { cause: error });
}

/**
 * Errors a write raises by itself (typed store errors, or the signals its recover() handles) as
 * opposed to SQLite failures of the transaction (busy, I/O, full), which make the store unavailable.
 */
function isOpError(error: unknown): boolean {
  return !(error instanceof Error) || (error as Error & { code?: unknown }).code === undefined || !String((error as Error & { code?: unknown }).code).startsWith('SQLITE_');
}
