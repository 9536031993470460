/** Messages between the read-model checkpointer and its worker (plain data). */
export interface CheckpointWorkerData {
  readonly path: string;
  readonly busyTimeoutMs: number;
}
export type CheckpointerToWorker = { readonly type: 'checkpoint' } | { readonly type: 'close' };
export type FromCheckpointWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'checkpointed'; readonly walFrames: number; readonly checkpointed: number }
  | { readonly type: 'failed'; readonly message: string };
