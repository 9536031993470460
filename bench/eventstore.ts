import { runMeasuringChild } from './child.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EmbeddedEventStore } from '../src/eventstore/embedded/sqlite-event-store.js';
import type { Position } from '../src/eventstore/port.js';
import { benchEvent, benchEvents, type RawAppend, RawEventTable } from './eventstore-fixtures.js';
import { atLeast, atMost, type Figure, figure, median, ratioAtLeast, type SuiteOptions } from './figures.js';

/**
 * The embedded event store against raw better-sqlite3 on the same machine, same pragmas (WAL,
 * synchronous=FULL), comparable schema (bench/eventstore-fixtures.ts). Each throughput figure is
 * the median of `rounds` rounds; store and raw rounds alternate so drift hits both alike.
 */

interface Sizes {
  readonly rounds: number;
  /** Wall time of one round of an append figure. */
  readonly appendMs: number;
  readonly warmupMs: number;
  /** Events in the readAll data set (also what the persistent subscription delivers). */
  readonly readEvents: number;
  readonly rssEvents: number;
}

const FULL: Sizes = { rounds: 3, appendMs: 4_000, warmupMs: 500, readEvents: 200_000, rssEvents: 1_000_000 };
const QUICK: Sizes = { rounds: 3, appendMs: 800, warmupMs: 200, readEvents: 50_000, rssEvents: 100_000 };

const WRITERS = 50;
const BATCH = 100;
/** Events per stream before a writer moves on to a new stream. */
const STREAM_EVENTS = 1_000;
const CHECKPOINT_EVERY = 1_000;
/** Consumer buffer (in-flight, un-acked messages) of the persistent subscription figure. */
const BUFFER_SIZE = 10;
const RSS_TARGET_MB = 100;


const rate = (count: number, ms: number): number => (count * 1_000) / ms;

/** A writer's place: its current stream and that stream's revision (-1: none yet). */
class Cursor {
  private streamNumber = 0;
  revision = -1;

  constructor(private readonly prefix: string) {}

  get stream(): string {
    return `${this.prefix}-${this.streamNumber}`;
  }

  advance(events: number): void {
    this.revision += events;
    if (this.revision + 1 >= STREAM_EVENTS) {
      this.streamNumber += 1;
      this.revision = -1;
    }
  }
}

function expected(cursor: Cursor): bigint | 'no_stream' {
  return cursor.revision < 0 ? 'no_stream' : BigInt(cursor.revision);
}

let runId = 0;
const nextPrefix = (what: string): string => `${what}${(runId += 1)}`;

/** `writers` concurrent loops of store.append (eventsPerAppend each, exact expected revision) until `ms` passed. Events/s. */
async function storeAppends(store: EmbeddedEventStore, writers: number, eventsPerAppend: number, ms: number): Promise<number> {
  let events = 0;
  const started = performance.now();
  const deadline = started + ms;
  const prefix = nextPrefix('s');
  const commitsBefore = store.diagnostics().commits;
  let appends = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const cursor = new Cursor(`${prefix}w${w}`);
      while (performance.now() < deadline) {
        const batch = eventsPerAppend === 1 ? [benchEvent(events)] : benchEvents(eventsPerAppend, events);
        await store.append(cursor.stream, batch, { expectedRevision: expected(cursor) });
        cursor.advance(eventsPerAppend);
        events += eventsPerAppend;
        appends += 1;
      }
    }),
  );
  const elapsed = performance.now() - started;
  lastAppendsPerCommit = appends / Math.max(1, store.diagnostics().commits - commitsBefore);
  return rate(events, elapsed);
}

/** Group-commit efficiency of the last storeAppends run (for the progress log). */
let lastAppendsPerCommit = 0;

