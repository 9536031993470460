/**
 * The audit log's writer thread (see audit-writer.ts): the only connection that writes audit.db.
 * The batches it is posted are committed in one transaction (those queued since the last one,
 * each in a savepoint), whose WAL fsync (synchronous=FULL) blocks this thread instead of the API's
 * event loop, and each is answered with its id once COMMIT returned. Batches are handled in the
 * order they were posted, so answers come in that order.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
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
  // `write` is a transaction function: inside this one, each batch is a savepoint, undone alone when it fails.
  const writeAll = connection.transaction((batches: readonly PackedEntries[]): (Error | undefined)[] =>
    batches.map((entries) => {
      try {
        write(entries);
        return undefined;
      } catch (error) {
        return error as Error;
      }
    }),
  );
  const close = (): void => {
    // The main thread closed its connection first: this one is the last, so the final checkpoint runs here too.
    connection.close();
    port.close();
  };
  port.on('message', (first: ToAuditWorker) => {
    if (first.type === 'close') return close();
    // The batches that queued up during the last commit share this one: one fsync for all of them,
    // rather than one each (a busy API posts a batch per turn, faster than a disk syncs).
    const batches: Extract<ToAuditWorker, { type: 'write' }>[] = [first];
    let closing = false;
    for (let queued = receiveMessageOnPort(port); queued !== undefined; queued = receiveMessageOnPort(port)) {
      const message = queued.message as ToAuditWorker;
      if (message.type === 'close') {
        closing = true;
        break;
      }
      batches.push(message);
    }
    let failures: (Error | undefined)[];
    try {
      failures = writeAll(batches.map((batch) => batch.entries));
    } catch (error) {
      failures = batches.map(() => error as Error);
    }
    batches.forEach((batch, i) => {
      const failure = failures[i];
      post(failure === undefined ? { type: 'committed', id: batch.id } : { type: 'rolledBack', id: batch.id, message: failure.message });
    });
    if (closing) close();
  });
  post({ type: 'ready' });
}
