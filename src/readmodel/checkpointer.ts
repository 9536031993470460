import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { spawnModuleWorker } from '../shared/spawn-worker.js';
import { RESTART_AFTER_FRAMES, type CheckpointerToWorker, type CheckpointWorkerData, type FromCheckpointWorker } from './checkpoint-protocol.js';
import type { ReadModelDatabase } from './database.js';
import { walSyncOf } from './wal-sync.js';

/** SQLite's own default threshold, restored whenever the worker is not there to checkpoint. */
const AUTOCHECKPOINT_PAGES = 1_000;
const DEFAULT_INTERVAL_MS = 250;

/**
 * WAL checkpoints of the read-model database off the event loop.
 *
 * SQLite checkpoints automatically inside the COMMIT that pushes the WAL past 1,000 pages: it
 * copies the WAL into the database file and fsyncs both, on the committing thread. Read models
 * commit a small transaction per handled event, so that happened several times a second on the
 * event loop, stalling it for milliseconds each time. Here the connection's auto-checkpoint is off
 * and a worker thread with its own connection runs a PASSIVE checkpoint (it never blocks readers
 * or writers) every `intervalMs`. If the worker cannot start or fails, the connection's
 * auto-checkpoint comes back, so the WAL never grows without bound.
 */
export class ReadModelCheckpointer {
  readonly #db: ReadModelDatabase;
  readonly #logger: Logger | undefined;
  #worker: Worker | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #exited: Promise<void> = Promise.resolve();

  private constructor(db: ReadModelDatabase, logger: Logger | undefined) {
    this.#db = db;
    this.#logger = logger;
  }

  /** Starts checkpointing `db` from a worker; a no-op for in-memory or non-WAL databases. */
  static start(db: ReadModelDatabase, options: { readonly logger?: Logger; readonly intervalMs?: number } = {}): ReadModelCheckpointer {
    const checkpointer = new ReadModelCheckpointer(db, options.logger);
    const wal = !db.memory && String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
    if (wal) checkpointer.#spawn(options.intervalMs ?? DEFAULT_INTERVAL_MS);
    return checkpointer;
  }

  #spawn(intervalMs: number): void {
    const data: CheckpointWorkerData = { path: this.#db.name, busyTimeoutMs: 5_000 };
    const worker = spawnModuleWorker(import.meta.url, 'checkpoint-worker', data);
    this.#worker = worker;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromCheckpointWorker) => {
      if (message.type === 'ready') {
        this.#db.pragma('wal_autocheckpoint = 0');
        this.#timer = setInterval(() => this.#checkpoint(), intervalMs).unref();
      } else if (message.type === 'checkpointed') {
        this.#busy = false;
        if (message.walFrames >= RESTART_AFTER_FRAMES) walSyncOf(this.#db).requestRestart();
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
    this.#post({ type: 'checkpoint' });
  }

  #post(message: CheckpointerToWorker): void {
    this.#worker?.postMessage(message);
  }

  /** Back to SQLite's own checkpoints on the committing connection. */
  #fallBack(error: Error): void {
    if (this.#worker === undefined) return;
    this.#logger?.warn({ err: error }, 'read-model checkpoint worker failed: checkpointing on the event loop again');
    this.#release();
    void this.#worker.terminate();
    this.#worker = undefined;
  }

  #release(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }

  /** Stops the worker (after the checkpoint it may be running) and gives checkpoints back to the connection. */
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
