/**
 * The audit log's writes off the event loop. audit.db runs synchronous=FULL, so every COMMIT
 * fsyncs its WAL; with one commit per event-loop turn on the main thread that was about 6% of the
 * API's event-loop time under load (POST /scorings). A worker thread (audit-writer-worker.ts)
 * owns the only write connection: each turn's entries are posted to it as one packed batch, it
 * commits them in one transaction and answers with the batch's id. The audit log reads through
 * a connection of its own (WAL readers never wait for the writer), once the batches before the
 * read are answered.
 */
import { resolve as resolvePath } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker, untilReady } from '../shared/spawn-worker.js';
import type { AuditWorkerData, FromAuditWorker, PackedEntries, ToAuditWorker } from './audit-protocol.js';

/** How long close() waits for the worker to finish its last batch and close its connection. */
const CLOSE_TIMEOUT_MS = 10_000;

/** Where the audit log commits each turn's entries. */
export interface AuditSink {
  /** Resolves once the entries are committed; rejects when they were not (they are lost). */
  write(entries: PackedEntries): Promise<void>;
  /** Call once every write has settled. */
  close(): Promise<void>;
}

interface InFlight {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class AuditWriter implements AuditSink {
  #nextId = 1;
  /** Batches posted and not answered yet. */
  readonly #inFlight = new Map<number, InFlight>();
  /** Set once the worker is gone or closing: later writes fail with it. */
  #failure: Error | undefined;
  readonly #exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly onStop: (error: Error) => void,
  ) {
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromAuditWorker) => this.#onMessage(message));
    worker.on('error', (error) => this.#stopped(new Error(`the writer thread failed: ${error.message}`, { cause: error })));
    worker.once('exit', (code) => this.#stopped(new Error(`the writer thread stopped (exit code ${code})`)));
    // Idle, it does not keep the process alive (as the main connection does not); a batch in flight does.
    worker.unref();
  }

  /**
   * Starts the worker on audit.db (which must exist, with its schema); resolves once its
   * connection is open. `onStop` is told if the worker ever goes away other than through close().
   */
  static async start(path: string, onStop: (error: Error) => void): Promise<AuditWriter> {
    const data: AuditWorkerData = { path: resolvePath(path), busyTimeoutMs: 5_000 };
    const worker = spawnModuleWorker(import.meta.url, 'audit-writer-worker', data);
    await untilReady(worker);
    return new AuditWriter(worker, onStop);
  }

  write(entries: PackedEntries): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      this.#inFlight.set(id, { resolve, reject });
      this.worker.ref();
      try {
        this.worker.postMessage({ type: 'write', id, entries } satisfies ToAuditWorker);
      } catch (error) {
        this.#settle(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Closes the worker's connection and waits for the thread to end. */
  async close(): Promise<void> {
    if (this.#failure === undefined) {
      this.#failure = new Error('the audit log is closed');
      this.worker.ref();
      this.worker.postMessage({ type: 'close' } satisfies ToAuditWorker);
      const timer = setTimeout(() => void this.worker.terminate(), CLOSE_TIMEOUT_MS);
      try {
        await this.#exited;
      } finally {
        clearTimeout(timer);
      }
    }
    await this.#exited;
  }

  #onMessage(message: FromAuditWorker): void {
    if (message.type !== 'committed' && message.type !== 'rolledBack') return;
    const inFlight = this.#inFlight.get(message.id);
    if (inFlight === undefined) return;
    this.#settle(message.id);
    if (message.type === 'committed') inFlight.resolve();
    else inFlight.reject(new Error(message.message));
  }

  #settle(id: number): void {
    this.#inFlight.delete(id);
    if (this.#inFlight.size === 0) this.worker.unref();
  }

  #stopped(error: Error): void {
    const unexpected = this.#failure === undefined;
    this.#failure ??= error;
    // Whether these batches committed is unknown: reported as lost rather than written twice.
    for (const [id, inFlight] of [...this.#inFlight]) {
      this.#settle(id);
      inFlight.reject(this.#failure);
    }
    if (unexpected) this.onStop(error);
  }
}
