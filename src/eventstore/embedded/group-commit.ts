import type Database from 'better-sqlite3';
import { EventStoreError, StoreUnavailableError } from '../errors.js';

/** A write that runs inside the group transaction, in its own savepoint. */
export interface WriteOp<T> {
  /** Throwing rolls back this op only (its savepoint); the others in the group still commit. */
  run(): T;
  /** Called after run() threw and its savepoint was rolled back, still inside the group transaction. */
  recover?(error: unknown): T;
}

/** How one write of a batch ended. */
export type WriteOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export interface BatchResult {
  /** True when a transaction committed (a lone write that failed, even if recovered, commits nothing). */
  readonly committed: boolean;
  /** The snapshot taken inside the committed transaction (meaningless when nothing committed). */
  readonly snapshot: bigint;
  /** One per write, in order. */
  readonly outcomes: readonly WriteOutcome[];
}

interface Pending {
  readonly op: WriteOp<unknown>;
  ok: boolean;
  value: unknown;
  error: unknown;
}

/**
 * Waiting for the write lock in short pauses instead of SQLite's busy handler, whose sleeps grow
 * 1, 2, 5, 10, 15... ms: the checkpoint worker's RESTART holds the lock for 3 to 9 ms a few times
 * a second, and a batch that met one of 9 ms slept 18. For a connection opened with no busy
 * timeout of its own (the commit worker's); blocks its thread.
 */