/** The same on raw statements: `writers` appends per transaction (one per transaction for a single writer). Events/s. */
function rawAppends(raw: RawEventTable, writers: number, eventsPerAppend: number, ms: number): number {
  let events = 0;
  const started = performance.now();
  const deadline = started + ms;
  const prefix = nextPrefix('r');
  const cursors = Array.from({ length: writers }, (_, w) => new Cursor(`${prefix}w${w}`));
  while (performance.now() < deadline) {
    const appends: RawAppend[] = cursors.map((cursor) => ({
      stream: cursor.stream,
      expected: cursor.revision < 0 ? undefined : cursor.revision,
      events: eventsPerAppend === 1 ? [benchEvent(events)] : benchEvents(eventsPerAppend, events),
    }));
    const only = appends[0];
    if (appends.length === 1 && only !== undefined) raw.appendOne(only);
    else raw.appendMany(appends);
    for (const cursor of cursors) cursor.advance(eventsPerAppend);
    events += writers * eventsPerAppend;
  }
  return rate(events, performance.now() - started);
}

interface Pair {
  readonly store: number;
  readonly raw: number;
}

/** Warm both sides, then alternate raw/store rounds; medians. */
async function compare(sizes: Sizes, log: SuiteOptions['log'], label: string, store: (ms: number) => Promise<number>, raw: (ms: number) => number): Promise<Pair> {
  raw(sizes.warmupMs);
  await store(sizes.warmupMs);
  const storeRates: number[] = [];
  const rawRates: number[] = [];
  for (let round = 0; round < sizes.rounds; round++) {
    rawRates.push(raw(sizes.appendMs));
    storeRates.push(await store(sizes.appendMs));
  }
  const pair = { store: median(storeRates), raw: median(rawRates) };
  log(
    `${label}: store ${storeRates.map((r) => r.toFixed(0)).join(' / ')} (${lastAppendsPerCommit.toFixed(1)} appends per commit), raw ${rawRates.map((r) => r.toFixed(0)).join(' / ')} events/s`,
  );
  return pair;
}

// ---- read side ------------------------------------------------------------------------------

async function fillStore(store: EmbeddedEventStore, count: number, prefix: string): Promise<void> {
  const perAppend = 1_000;
  for (let written = 0; written < count; written += perAppend) {
    await store.append(`${prefix}-${written / perAppend}`, benchEvents(Math.min(perAppend, count - written), written), { expectedRevision: 'no_stream' });
  }
}

function fillRaw(raw: RawEventTable, count: number, prefix: string): void {
  const perAppend = 1_000;
  for (let written = 0; written < count; written += perAppend) {
    raw.appendOne({ stream: `${prefix}-${written / perAppend}`, expected: undefined, events: benchEvents(Math.min(perAppend, count - written), written) });
  }
}

/** Touch what a reader would touch, so nothing is optimised away. */
let sink = 0;

function checkCount(what: string, count: number, expectedCount: number): void {
  if (count !== expectedCount) throw new Error(`${what}: ${count} events, expected ${expectedCount}`);
}

async function storeReadAll(store: EmbeddedEventStore, expectedCount: number): Promise<number> {
  let count = 0;
  const started = performance.now();
  for await (const event of store.readAll()) {
    count += 1;
    sink += event.type.length;
  }
  const elapsed = performance.now() - started;
  checkCount('store readAll', count, expectedCount);
  return rate(count, elapsed);
}

function rawReadAll(raw: RawEventTable, expectedCount: number): number {
  let count = 0;
  const started = performance.now();
  for (const row of raw.iterateAll()) {
    count += 1;
    const data: unknown = JSON.parse(row[5]);
    const metadata: unknown = JSON.parse(row[6]);
    if (data !== null && metadata !== null) sink += row[4].length;
  }
  const elapsed = performance.now() - started;
  checkCount('raw readAll', count, expectedCount);
  return rate(count, elapsed);
}

