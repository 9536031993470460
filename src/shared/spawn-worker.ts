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