export interface LockWait {
  readonly timeoutMs: number;
  readonly pauseMs: number;
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * One batch of writes in ONE immediate transaction, so one WAL fsync covers them all. Each write
 * gets a savepoint, so a failing check rolls back only that write (a write alone in its batch
 * needs none). Synchronous: it runs on the thread that owns the connection (the event loop's, or
 * the commit worker's, see commit-thread.ts); `run` returns once COMMIT returned, i.e. durable.
 */
export class BatchTransaction {
  private lastSnapshot = 0n;
  private readonly groupTransaction: Database.Transaction<(batch: Pending[]) => void>;
  private readonly savepoint: Database.Transaction<(op: WriteOp<unknown>) => unknown>;
  private readonly soloTransaction: Database.Transaction<(op: WriteOp<unknown>) => unknown>;

  constructor(
    private readonly db: Database.Database,
    /** Runs inside each transaction after its writes (e.g. read the new head without a separate read transaction). */
    private readonly snapshot: () => bigint,
    /** Undefined: the connection's busy timeout waits for the lock. */
    private readonly lockWait?: LockWait,
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

  run(ops: readonly WriteOp<unknown>[]): BatchResult {
    const [only] = ops;
    if (ops.length === 1 && only !== undefined) return this.runAlone(only);
    const batch: Pending[] = ops.map((op) => ({ op, ok: false, value: undefined, error: undefined }));
    try {
      this.immediate(() => this.groupTransaction.immediate(batch));
    } catch (error) {
      const failure = unavailable(error);
      return {
        committed: false,
        snapshot: this.lastSnapshot,
        outcomes: batch.map((pending) => ({ ok: false, error: pending.ok || !(pending.error instanceof EventStoreError) ? failure : pending.error })),
      };
    }
    return {
      committed: true,
      snapshot: this.lastSnapshot,
      outcomes: batch.map((pending): WriteOutcome => (pending.ok ? { ok: true, value: pending.value } : { ok: false, error: pending.error })),
    };
  }

  /**
   * A write alone in its batch needs no savepoint: the transaction itself is its rollback scope.
   * recover() then runs after the rollback, outside a transaction (it only reads committed rows).
   */
  private runAlone(op: WriteOp<unknown>): BatchResult {
    let value: unknown;
    try {
      value = this.immediate(() => this.soloTransaction.immediate(op));
    } catch (error) {
      if (op.recover === undefined || !isOpError(error)) return this.alone(false, { ok: false, error: isOpError(error) ? error : unavailable(error) });
      try {
        return this.alone(false, { ok: true, value: op.recover(error) });
      } catch (recoverError) {
        return this.alone(false, { ok: false, error: recoverError });
      }
    }
    return this.alone(true, { ok: true, value });
  }

  /** `begin()` (an immediate transaction), again after a short pause while another connection holds the write lock. */
  private immediate<T>(begin: () => T): T {
    const wait = this.lockWait;
    if (wait === undefined) return begin();
    const deadline = performance.now() + wait.timeoutMs;
    for (;;) {
      try {
        return begin();
      } catch (error) {
        // BEGIN IMMEDIATE is the only statement that meets the lock (in WAL mode, writes inside the transaction and COMMIT do not): nothing ran.
        if (!String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY') || performance.now() >= deadline) throw error;
        Atomics.wait(PAUSE, 0, 0, wait.pauseMs);
      }
    }
  }

  private alone(committed: boolean, outcome: WriteOutcome): BatchResult {
    return { committed, snapshot: this.lastSnapshot, outcomes: [outcome] };
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

/** Commits a batch: synchronously on this thread, or asynchronously on another one. */
export type CommitBatch<R> = (batch: readonly R[]) => BatchResult | Promise<BatchResult>;

interface Queued<R> {
  readonly request: R;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: every write submitted in the same turn of the event loop is flushed (on
 * setImmediate) as ONE batch (one transaction, one WAL fsync, see BatchTransaction). Promises
 * settle after COMMIT returned, i.e. once the batch is durable. setImmediate rather than a
 * microtask: it also groups writes issued by different I/O callbacks of the same loop iteration.
 * When the batch commits on another thread, one batch is in flight at a time: writes submitted
 * meanwhile form the next batch, in submission order.
 */
export class GroupCommitter<R> {
  private queue: Queued<R>[] = [];
  private scheduled = false;
  private inFlightBatches = 0;
  private inFlightWrites = 0;
  /** Settles after the newest batch in flight (batches settle in order). */
  private lastInFlight: Promise<void> = Promise.resolve();
  /** Transactions committed so far (diagnostics: appends per commit = group-commit efficiency). */
  commits = 0;

  constructor(
    private readonly commitBatch: CommitBatch<R>,
    /** Runs after each successful COMMIT with the snapshot, before the promises settle. */
    private readonly afterCommit: (snapshot: bigint) => void,
    private readonly maxWritesPerCommit = 1_000,
    /** Batches handed to an asynchronous commitBatch and not yet settled, at most (they commit in order). */
    private readonly maxInFlight = 1,
  ) {}

  submit<T>(request: R): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ request, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Writes not yet committed (queued or in flight). */
  get pending(): number {
    return this.queue.length + this.inFlightWrites;
  }

  /** Commits everything queued, and waits for the batches in flight. Used by close(). */
  async drain(): Promise<void> {
    for (;;) {
      if (this.inFlightBatches > 0) await this.lastInFlight;
      else if (this.queue.length > 0) this.flush();
      else return;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlightBatches >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0 && this.inFlightBatches < this.maxInFlight) {
      const batch = this.queue.length <= this.maxWritesPerCommit ? this.queue : this.queue.slice(0, this.maxWritesPerCommit);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.maxWritesPerCommit);
      let result: BatchResult | Promise<BatchResult>;
      try {
        result = this.commitBatch(batch.map((queued) => queued.request));
      } catch (error) {
        this.fail(batch, error);
        continue;
      }
      if (result instanceof Promise) this.inFlight(batch, result);
      else this.settle(batch, result);
    }
  }

  private inFlight(batch: readonly Queued<R>[], result: Promise<BatchResult>): void {
    this.inFlightBatches += 1;
    this.inFlightWrites += batch.length;
    this.lastInFlight = result
      .then(
        (settled) => this.settle(batch, settled),
        (error: unknown) => this.fail(batch, error),
      )
      .catch((error: unknown) => process.emitWarning(`Event store group commit: ${(error as Error).message}`))
      .then(() => {
        this.inFlightBatches -= 1;
        this.inFlightWrites -= batch.length;
        if (this.queue.length > 0) this.schedule();
      });
  }

  private settle(batch: readonly Queued<R>[], result: BatchResult): void {
    try {
      if (result.committed) {
        this.commits += 1;
        this.afterCommit(result.snapshot);
      }
    } finally {
      batch.forEach((queued, i) => {
        const outcome = result.outcomes[i];
        if (outcome === undefined) queued.reject(new StoreUnavailableError('Event store commit lost a write'));
        else if (outcome.ok) queued.resolve(outcome.value);
        else queued.reject(outcome.error);
      });
    }
  }

  private fail(batch: readonly Queued<R>[], error: unknown): void {
    const failure = error instanceof EventStoreError ? error : unavailable(error);
    for (const queued of batch) queued.reject(failure);
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
