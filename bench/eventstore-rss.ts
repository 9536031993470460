import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EmbeddedEventStore } from '../src/eventstore/embedded/sqlite-event-store.js';
import { benchEvents } from './eventstore-fixtures.js';

/**
 * `node --expose-gc --import tsx bench/eventstore-rss.ts <n>`: peak RSS growth while readAll
 * iterates n events. Prints one JSON line { events, baselineMb, peakMb, growthMb, seconds }.
 *
 * The n events are written by a separate process (`--fill <n> <path>`, public append, 1,000-event
 * batches on 1,000-event streams), so this process starts the read with nothing but the store open:
 * its heap was never grown by the writes. RSS is sampled every SAMPLE_EVERY events (the loop
 * rarely yields to timers) and the growth is peak minus the RSS just before the first read.
 */

const SAMPLE_EVERY = 1_000;
const PER_APPEND = 1_000;
const MB = 1024 * 1024;

async function fill(count: number, path: string): Promise<void> {
  const store = await EmbeddedEventStore.open({ path });
  try {
    for (let written = 0; written < count; written += PER_APPEND) {
      await store.append(`rss-${written / PER_APPEND}`, benchEvents(Math.min(PER_APPEND, count - written), written), { expectedRevision: 'no_stream' });
      if ((written / PER_APPEND) % 100 === 99) process.stderr.write(`filled ${(written + PER_APPEND).toLocaleString('en-US')}\n`);
    }
  } finally {
    await store.close();
  }
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
}

async function measure(count: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-eventstore-rss-'));
  try {
    const path = join(dir, 'rss.db');
    const filler = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fill', String(count), path], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (filler.status !== 0) throw new Error(`fill process exited with ${String(filler.status)}`);

    const store = await EmbeddedEventStore.open({ path });
    try {
      collect();
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      let events = 0;
      const started = performance.now();
      for await (const event of store.readAll()) {
        events += 1;
        if (events % SAMPLE_EVERY === 0) {
          const rss = process.memoryUsage().rss;
          if (rss > peak) peak = rss;
        }
        if (event.revision < 0n) throw new Error('unreachable');
      }
      const rss = process.memoryUsage().rss;
      if (rss > peak) peak = rss;
      const seconds = (performance.now() - started) / 1_000;
      if (events !== count) throw new Error(`read ${events} events, expected ${count}`);
      const result = { events, baselineMb: baseline / MB, peakMb: peak / MB, growthMb: (peak - baseline) / MB, seconds };
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function positiveInteger(text: string | undefined): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`usage: eventstore-rss.ts <n> | --fill <n> <path> (got ${String(text)})`);
  return value;
}

const [first, second, third] = process.argv.slice(2);
if (first === '--fill') {
  if (third === undefined) throw new Error('--fill needs <n> <path>');
  await fill(positiveInteger(second), third);
} else {
  await measure(positiveInteger(first));
}