/** A fresh $all group from `from` (inclusive, as EventStoreDB's startFrom), one consumer acking each event, until the event at `head`. */
async function storePersistent(store: EmbeddedEventStore, from: Position, head: bigint, group: string, expectedCount: number): Promise<number> {
  await store.createPersistentSubscription({ kind: 'all' }, group, { startFrom: from });
  const subscription = store.subscribeToPersistentSubscription({ kind: 'all' }, group, { bufferSize: BUFFER_SIZE });
  let count = 0;
  const started = performance.now();
  for await (const { event } of subscription) {
    await subscription.ack(event.id);
    count += 1;
    if (event.position.commit >= head) break;
  }
  const elapsed = performance.now() - started;
  await store.deletePersistentSubscription({ kind: 'all' }, group);
  checkCount('store persistent', count, expectedCount);
  return rate(count, elapsed);
}

/** Raw: pages of the table in order, each event parsed, a durable checkpoint UPDATE every CHECKPOINT_EVERY events. */
function rawPersistent(raw: RawEventTable, from: number, group: string, expectedCount: number): number {
  let count = 0;
  let cursor = from;
  raw.createCheckpoint(group);
  const started = performance.now();
  for (;;) {
    const rows = raw.page(cursor, CHECKPOINT_EVERY);
    if (rows.length === 0) break;
    for (const row of rows) {
      const data: unknown = JSON.parse(row[5]);
      const metadata: unknown = JSON.parse(row[6]);
      if (data !== null && metadata !== null) sink += row[4].length;
      count += 1;
      cursor = row[0];
    }
    raw.checkpoint(group, cursor);
  }
  const elapsed = performance.now() - started;
  checkCount('raw persistent', count, expectedCount);
  return rate(count, elapsed);
}

// ---- RSS (child process) --------------------------------------------------------------------

interface RssResult {
  readonly events: number;
  readonly baselineMb: number;
  readonly peakMb: number;
  readonly growthMb: number;
  readonly seconds: number;
}

function isRssResult(value: unknown): value is RssResult {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ['events', 'baselineMb', 'peakMb', 'growthMb', 'seconds'].every((key) => typeof record[key] === 'number');
}

function measureRss(events: number, log: SuiteOptions['log']): Promise<RssResult> {
  return runMeasuringChild('eventstore-rss.ts', [String(events)], isRssResult, log);
}

// ---- the suite ------------------------------------------------------------------------------

