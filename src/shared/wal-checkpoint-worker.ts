/**
 * The checkpoint worker of a WAL-mode SQLite database (see wal-checkpointer.ts): its own
 * connection to the file, on which it runs a PASSIVE checkpoint whenever asked, so that copying
 * the WAL into the database and the fsyncs that go with it happen on this thread, not on the
 * committing one.
 *
 * A PASSIVE checkpoint never blocks the writer, and so, under a steady stream of commits, never
 * lets the WAL start over: the WAL only rewinds when a write begins with every frame already
 * copied, and there is always a newer commit. It then grows without bound (160 MB in 25 s of the
 * flow benchmark, for the read models), and every commit and read pays for the longer WAL index.
 * So once the WAL holds RESTART_AFTER_FRAMES, the next checkpoint is a RESTART: after the PASSIVE
 * pass has copied nearly everything, it holds writers off for the few frames left and the
 * database fsync, so the next commit starts the WAL over (journal_size_limit then trims the
 * file). A writer that never lets go of its lock starves the RESTART too: the checkpointer then
 * asks the committing connection to finish the job between two of its transactions.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { RESTART_AFTER_FRAMES, type CheckpointerToWorker, type CheckpointWorkerData, type FromCheckpointWorker } from './wal-checkpoint-protocol.js';

const port = parentPort;
if (port === null) throw new Error('wal-checkpoint-worker.ts runs as a worker thread');
const post = (message: FromCheckpointWorker): void => port.postMessage(message);
const { path, busyTimeoutMs } = workerData as CheckpointWorkerData;


interface CheckpointResult {
  readonly busy: number;
  readonly log: number;
  readonly checkpointed: number;
}

const RESTART_BUSY_TIMEOUT_MS = 20;

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
      let [result] = connection.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[];
      let restarted = true;
      if ((result?.log ?? 0) >= RESTART_AFTER_FRAMES) {
        // Waits for the writer only briefly: a busy writer is asked to finish the job instead.
        connection.pragma(`busy_timeout = ${RESTART_BUSY_TIMEOUT_MS}`);
        try {
          [result] = connection.pragma('wal_checkpoint(RESTART)') as CheckpointResult[];
        } finally {
          connection.pragma(`busy_timeout = ${busyTimeoutMs}`);
        }
        // The log keeps its length until the next commit rewinds it: busy is what says the RESTART did not get through.
        restarted = result !== undefined && result.busy === 0 && result.checkpointed === result.log;
      }
      post({ type: 'checkpointed', walFrames: result?.log ?? 0, checkpointed: result?.checkpointed ?? 0, restarted });
    } catch (error) {
      post({ type: 'failed', message: (error as Error).message });
    }
  });
}
