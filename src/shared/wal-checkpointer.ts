import { resolve as resolvePath } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { spawnModuleWorker } from './spawn-worker.js';
import { type CheckpointerToWorker, type CheckpointWorkerData, type FromCheckpointWorker } from './wal-checkpoint-protocol.js';

/** SQLite's own default threshold, given back whenever the worker is not there to checkpoint. */
export const AUTOCHECKPOINT_PAGES = 1_000;
const DEFAULT_INTERVAL_MS = 250;

/** What the checkpointer needs from the connection that commits to the database. */
export interface CommittingConnection {
  /** Sets that connection's `wal_autocheckpoint` (0 while the worker checkpoints, AUTOCHECKPOINT_PAGES after). */
  setAutocheckpoint(pages: number): void;
  /** The WAL stays long because the committer never lets go of the write lock: checkpoint on that connection between two of its transactions. */
  checkpointBetweenCommits(): void;
}

export interface WalCheckpointerOptions {
  readonly logger?: Logger;
  readonly intervalMs?: number;
  /** Names the database in log lines ('read-model', 'event store'). */
  readonly label: string;
}

/**
 * WAL checkpoints of a SQLite database off the committing thread.
 *
 * SQLite checkpoints automatically inside the COMMIT that pushes the WAL past 1,000 pages: it
 * copies the WAL into the database file and fsyncs both, on the committing thread, while every
 * commit behind it waits. Under load that was several times a second: on the read models it
 * stalled the event loop, on the event store it held up the group commit (POST /scorings went
 * from about 5,200 to 4,000 req/s). Here the committing connection's auto-checkpoint is off and a
 * worker thread with its own connection runs a PASSIVE checkpoint (it never blocks readers or
 * writers) every `intervalMs`. If the worker cannot start or fails, the connection's
 * auto-checkpoint comes back, so the WAL never grows without bound.
 */
export class WalCheckpointer {
  readonly #committer: CommittingConnection;
  readonly #logger: Logger | undefined;
  readonly #label: string;
  #worker: Worker | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #tookOver = false;
  #exited: Promise<void> = Promise.resolve();

  private constructor(committer: CommittingConnection, options: WalCheckpointerOptions) {
    this.#committer = committer;
    this.#logger = options.logger;
    this.#label = options.label;
  }

  /** Starts checkpointing the WAL-mode database file at `path`, whose commits `committer` makes. */
  static start(path: string, committer: CommittingConnection, options: WalCheckpointerOptions): WalCheckpointer {
    const checkpointer = new WalCheckpointer(committer, options);
    checkpointer.#spawn(resolvePath(path), options.intervalMs ?? DEFAULT_INTERVAL_MS);
    return checkpointer;
  }

  #spawn(path: string, intervalMs: number): void {
    const data: CheckpointWorkerData = { path, busyTimeoutMs: 5_000 };
    const worker = spawnModuleWorker(import.meta.url, 'wal-checkpoint-worker', data);
    this.#worker = worker;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromCheckpointWorker) => {
      if (message.type === 'ready') {
        this.#committer.setAutocheckpoint(0);
        this.#tookOver = true;
        this.#timer = setInterval(() => this.#checkpoint(), intervalMs).unref();
      } else if (message.type === 'checkpointed') {
        this.#busy = false;
        if (!message.restarted) this.#committer.checkpointBetweenCommits();
      } else {
        this.#fallBack(new Error(message.message));
      }
    });
    worker.on('error', (error) => this.#fallBack(error));
    worker.on('exit', () => {
      if (this.#worker === worker) this.#fallBack(new Error('the checkpoint worker exited'));
    });
    worker.unref();
  }

  #checkpoint(): void {
    if (this.#busy || this.#worker === undefined) return;
    this.#busy = true;
    this.#worker.postMessage({ type: 'checkpoint' } satisfies CheckpointerToWorker);
  }

  /** Back to SQLite's own checkpoints on the committing connection. */
  #fallBack(error: Error): void {
    if (this.#worker === undefined) return;
    this.#logger?.warn({ err: error }, `${this.#label} checkpoint worker failed: the committing connection checkpoints again`);
    this.#release();
    void this.#worker.terminate();
    this.#worker = undefined;
  }

  #release(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tookOver) this.#committer.setAutocheckpoint(AUTOCHECKPOINT_PAGES);
    this.#tookOver = false;
  }

  /** Stops the worker (after the checkpoint it may be running) and gives checkpoints back to the committing connection. */
  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#release();
    if (worker === undefined) return;
    worker.ref(); // keep the process alive until the worker has closed its connection
    worker.postMessage({ type: 'close' } satisfies CheckpointerToWorker);
    await this.#exited;
  }
}
