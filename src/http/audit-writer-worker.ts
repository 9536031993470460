/**
 * The audit log's writer thread (see audit-writer.ts): the only connection that writes audit.db.
 * Each batch it is posted is committed in one transaction, whose WAL fsync (synchronous=FULL)
 * blocks this thread instead of the API's event loop, and answered with its id once COMMIT
 * returned. Batches are handled in the order they were posted, so answers come in that order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { batchInserter } from './audit-database.js';
import type { AuditWorkerData, FromAuditWorker, PackedEntries, ToAuditWorker } from './audit-protocol.js';

const port = parentPort;
if (port === null) throw new Error('audit-writer-worker.ts runs as a worker thread');
const post = (message: FromAuditWorker): void => port.postMessage(message);

const { path, busyTimeoutMs } = workerData as AuditWorkerData;
let db: Database.Database | undefined;
let insert: ((entries: PackedEntries) => void) | undefined;
try {
  db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
  // journal_mode=WAL is a property of the file (the audit log set it); synchronous is per connection.
  db.pragma('synchronous = FULL');
  insert = batchInserter(db);
} catch (error) {
  db?.close();
  db = undefined;
  post({ type: 'failed', message: (error as Error).message });
  port.close();
}

if (db !== undefined && insert !== undefined) {
  const connection = db;
  const write = insert;
  port.on('message', (message: ToAuditWorker) => {
    if (message.type === 'close') {
      // The main thread closed its connection first: this one is the last, so the final checkpoint runs here too.
      connection.close();
      port.close();
      return;
    }
    try {
      write(message.entries);
      post({ type: 'committed', id: message.id });
    } catch (error) {
      post({ type: 'rolledBack', id: message.id, message: (error as Error).message });
    }
  });
  post({ type: 'ready' });
}
