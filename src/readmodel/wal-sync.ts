import { closeSync, fdatasync, openSync } from 'node:fs';
import type { ReadModelDatabase } from './database.js';

interface Waiter {
  readonly upTo: number;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Durable read-model commits without an fsync on the event loop.
 *
 * The read-model database runs synchronous=FULL: every COMMIT fsyncs the WAL on the calling
 * thread, which on this kind of disk stalls the event loop for about a millisecond per commit.
 * Handlers commit many small transactions (one per handled event and group), so those stalls
 * were the engine's bottleneck. `commit(fn)` runs the transaction under synchronous=NORMAL (no
 * fsync in COMMIT: the frames are in the WAL, safe from a process crash, not yet from a power
 * loss) and `durable()` resolves once an fdatasync of the WAL, run in libuv's pool, has covered
 * every commit made before the call: the same bytes reach the disk as with FULL, and concurrent
 * callers share one fdatasync. Whoever acknowledges an effect (the subscription runner before
 * acking a message, a transport before reporting an e-mail sent) awaits `durable()` first.
 *
 * Why the WAL's fdatasync equals FULL: in WAL mode a transaction is committed once its frames
 * (with the commit flag) are in the WAL; FULL only adds the WAL sync at COMMIT. Checkpoints under
 * NORMAL still sync the WAL before copying it into the database file. The WAL keeps its inode
 * while any connection is open (SQLite deletes it only when the last connection closes), so the
 * descriptor opened here stays the live file.
 *
 * Where there is no WAL file (in memory, another journal mode), commits keep the connection's own
 * synchronous level and `durable()` resolves at once.
 *
 * Turn batches (`enableTurnBatches()`, what the engine runs with): the commits of one event-loop
 * turn share ONE SQLite transaction. The first commit opens it (BEGIN IMMEDIATE), each
 * transaction runs in it as a savepoint (a failing one is undone alone), and it commits on
 * setImmediate. A COMMIT costs far more than the work of a typical handler (locks, WAL frames of
 * the pages every commit touches: handled_events, the counters), and every event reaches some
 * ten groups. Meanwhile: the connection's own readers see the batch (other connections see it
 * once it commits); `durable()` waits for the batch to commit and then for the fdatasync; writes
 * that acknowledge something themselves (API keys, rebuild swaps) run `outsideBatch`, which
 * commits the open batch first, then runs them at the connection's own level. A batch that fails
 * to commit (SQLite rolled back the work of every transaction in it) fails every `durable()` from
 * then on: acks stop, groups pause, readiness fails, and a restart redelivers what was lost.
 */
export class WalSync {
  /** The connection's own synchronous level, restored after each commit. */
  readonly #synchronous: number;
  /** The statement that restores it. */
  readonly #restore: string;
  /** The WAL's descriptor; undefined until the first commit opens it, null when there is none. */
  #wal: number | null | undefined;
  /** Commits made, and how many of them an fdatasync has covered. */
  #committed = 0;
  /** Commits whose transaction has committed (in a turn batch: the batch has). */
  #closed = 0;
  #synced = 0;
  #syncing = false;
  #waiting: Waiter[] = [];
  #turnBatches = false;
  #batchOpen = false;
  /** Transactions of the batch running right now (nested ones included). */
  #runningInBatch = 0;
  /** The checkpointer could not make the WAL start over (see checkpointBetweenCommits). */
  #checkpointWanted = false;
  /** Set when a turn batch failed: sticky (see the class comment). */
  #failure: Error | undefined;
  readonly #closeBatch = (): void => this.#commitBatch();

  constructor(private readonly db: ReadModelDatabase) {
    this.#synchronous = Number(db.pragma('synchronous', { simple: true }));
    this.#restore = `PRAGMA synchronous = ${this.#synchronous}`;
    this.#wal = db.memory || String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal' ? null : undefined;
  }

