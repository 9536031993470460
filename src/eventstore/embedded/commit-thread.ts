/**
 * Group commit off the event loop. With synchronous=FULL every COMMIT fsyncs the WAL, which takes
 * milliseconds on real disks; run on the event loop, that stalls every request in the process.
 * A file-backed store therefore commits on a worker thread (commit-worker.ts) with its own
 * connection to the same file: the store posts each batch (plain data, writes.ts WriteRequest),
 * the worker runs it in one transaction exactly as the store itself would (BatchTransaction) and
 * answers after COMMIT returned. The store resolves the appends then, so an append that resolved
 * is durable, and since the store's own connection only sees a commit once it is complete, no
 * reader ever sees an event that is not yet on disk. One batch is in flight at a time.
 *
 * WAL checkpoints run on a third thread (WalCheckpointer): left to SQLite, every 1,000 pages one
 * COMMIT also copied the WAL into the database and fsynced it, holding up every batch behind it
 * (about a quarter of POST /scorings' throughput).
 */
import { resolve as resolvePath } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker, untilReady } from '../../shared/spawn-worker.js';
import { type CommittingConnection, WalCheckpointer } from '../../shared/wal-checkpointer.js';
import { StoreUnavailableError } from '../errors.js';
import { type CommitWorkerData, type FromWorker, type ToWorker, deserialiseResult, packBatch } from './commit-protocol.js';
import type { BatchResult } from './group-commit.js';
import type { WriteRequest } from './writes.js';

/** How long close() waits for the worker to finish its last batch and close its connection. */
const CLOSE_TIMEOUT_MS = 10_000;

/** The worker: commit-worker.ts (or .js, compiled) next to this module. */
function spawn(data: CommitWorkerData): Worker {
  return spawnModuleWorker(import.meta.url, 'commit-worker', data);
}

interface InFlight {
  readonly id: number;
  readonly resolve: (result: BatchResult) => void;
  readonly reject: (error: unknown) => void;
}

export class CommitThread implements CommittingConnection {
  private nextId = 1;
  /** Batches posted and not answered yet, oldest first (the worker answers in order). */
  private readonly inFlight = new Map<number, InFlight>();
  private failure: Error | undefined;
  private readonly exited: Promise<void>;
  private checkpointer: WalCheckpointer | undefined;

  private constructor(private readonly worker: Worker) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (error) => this.die(new StoreUnavailableError(`The event store's commit thread failed: ${error.message}`, { cause: error })));
    worker.once('exit', (code) => this.die(new StoreUnavailableError(`The event store's commit thread stopped (exit code ${code})`)));
    // Idle, it does not keep the process alive (as the store's own connection does not); a batch in flight does.
    worker.unref();
  }

  /** Starts the worker on the store's file; resolves once its connection is open. */
  static async start(path: string, busyTimeoutMs: number, checkpointIntervalMs?: number): Promise<CommitThread> {
    const worker = spawn({ path: resolvePath(path), busyTimeoutMs });
    await untilReady(worker).catch((error: unknown) => {
      throw new StoreUnavailableError(`Cannot start the event store's commit thread: ${(error as Error).message}`, { cause: error });
    });
    const thread = new CommitThread(worker);
    thread.checkpointer = WalCheckpointer.start(path, thread, { label: 'event store', ...(checkpointIntervalMs !== undefined ? { intervalMs: checkpointIntervalMs } : {}) });
    return thread;
  }

  setAutocheckpoint(pages: number): void {
    if (this.failure === undefined) this.worker.postMessage({ type: 'autocheckpoint', pages } satisfies ToWorker);
  }

  checkpointBetweenCommits(): void {
    if (this.failure === undefined) this.worker.postMessage({ type: 'checkpoint' } satisfies ToWorker);
  }

  /** Commits the batch on the worker; resolves once it is durable (or failed as a whole). */
  commit(batch: readonly WriteRequest[]): Promise<BatchResult> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<BatchResult>((resolve, reject) => {
      this.inFlight.set(id, { id, resolve, reject });
      this.worker.ref();
      try {
        this.worker.postMessage({ type: 'commit', id, batch: packBatch(batch) } satisfies ToWorker);
      } catch (error) {
        this.settle(id);
        reject(new StoreUnavailableError(`Cannot hand a batch to the commit thread: ${(error as Error).message}`, { cause: error }));
      }
    });
  }

  /** Closes the worker's connection and waits for the thread to end (call once no batch is in flight: see GroupCommitter.drain). */
  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.failure === undefined) {
      this.failure = new StoreUnavailableError('The event store was closed');
      this.worker.ref();
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => void this.worker.terminate(), CLOSE_TIMEOUT_MS);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    await this.exited;
  }

  private onMessage(message: FromWorker): void {
    if (message.type !== 'result') return;
    const inFlight = this.inFlight.get(message.id);
    if (inFlight === undefined) return;
    this.settle(message.id);
    inFlight.resolve(deserialiseResult(message));
  }

  private settle(id: number): void {
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.worker.unref();
  }

  private die(error: Error): void {
    this.failure ??= error;
    // Whether these batches committed is unknown: their writes fail as unavailable (as with a lost connection).
    for (const [id, inFlight] of [...this.inFlight]) {
      this.settle(id);
      inFlight.reject(this.failure);
    }
  }
}
