/**
 * The commit worker of a file-backed embedded store (see commit-thread.ts): its own connection
 * to the store's file, on which it runs each batch the store posts in ONE immediate transaction
 * (BatchTransaction: savepoints, checks, the WAL fsync of synchronous=FULL) and answers with the
 * outcomes once COMMIT returned. The fsync blocks this thread, not the store's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type CommitWorkerData, type FromWorker, type ToWorker, serialiseOutcome, unpackBatch } from './commit-protocol.js';
import { StoreUnavailableError } from '../errors.js';
import { type BatchResult, BatchTransaction } from './group-commit.js';
import { EventQueries } from './queries.js';
import { type WriteRequest, writeOp } from './writes.js';

const port = parentPort;
if (port === null) throw new Error('commit-worker.ts runs as a worker thread');
const post = (message: FromWorker): void => port.postMessage(message);

const { path, busyTimeoutMs } = workerData as CommitWorkerData;
let db: Database.Database | undefined;
try {
  // No busy timeout: BatchTransaction waits for the write lock itself, in short pauses (LockWait).
  db = new Database(path, { fileMustExist: true, timeout: 0 });
  // journal_mode=WAL is a property of the file (the store set it); synchronous is per connection.
  db.pragma('synchronous = FULL');
  db.pragma('journal_size_limit = 67108864');
  db.pragma('temp_store = MEMORY');
  db.defaultSafeIntegers(true);
} catch (error) {
  db?.close();
  db = undefined;
  post({ type: 'failed', message: (error as Error).message });
  port.close();
}

if (db !== undefined) {
  const connection = db;
  const queries = new EventQueries(connection);
  const transaction = new BatchTransaction(connection, () => queries.headSeq(), { timeoutMs: busyTimeoutMs, pauseMs: 0.2 });
  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      connection.close();
      port.close();
      return;
    }
    if (message.type === 'autocheckpoint') {
      connection.pragma(`wal_autocheckpoint = ${message.pages}`);
      return;
    }
    if (message.type === 'checkpoint') {
      try {
        connection.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Best effort: the checkpoint worker asks again while the WAL stays long.
      }
      return;
    }
    let result: BatchResult;
    let batch: WriteRequest[] = [];
    try {
      batch = unpackBatch(message.batch);
      result = transaction.run(batch.map((request) => writeOp(queries, request)));
    } catch (error) {
      const failure = new StoreUnavailableError(`Event store commit failed: ${(error as Error).message}`);
      result = { committed: false, snapshot: 0n, outcomes: batch.map(() => ({ ok: false, error: failure })) };
    }
    post({ type: 'result', id: message.id, committed: result.committed, snapshot: result.snapshot, outcomes: result.outcomes.map(serialiseOutcome) });
  });
  post({ type: 'ready' });
}
