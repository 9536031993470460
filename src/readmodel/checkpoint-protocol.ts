/** Messages between the read-model checkpointer and its worker (plain data). */

/** A WAL this long (4 MB of 4 KB pages) is made to start over (see checkpoint-worker.ts). */
export const RESTART_AFTER_FRAMES = 1_024;

export interface CheckpointWorkerData {
  readonly path: string;
  readonly busyTimeoutMs: number;
}
export type CheckpointerToWorker = { readonly type: 'checkpoint' } | { readonly type: 'close' };
export type FromCheckpointWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'checkpointed'; readonly walFrames: number; readonly checkpointed: number }
  | { readonly type: 'failed'; readonly message: string };