  /**
   * Runs `transaction` (a better-sqlite3 transaction function, or anything that commits once)
   * without an fsync in its COMMIT. Inside an outer transaction it simply runs: the outer
   * COMMIT decides. Durable after `durable()` resolves.
   */
  commit<T>(transaction: () => T): T {
    if (this.#batchOpen) return this.#inBatch(transaction);
    if (this.db.inTransaction) return transaction();
    const wal = this.#walFd();
    if (wal === null) return transaction();
    if (this.#turnBatches) {
      this.#openBatch();
      return this.#inBatch(transaction);
    }
    // The pragma is per connection and nothing else runs on it meanwhile (one thread). exec, not
    // db.pragma(): no statement object to build and iterate, a fifth of the cost per commit.
    this.db.exec('PRAGMA synchronous = NORMAL');
    try {
      return transaction();
    } finally {
      this.db.exec(this.#restore);
      this.#committed += 1;
      this.#closed = this.#committed;
    }
  }

  /** From now on the commits of one event-loop turn share one transaction (see the class comment). */
  enableTurnBatches(): void {
    this.#turnBatches = true;
  }

  /**
   * Asked by the checkpointer when the WAL stays long because this connection's batches never
   * leave the write lock free for its worker: after the next batch commits, a PASSIVE checkpoint
   * runs here (the worker has copied nearly everything: the frames since, and two fsyncs), and
   * with no commit in between the next batch starts the WAL over.
   */
  checkpointBetweenCommits(): void {
    this.#checkpointWanted = true;
  }

  /** The failure of a turn batch, if one failed (sticky). */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Runs `write` outside any turn batch: the open batch commits first, then `write` commits on
   * its own at the connection's level (FULL: durable when it returns). For writes that answer a
   * caller at once rather than through the runner's ack.
   */
  outsideBatch<T>(write: () => T): T {
    // Called from inside a transaction of the batch (a handler's effect), it cannot commit the
    // batch under it: the write joins the batch, and the handler's ack waits for durable().
    if (this.#runningInBatch === 0) this.#commitBatch();
    return write();
  }

  #openBatch(): void {
    this.db.exec('PRAGMA synchronous = NORMAL');
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      this.db.exec(this.#restore);
      throw error;
    }
    this.#batchOpen = true;
    setImmediate(this.#closeBatch);
  }

  #inBatch<T>(transaction: () => T): T {
    this.#runningInBatch += 1;
    try {
      const result = transaction();
      this.#committed += 1;
      return result;
    } finally {
      this.#runningInBatch -= 1;
      // A failure SQLite answers with a rollback of the whole transaction (I/O error, disk full)
      // took every earlier transaction of the batch with it.
      if (!this.db.inTransaction) this.#batchFailed(new Error('Read-model database: the turn batch was rolled back by SQLite'));
    }
  }

  #commitBatch(): void {
    if (!this.#batchOpen) return;
    try {
      this.db.exec('COMMIT');
      this.#closed = this.#committed;
      if (this.#checkpointWanted) this.#checkpointHere();
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.#batchFailed(error instanceof Error ? error : new Error(String(error)));
      return;
    } finally {
      this.#endBatch();
    }
    if (this.#waiting.length > 0) this.#sync();
  }

  #checkpointHere(): void {
    this.#checkpointWanted = false;
    try {
      this.db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      // Busy (the worker is at it): the worker asks again if the WAL stays long.
    }
  }

  #endBatch(): void {
    if (!this.#batchOpen) return;
    this.#batchOpen = false;
    if (this.db.open) this.db.exec(this.#restore);
  }

  #batchFailed(cause: Error): void {
    this.#endBatch();
    this.#failure ??= new Error(`Read-model database: a batch of handler effects failed to commit (${cause.message}); restart to redeliver them`, { cause });
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failure);
  }

  /** Resolves when every commit made before this call is on disk. */
  durable(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const upTo = this.#committed;
    if (this.#synced >= upTo) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ upTo, resolve, reject });
      // An open batch starts the sync when it commits.
      if (!this.#batchOpen) this.#sync();
    });
  }

  /** Waits for pending syncs, then lets go of the WAL (the database is closing). */
  async close(): Promise<void> {
    this.#commitBatch();
    // A sync may restart for commits made while the last one ran: never close the descriptor under it.
    if (this.#failure === undefined) {
      do await this.durable();
      while (this.#syncing);
    } else {
      while (this.#syncing) await new Promise((resolve) => setImmediate(resolve));
    }
    if (typeof this.#wal === 'number') closeSync(this.#wal);
    this.#wal = null;
  }

  #walFd(): number | null {
    if (this.#wal === undefined) {
      try {
        this.#wal = openSync(`${this.db.name}-wal`, 'r+');
      } catch {
        this.#wal = null; // no WAL file to sync: commit with the connection's own fsync
      }
    }
    return this.#wal;
  }

  /** One fdatasync at a time; commits made while one runs are covered by the next. */
  #sync(): void {
    if (this.#syncing || typeof this.#wal !== 'number') {
      if (typeof this.#wal !== 'number') this.#settle(this.#closed);
      return;
    }
    const upTo = this.#closed;
    if (upTo <= this.#synced) return;
    this.#syncing = true;
    fdatasync(this.#wal, (error) => {
      this.#syncing = false;
      if (error) {
        const failure = new Error(`Read-model database: fdatasync of the WAL failed: ${error.message}`);
        for (const waiter of this.#waiting.splice(0)) waiter.reject(failure);
        return;
      }
      this.#settle(upTo);
      if (this.#waiting.length > 0) this.#sync();
    });
  }

  #settle(upTo: number): void {
    this.#synced = Math.max(this.#synced, upTo);
    const still: Waiter[] = [];
    for (const waiter of this.#waiting) {
      if (waiter.upTo <= this.#synced) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiting = still;
  }
}

const byDatabase = new WeakMap<ReadModelDatabase, WalSync>();

/** The one WalSync of `db` (created on first use). */
export function walSyncOf(db: ReadModelDatabase): WalSync {
  let sync = byDatabase.get(db);
  if (sync === undefined) {
    sync = new WalSync(db);
    byDatabase.set(db, sync);
  }
  return sync;
}
