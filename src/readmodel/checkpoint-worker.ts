/**
 * The checkpoint worker of the read-model database (see checkpointer.ts): its own connection to
 * the file, on which it runs a PASSIVE checkpoint whenever asked, so that copying the WAL into the
 * database and the fsyncs that go with it happen on this thread, not on the engine's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointerToWorker, CheckpointWorkerData, FromCheckpointWorker } from './checkpoint-protocol.js';

const port = parentPort;
if (port === null) throw new Error('checkpoint-worker.ts runs as a worker thread');
const post = (message: FromCheckpointWorker): void => port.postMessage(message);
const { path, busyTimeoutMs } = workerData as CheckpointWorkerData;

let db: Database.Database | undefined;
try {
  db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
  db.pragma('synchronous = FULL');
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'failed', message: (error as Error).message });
  port.close();
}

if (db !== undefined) {
  const connection = db;
  port.on('message', (message: CheckpointerToWorker) => {
    if (message.type === 'close') {
      connection.close();
      port.close();
      return;
    }
    try {
      const [result] = connection.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      post({ type: 'checkpointed', walFrames: result?.log ?? 0, checkpointed: result?.checkpointed ?? 0 });
    } catch (error) {
      post({ type: 'failed', message: (error as Error).message });
    }
  });
}