export async function run(options: SuiteOptions): Promise<Figure[]> {
  const sizes = options.quick ? QUICK : FULL;
  const { log } = options;
  const dir = mkdtempSync(join(tmpdir(), 'bench-eventstore-'));
  const figures: Figure[] = [];
  try {
    // Writes: one store file and one raw file, both growing over the three append figures.
    const store = await EmbeddedEventStore.open({ path: join(dir, 'store.db') });
    const raw = new RawEventTable(join(dir, 'raw.db'));
    try {
      const single = await compare(sizes, log, '1 writer', (ms) => storeAppends(store, 1, 1, ms), (ms) => rawAppends(raw, 1, 1, ms));
      figures.push(
        figure({
          name: 'durable single-event appends, 1 writer (raw: 1 event per transaction)',
          value: single.store,
          unit: 'events/s',
          baseline: single.raw,
          target: ratioAtLeast(0.5),
        }),
      );
      const concurrent = await compare(sizes, log, `${WRITERS} writers`, (ms) => storeAppends(store, WRITERS, 1, ms), (ms) => rawAppends(raw, WRITERS, 1, ms));
      figures.push(
        figure({
          name: `durable single-event appends, ${WRITERS} concurrent writers (raw: the same ${WRITERS} appends per transaction)`,
          value: concurrent.store,
          unit: 'events/s',
          baseline: concurrent.raw,
          target: ratioAtLeast(0.5),
        }),
        figure({ name: `durable single-event appends, ${WRITERS} concurrent writers: absolute`, value: concurrent.store, unit: 'events/s', target: atLeast(20_000) }),
      );
      const batch = await compare(sizes, log, `${BATCH}-event batches`, (ms) => storeAppends(store, 1, BATCH, ms), (ms) => rawAppends(raw, 1, BATCH, ms));
      figures.push(
        figure({
          name: `${BATCH}-event batch appends, 1 writer (raw: ${BATCH} events per transaction)`,
          value: batch.store,
          unit: 'events/s',
          baseline: batch.raw,
          target: ratioAtLeast(0.5),
        }),
      );
    } finally {
      await store.close();
      raw.close();
    }

    // Reads: a fresh data set of readEvents events on each side.
    const readStore = await EmbeddedEventStore.open({ path: join(dir, 'read-store.db') });
    const readRaw = new RawEventTable(join(dir, 'read-raw.db'));
    try {
      log(`filling ${sizes.readEvents.toLocaleString('en-US')} events for the read figures`);
      await fillStore(readStore, sizes.readEvents, 'read');
      fillRaw(readRaw, sizes.readEvents, 'read');
      const readRounds = { store: [] as number[], raw: [] as number[] };
      const n = sizes.readEvents;
      rawReadAll(readRaw, n);
      await storeReadAll(readStore, n);
      for (let round = 0; round < sizes.rounds; round++) {
        readRounds.raw.push(rawReadAll(readRaw, n));
        readRounds.store.push(await storeReadAll(readStore, n));
      }
      log(`readAll: store ${readRounds.store.map((r) => r.toFixed(0)).join(' / ')}, raw ${readRounds.raw.map((r) => r.toFixed(0)).join(' / ')}`);
      figures.push(
        figure({
          name: `readAll of ${sizes.readEvents.toLocaleString('en-US')} events (raw: .raw().iterate() in seq order + JSON.parse of data and metadata)`,
          value: median(readRounds.store),
          unit: 'events/s',
          baseline: median(readRounds.raw),
          target: ratioAtLeast(0.5),
        }),
      );

      const head = (await readStore.headPosition())?.commit ?? 0n;
      const rawHead = readRaw.head();
      const persistent = { store: [] as number[], raw: [] as number[] };
      // Warm-up: the last tenth of the data set.
      const tenth = Math.floor(n / 10);
      const warmFrom = head - BigInt(tenth) + 1n;
      await storePersistent(readStore, { commit: warmFrom, prepare: warmFrom }, head, 'warmup', tenth);
      rawPersistent(readRaw, rawHead - tenth, 'warmup', tenth);
      for (let round = 0; round < sizes.rounds; round++) {
        persistent.raw.push(rawPersistent(readRaw, 0, `bench-${round}`, n));
        persistent.store.push(await storePersistent(readStore, { commit: 0n, prepare: 0n }, head, `bench-${round}`, n));
      }
      log(`persistent: store ${persistent.store.map((r) => r.toFixed(0)).join(' / ')}, raw ${persistent.raw.map((r) => r.toFixed(0)).join(' / ')}`);
      figures.push(
        figure({
          name: `persistent subscription delivery + ack, $all group, 1 consumer, bufferSize ${BUFFER_SIZE}, ack per event (raw: ordered read + durable checkpoint UPDATE every ${CHECKPOINT_EVERY.toLocaleString('en-US')} events)`,
          value: median(persistent.store),
          unit: 'events/s',
          baseline: median(persistent.raw),
          target: ratioAtLeast(0.5),
        }),
      );
    } finally {
      await readStore.close();
      readRaw.close();
    }

    log(`RSS: readAll of ${sizes.rssEvents.toLocaleString('en-US')} events in a child process`);
    const rss = await measureRss(sizes.rssEvents, log);
    log(`RSS: baseline ${rss.baselineMb.toFixed(1)} MB, peak ${rss.peakMb.toFixed(1)} MB, ${rss.seconds.toFixed(1)} s`);
    figures.push(
      figure({
        name: `readAll of ${rss.events.toLocaleString('en-US')} events: peak RSS growth${options.quick ? ' (--quick: 100,000, not 1,000,000)' : ''}`,
        value: rss.growthMb,
        unit: 'MB',
        target: atMost(RSS_TARGET_MB),
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  return figures;
}
