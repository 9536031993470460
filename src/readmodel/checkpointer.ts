import type { Logger } from 'pino';
import { WalCheckpointer } from '../shared/wal-checkpointer.js';
import type { ReadModelDatabase } from './database.js';
import { walSyncOf } from './wal-sync.js';

/**
 * Checkpoints of the read-model database on a worker thread (see WalCheckpointer): read models
 * commit a small transaction per handled event on the event loop, so SQLite's own checkpoints
 * stalled it for milliseconds several times a second. Nothing to do for in-memory or non-WAL
 * databases (undefined).
 */
export function startReadModelCheckpointer(db: ReadModelDatabase, options: { readonly logger?: Logger; readonly intervalMs?: number } = {}): WalCheckpointer | undefined {
  const wal = !db.memory && String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
  if (!wal) return undefined;
  return WalCheckpointer.start(
    db.name,
    {
      setAutocheckpoint: (pages) => {
        if (db.open) db.pragma(`wal_autocheckpoint = ${pages}`);
      },
      checkpointBetweenCommits: () => walSyncOf(db).checkpointBetweenCommits(),
    },
    { label: 'read-model', ...options },
  );
}
