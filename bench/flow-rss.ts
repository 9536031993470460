import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { rebuildProjection } from '../src/engine/rebuild.js';
import { activeTableSet, createProjections } from '../src/projections/index.js';
import { openOfflineEngineDeps } from '../src/wiring.js';
import { createHistoryTenants, exampleResult, writeHistory } from './flow-history.js';

/**
 * `node --expose-gc --import tsx bench/flow-rss.ts <n> [projection]`: peak RSS growth while
 * rebuilding a projection (default analytics, whose filter takes every event of the flow
 * history) over a history of about n events. Prints one JSON line
 * { projection, events, baselineMb, peakMb, growthMb, seconds, eventsPerSecond }.
 *
 * The history (bench/flow-history.ts: the five events of n/5 scorings, per-tenant streams in
 * 1,000-event appends) is written by a separate process (`--fill <n> <dataDir>`), so this one
 * starts the rebuild with nothing but the engine's stores open. RSS is sampled at every batch the
 * rebuild applies (onProgress with no interval) and every SAMPLE_MS; growth = peak minus the RSS
 * just before the rebuild (once the engine's threads have started, after a full GC).
 */

const MB = 1024 * 1024;
const SAMPLE_MS = 20;
const TENANTS = 10;
/** Events the history writes per scoring. */
const EVENTS_PER_SCORING = 5;

async function fill(count: number, dataDir: string): Promise<void> {
  const { deps, close } = await openOfflineEngineDeps({ dataDir });
  try {
    const tenants = await createHistoryTenants(deps, TENANTS, 'rss');
    const started = performance.now();
    const scorings = Math.ceil(count / EVENTS_PER_SCORING);
    const events = await writeHistory(deps.store, tenants, { scorings, result: await exampleResult(), log: (line) => process.stderr.write(`${line}\n`) });
    process.stderr.write(`wrote ${events.toLocaleString('en-US')} events in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    await close();
  }
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
}

/**
 * The RSS once the engine's threads have started: the commit thread and the two checkpoint
 * workers finish loading their modules some 250 ms after the stores open (about 20 MB under
 * tsx), which is not the rebuild's memory. From 500 ms on, waits until two samples 200 ms apart
 * differ by less than 1 MB (at most 5 s).
 */
async function settledRss(): Promise<number> {
  const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  await pause(500);
  collect();
  let previous = process.memoryUsage().rss;
  for (let waited = 500; waited < 5_000; waited += 200) {
    await pause(200);
    collect();
    const rss = process.memoryUsage().rss;
    if (Math.abs(rss - previous) < MB) return rss;
    previous = rss;
  }
  return previous;
}

async function measure(count: number, name: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-flow-rss-'));
  try {
    const filler = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fill', String(count), dir], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (filler.status !== 0) throw new Error(`fill process exited with ${String(filler.status)}`);

    // As under the engine or the CLI: read-model checkpoints on their thread (its memory is in the baseline).
    const { deps, close } = await openOfflineEngineDeps({ dataDir: dir });
    try {
      const projection = createProjections().find((p) => p.name === name);
      if (projection === undefined) throw new Error(`no projection '${name}'`);
      activeTableSet(deps.readDb, projection); // the serving tables exist before the measurement, as in a running engine
      const baseline = await settledRss();
      let peak = baseline;
      const sample = (): void => {
        const rss = process.memoryUsage().rss;
        if (rss > peak) peak = rss;
      };
      const timer = setInterval(sample, SAMPLE_MS);
      const started = performance.now();
      let result;
      try {
        result = await rebuildProjection(deps, projection, { progressIntervalMs: 0, onProgress: sample });
      } finally {
        clearInterval(timer);
      }
      sample();
      const seconds = (performance.now() - started) / 1_000;
      const line = {
        projection: name,
        events: result.events,
        baselineMb: baseline / MB,
        peakMb: peak / MB,
        growthMb: (peak - baseline) / MB,
        seconds,
        eventsPerSecond: result.eventsPerSecond,
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } finally {
      await close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function positiveInteger(text: string | undefined): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`usage: flow-rss.ts <n> [projection] | --fill <n> <dataDir> (got ${String(text)})`);
  return value;
}

const [first, second, third] = process.argv.slice(2);
if (first === '--fill') {
  if (third === undefined) throw new Error('--fill needs <n> <dataDir>');
  await fill(positiveInteger(second), third);
} else {
  await measure(positiveInteger(first), second ?? 'analytics');
}
