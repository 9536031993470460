import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * Runs `bench/<script> <args…>` in a fresh Node process (so earlier allocations do not pollute a
 * memory figure), forwards its stderr lines to `log`, and resolves with the JSON object on the
 * last line of its stdout once `isResult` accepts it.
 */
export function runMeasuringChild<T>(script: string, args: readonly string[], isResult: (value: unknown) => value is T, log: (line: string) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(BENCH_DIR, script), ...args], {
      cwd: dirname(BENCH_DIR),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim() !== '') log(`[${script}] ${line}`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      let parsed: unknown;
      try {
        parsed = JSON.parse(last);
      } catch {
        parsed = undefined;
      }
      if (code === 0 && isResult(parsed)) resolve(parsed);
      else reject(new Error(`${script} exited with ${String(code)}: ${stdout.slice(-500)}`));
    });
  });
}
