/** Messages between WalCheckpointer and its worker (plain data). */

/** A WAL this long (4 MB of 4 KB pages) is made to start over (see wal-checkpoint-worker.ts). */
export const RESTART_AFTER_FRAMES = 1_024;

export interface CheckpointWorkerData {
  readonly path: string;
  readonly busyTimeoutMs: number;
}
export type CheckpointerToWorker = { readonly type: 'checkpoint' } | { readonly type: 'close' };
export type FromCheckpointWorker =
  | { readonly type: 'ready' }
  /** `restarted`: the WAL was short enough, or the RESTART got through (the next commit starts it over). */
  | { readonly type: 'checkpointed'; readonly walFrames: number; readonly checkpointed: number; readonly restarted: boolean }
  | { readonly type: 'failed'; readonly message: string };
