import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * A worker thread running the module `name` (without extension) next to `callerUrl`: the compiled
 * `.js`, or, when the engine runs from TypeScript sources (tsx, vitest), the `.ts` entry with
 * tsx's loader registered in the worker first (a worker thread does not inherit the loader hooks
 * of its parent on Node 20).
 */
export function spawnModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const hooks = pathToFileURL(createRequire(callerUrl).resolve('tsx/esm')).href;
  const bootstrap = `require('node:module').register(${JSON.stringify(hooks)}, { data: {} });\nimport(${JSON.stringify(entry)});`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * Resolves once `worker` posts `{ type: 'ready' }` (its connection is open). Rejects, after
 * terminating it, when it posts `{ type: 'failed', message }` or anything else first, fails, or
 * exits before that.
 */
export async function untilReady(worker: Worker): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onMessage = (message: { readonly type: string; readonly message?: string }): void => {
      cleanup();
      if (message.type === 'ready') resolve();
      else reject(new Error(message.type === 'failed' ? String(message.message) : `unexpected first message '${message.type}'`));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`exited with code ${code} before it was ready`));
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
}
