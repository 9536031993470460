/**
 * Rebuild a projection's read model by replaying $all, while the old one keeps serving.
 *
 * 1. Fresh tables `<name>__rebuild_<n>_<table>` from the projection's migrations (n = the next
 *    generation; leftovers of an abandoned rebuild are dropped first).
 * 2. Replay: a catch-up subscription on $all from the start, filtered on the projection's event
 *    types (store.subscribeToAll: the same code on EventStoreDB), applied in batches of
 *    `batchSize` events per transaction, each event at most once per id; the replayed ids are
 *    written to the rebuild's handled_events group (= its prefix) in bulk, in key order, at the
 *    end of each drain (ReplayedIds: the exactly-once argument is there). Corrupt events are
 *    skipped (the live handler parks them).
 * 3. Catch up: up to the last matching event at the start, then again to the last matching event
 *    now, until a round brings fewer than `swapLagEvents` events.
 * 4. Swap, under the projection's gate (projectionHandler waits between two events): catch up to
 *    the last matching event once more, then ONE transaction: carryOver hook, registry → the new
 *    prefix (readers and the live handler resolve it per call), old prefix marked retired. The
 *    live handler's handled ids come along with the new tables (group = prefix): nothing is
 *    rewritten. Then the old tables and their handled ids are dropped (outside the gate).
 *
 * The old read model serves until the swap. Events the live handler applies to the old tables
 * meanwhile are also replayed into the new ones (the replay reaches them before the swap), and
 * the events the rebuild applied ahead of the live handler are skipped by it after the swap.
 */
import type { DecodedEvent } from '../contracts/events/codec.js';
import { decodeEvent } from '../contracts/events/codec.js';
import type { CatchUpSubscription, EventFilter, EventStore, Position, RecordedEvent } from '../eventstore/port.js';
import {
  activeTableSet,
  applyEvents,
  createProjectionTables,
  dropProjectionTables,
  handledAmong,
  projectionFilter,
  projectionGate,
  recordHandled,
  registryRow,
  tableNames,
  updateRegistry,
  type Projection,
  type ProjectionEffectDeps,
  type TableNames,
} from '../projections/projection.js';
import type { RebuildProgressView, RebuildStatusView } from '../contracts/api/read-models.js';
import type { ReadModelDatabase } from '../readmodel/database.js';
import { walSyncOf } from '../readmodel/wal-sync.js';
import { describeError } from './failures.js';
import { newId } from '../contracts/ids.js';

export type RebuildPhase = 'starting' | 'replaying' | 'catching_up' | 'swapping' | 'done';

export interface RebuildProgress {
  readonly phase: RebuildPhase;
  /** Events replayed so far (decoded and offered to the projection, duplicates included). */
  readonly events: number;
  /** Position of the last replayed event. */
  readonly position: Position | undefined;
  /** The head of $all when the current round started. */
  readonly headPosition: Position | undefined;
  readonly eventsPerSecond: number;
  /** Estimate from the rate of progress through $all positions; undefined before any progress. */
  readonly etaSeconds: number | undefined;
}

export interface RebuildOptions {
  onProgress?(progress: RebuildProgress): void;
  /** Events per transaction. Default 500. */
  readonly batchSize?: number;
  /** Minimum time between two progress reports while replaying, ms (phase changes always report). Default 250. */
  readonly progressIntervalMs?: number;
  /** Swap once a catch-up round brought fewer events than this. Default 500. */
  readonly swapLagEvents?: number;
  /** Catch-up rounds before swapping anyway. Default 10. */
  readonly maxCatchUpRounds?: number;
  /** Replayed ids kept in memory (32 bytes each) before they are written to handled_events. Default 120,000. */
  readonly replayedIdsInMemory?: number;
  readonly signal?: AbortSignal;
}

export interface RebuildResult {
  readonly projection: string;
  readonly generation: number;
  readonly prefix: string;
  /** Events replayed (duplicates included). */
  readonly events: number;
  /** Events applied (distinct event ids). */
  readonly applied: number;
  /** Corrupt events skipped. */
  readonly skippedCorrupt: number;
  /** Ids the live handler had handled that the replay never saw (deleted/scavenged events). */
  readonly missingFromReplay: number;
  readonly position: Position | undefined;
  /** Start to finish (swap and clean-up included). */
  readonly durationMs: number;
  /** Time spent reading and applying events (the replay rate is events / replayMs). */
  readonly replayMs: number;
  /** Replay rate: events per second of replay time. */
  readonly eventsPerSecond: number;
}

export class RebuildInProgressError extends Error {
  readonly code = 'REBUILD_IN_PROGRESS';
  constructor(
    readonly projection: string,
    readonly rebuildId?: string,
  ) {
    super(`A rebuild of projection '${projection}' is already running${rebuildId ? ` (${rebuildId})` : ''}`);
    this.name = 'RebuildInProgressError';
  }
}

export class UnknownProjectionError extends Error {
  readonly code = 'UNKNOWN_PROJECTION';
  constructor(readonly projection: string) {
    super(`No projection named '${projection}'`);
    this.name = 'UnknownProjectionError';
  }
}

const running = new WeakMap<object, Set<string>>();

/** Replayed ids kept in memory before they are written (EventIdSet: 4.25 MB, room for 131,072 uuids). */
const REPLAYED_IDS_IN_MEMORY = 120_000;

/** A canonical (lowercase) uuid as four 32-bit words into `out`; false for any other string. */
function parseUuid(id: string, out: Uint32Array): boolean {
  if (id.length !== 36) return false;
  let word = 0;
  let digits = 0;
  let w = 0;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
      continue;
    }
    let nibble: number;
    if (c >= 48 && c <= 57) nibble = c - 48;
    else if (c >= 97 && c <= 102) nibble = c - 87;
    else return false;
    word = ((word << 4) | nibble) >>> 0;
    if (++digits === 8) {
      out[w++] = word;
      word = 0;
      digits = 0;
    }
  }
  return true;
}

function hex8(word: number): string {
  return word.toString(16).padStart(8, '0');
}

function formatUuid(words: Uint32Array, at: number): string {
  const b = hex8(words[at + 1] as number);
  const c = hex8(words[at + 2] as number);
  return `${hex8(words[at] as number)}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${hex8(words[at + 3] as number)}`;
}

/**
 * A set of event ids keeping canonical uuids (what the stores deliver) as 128-bit keys in typed
 * arrays (open addressing, linear probing, load <= 1/2): 17 bytes a slot, off the JS heap. A
 * Set<string> keeps every id string alive until cleared: promoted to the old generation, then
 * garbage that only full GCs collect, it grew a 1M-event rebuild's RSS by tens of MB. Other ids
 * (any string) go to a Set<string>. Size it for the ids it will hold (`expected`): growing leaves
 * the old arrays to the GC.
 */
export class EventIdSet {
  #words = new Uint32Array(0);
  #used = new Uint8Array(0);
  #mask = 0;
  #uuids = 0;
  readonly #others = new Set<string>();
  readonly #key = new Uint32Array(4);

  constructor(expected = 0) {
    let capacity = 1 << 10;
    while (capacity < expected * 2) capacity *= 2;
    if (expected > 0) this.#allocate(capacity);
  }

  get size(): number {
    return this.#uuids + this.#others.size;
  }

  has(id: string): boolean {
    if (!parseUuid(id, this.#key)) return this.#others.has(id);
    return this.#uuids > 0 && this.#used[this.#find(this.#key)] === 1;
  }

  /** Adds `id`; false when it was there already. */
  add(id: string): boolean {
    if (!parseUuid(id, this.#key)) {
      if (this.#others.has(id)) return false;
      this.#others.add(id);
      return true;
    }
    if ((this.#uuids + 1) * 2 > this.#used.length) this.#grow();
    const slot = this.#find(this.#key);
    if (this.#used[slot] === 1) return false;
    this.#used[slot] = 1;
    this.#words.set(this.#key, slot * 4);
    this.#uuids += 1;
    return true;
  }

  /** Empties the set (keeping its arrays). */
  clear(): void {
    this.#used.fill(0);
    this.#uuids = 0;
    this.#others.clear();
  }

  /** The ids in string order (the words of canonical uuids compare as their text does), formatted one at a time. */
  *sorted(): Generator<string> {
    const words = this.#words;
    const slots = new Uint32Array(this.#uuids);
    let n = 0;
    for (let slot = 0; slot < this.#used.length; slot++) if (this.#used[slot] === 1) slots[n++] = slot;
    slots.sort((a, b) => {
      for (let i = 0; i < 4; i++) {
        const d = (words[a * 4 + i] as number) - (words[b * 4 + i] as number);
        if (d !== 0) return d;
      }
      return 0;
    });
    const others = [...this.#others].sort();
    let o = 0;
    for (const slot of slots) {
      const id = formatUuid(words, slot * 4);
      while (o < others.length && (others[o] as string) < id) yield others[o++] as string;
      yield id;
    }
    while (o < others.length) yield others[o++] as string;
  }

  /** The slot of `key`: where it is, or the free slot it would take. */
  #find(key: Uint32Array): number {
    const words = this.#words;
    const used = this.#used;
    const k0 = key[0] as number;
    const k1 = key[1] as number;
    const k2 = key[2] as number;
    const k3 = key[3] as number;
    let slot = (k0 ^ Math.imul(k1, 0x9e3779b1) ^ Math.imul(k2, 0x85ebca77) ^ Math.imul(k3, 0xc2b2ae3d)) & this.#mask;
    while (used[slot] === 1) {
      const at = slot * 4;
      if (words[at] === k0 && words[at + 1] === k1 && words[at + 2] === k2 && words[at + 3] === k3) return slot;
      slot = (slot + 1) & this.#mask;
    }
    return slot;
  }

  #allocate(capacity: number): void {
    this.#words = new Uint32Array(capacity * 4);
    this.#used = new Uint8Array(capacity);
    this.#mask = capacity - 1;
  }

  #grow(): void {
    const oldWords = this.#words;
    const oldUsed = this.#used;
    this.#allocate(Math.max(1 << 10, oldUsed.length * 2));
    for (let slot = 0; slot < oldUsed.length; slot++) {
      if (oldUsed[slot] !== 1) continue;
      const key = oldWords.subarray(slot * 4, slot * 4 + 4);
      const to = this.#find(key);
      this.#used[to] = 1;
      this.#words.set(key, to * 4);
    }
  }
}

/**
 * The ids a rebuild has replayed: each event is applied at most once per id (the first occurrence
 * in $all wins, as with the live handler), and by the swap the rebuild's handled_events group
 * holds exactly the ids replayed.
 *
 * Recording each id in its batch's transaction (as the live handler does, per event) made every
 * random id dirty a different B-tree page of handled_events: writing those pages was ~40% of a
 * rebuild. Instead the ids are kept in memory (`pending`, an EventIdSet: off the JS heap) and
 * written in key order, in bulk (recordHandled): at the end of every drain (the replay, each
 * catch-up round, the final catch-up under the gate) and whenever `limit` ids are pending
 * (bounded memory: 4.25 MB at the default limit). Until the swap
 * nobody else reads or writes this group (the live handler records under the serving prefix; a
 * crash abandons the rebuild, whose group the next one drops), so writing the ids after their
 * effects, in other transactions, is not observable.
 *
 * Exactly-once at the swap:
 * - R = the events of $all matching the filter up to the last matching one at the final catch-up
 *   (under the gate), each delivered once, in order, by the catch-up subscription.
 * - An id is claimed iff it is neither pending nor written (handledAmong), so each id of R is
 *   applied once, at its first occurrence, and then pending. persist() ends every drain, so when
 *   the swap transaction runs, the new group's handled ids = ids(R) and the new tables hold the
 *   effects of exactly those first occurrences, as when each batch recorded its ids.
 * - After the swap the live handler dedupes against that group (applyOnce): an event it delivers
 *   (a redelivery, one it was behind on, a copy of an id stored again later in $all) whose id is
 *   in R is skipped, its effect being in the new tables; any other id is not in R (appended after
 *   the final catch-up), was not applied by the rebuild, and is applied once and recorded.
 * - The gate: the live handler applies nothing between the final catch-up and the swap, and
 *   whatever it applied to the old set before is in R, so nothing is lost with the old tables.
 */
class ReplayedIds {
  readonly #pending: EventIdSet;
  #written = 0;

  constructor(
    private readonly db: ReadModelDatabase,
    private readonly group: string,
    private readonly limit: number,
    batchSize: number,
  ) {
    // `full` is checked after each batch: room for one more.
    this.#pending = new EventIdSet(limit + batchSize);
  }

  /** The events of `batch` whose id was never replayed before, first occurrence only; their ids become pending. */
  claim(batch: readonly DecodedEvent[]): DecodedEvent[] {
    const pending = this.#pending;
    let candidates = batch.filter((event) => !pending.has(event.id));
    if (this.#written > 0 && candidates.length > 0) {
      const seen = handledAmong(
        this.db,
        this.group,
        candidates.map((event) => event.id),
      );
      if (seen.size > 0) candidates = candidates.filter((event) => !seen.has(event.id));
    }
    const fresh: DecodedEvent[] = [];
    for (const event of candidates) if (pending.add(event.id)) fresh.push(event); // else twice in this batch
    return fresh;
  }

  get full(): boolean {
    return this.#pending.size >= this.limit;
  }

  /** Writes the pending ids to handled_events (group = the rebuild's prefix). */
  persist(): void {
    if (this.#pending.size === 0) return;
    recordHandled(this.db, this.group, this.#pending.sorted());
    this.#written += this.#pending.size;
    this.#pending.clear();
  }
}

async function lastMatchingPosition(store: EventStore, filter: EventFilter): Promise<Position | undefined> {
  for await (const event of store.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 1, filter })) return event.position;
  return undefined;
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('Rebuild aborted');
}

/** Rebuilds `projection` from $all into fresh tables and swaps them in atomically. */
export async function rebuildProjection<K extends string>(deps: ProjectionEffectDeps, projection: Projection<K>, options: RebuildOptions = {}): Promise<RebuildResult> {
  const db = deps.readDb;
  const { store, logger } = deps;
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const progressInterval = options.progressIntervalMs ?? 250;
  const swapLag = options.swapLagEvents ?? 500;
  const maxRounds = options.maxCatchUpRounds ?? 10;
  const signal = options.signal;
  const log = logger.child({ component: 'rebuild', projection: projection.name });

  let names = running.get(db);
  if (!names) {
    names = new Set();
    running.set(db, names);
  }
  if (names.has(projection.name)) throw new RebuildInProgressError(projection.name);
  names.add(projection.name);

  const started = performance.now();
  let events = 0;
  let applied = 0;
  let skippedCorrupt = 0;
  let position: Position | undefined;
  let head: Position | undefined;
  let phase: RebuildPhase = 'starting';
  let lastReport = 0;
  const firstPosition: { value: bigint | undefined } = { value: undefined };

  const progress = (): RebuildProgress => {
    const seconds = (performance.now() - started) / 1000;
    const eventsPerSecond = seconds > 0 ? events / seconds : 0;
    let etaSeconds: number | undefined;
    if (phase === 'done') etaSeconds = 0;
    else if (position && head && seconds > 0) {
      const done = Number(position.commit - (firstPosition.value ?? 0n)) + 1;
      const left = Number(head.commit - position.commit);
      etaSeconds = left <= 0 ? 0 : done > 0 ? (left * seconds) / done : undefined;
    }
    return { phase, events, position, headPosition: head, eventsPerSecond, etaSeconds };
  };
  const report = (force: boolean): void => {
    if (!options.onProgress) return;
    const now = performance.now();
    if (!force && now - lastReport < progressInterval) return;
    lastReport = now;
    try {
      options.onProgress(progress());
    } catch (error) {
      log.warn({ err: error }, 'onProgress threw');
    }
  };
  const enter = (next: RebuildPhase): void => {
    phase = next;
    report(true);
  };

  const filter = projectionFilter(projection);
  let subscription: CatchUpSubscription | undefined;
  let iterator: AsyncIterator<RecordedEvent> | undefined;
  let swapped = false;
  let prefix: string | undefined;
  let tables: TableNames<K> | undefined;

  let replayMs = 0;
  let replayed: ReplayedIds | undefined;
  const flush = (batch: DecodedEvent[]): void => {
    if (batch.length === 0 || tables === undefined || replayed === undefined) return;
    const fresh = replayed.claim(batch);
    applyEvents(db, projection, tables, fresh);
    applied += fresh.length;
    batch.length = 0;
    if (replayed.full) replayed.persist();
    report(false);
  };

  /** Replays until the event at `target` (a matching event's position) has been applied. */
  const drainTo = async (target: Position | undefined): Promise<number> => {
    if (target === undefined || iterator === undefined || (position !== undefined && position.commit >= target.commit)) return 0;
    const startEvents = events;
    const startTime = performance.now();
    const batch: DecodedEvent[] = [];
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      const next: IteratorResult<RecordedEvent> = await iterator.next();
      if (next.done) throw new Error('The catch-up subscription ended during the rebuild');
      const recorded = next.value;
      events += 1;
      position = recorded.position;
      firstPosition.value ??= recorded.position.commit;
      const decoded = decodeEvent(recorded);
      if (decoded.ok) batch.push(decoded.event);
      else {
        skippedCorrupt += 1;
        log.warn({ eventId: recorded.id, stream: recorded.streamId, problems: decoded.error.problems }, 'corrupt event skipped by the rebuild');
      }
      if (batch.length >= batchSize) flush(batch);
      if (recorded.position.commit >= target.commit) break;
    }
    flush(batch);
    replayed?.persist();
    replayMs += performance.now() - startTime;
    return events - startEvents;
  };

  try {
    // 1. Fresh tables.
    const live = activeTableSet(db, projection);
    const before = registryRow(db, projection);
    if (before.rebuildingPrefix) {
      log.warn({ leftover: before.rebuildingPrefix }, 'dropping the tables of an abandoned rebuild');
      dropProjectionTables(db, projection, before.rebuildingPrefix);
    }
    if (before.retiredPrefix) dropProjectionTables(db, projection, before.retiredPrefix);
    const generation = before.lastGeneration + 1;
    const newPrefix = `${projection.name}__rebuild_${generation}`;
    prefix = newPrefix;
    db.transaction(() => updateRegistry(db, projection.name, { lastGeneration: generation, rebuildingPrefix: newPrefix, retiredPrefix: null }))();
    dropProjectionTables(db, projection, newPrefix);
    const newTables = createProjectionTables(db, projection, newPrefix);
    tables = newTables;
    replayed = new ReplayedIds(db, newPrefix, Math.max(1, options.replayedIdsInMemory ?? REPLAYED_IDS_IN_MEMORY), batchSize);
    log.info({ generation, prefix: newPrefix, serving: live.group }, 'rebuild started');
    enter('starting');
    subscription = store.subscribeToAll({ fromPosition: 'start', filter });
    iterator = subscription[Symbol.asyncIterator]();

    // 2. Replay to the last matching event at the start.
    head = await store.headPosition();
    enter('replaying');
    await drainTo(await lastMatchingPosition(store, filter));

    // 3. Catch up while the live store moves on.
    enter('catching_up');
    for (let round = 0; round < maxRounds; round++) {
      head = await store.headPosition();
      const brought = await drainTo(await lastMatchingPosition(store, filter));
      report(true);
      if (brought < swapLag) break;
    }

    // 4. Final catch-up and swap, with the live handler paused between events.
    let missingFromReplay = 0;
    await projectionGate(db, projection.name).run(async () => {
      enter('swapping');
      head = await store.headPosition();
      await drainTo(await lastMatchingPosition(store, filter));
      const current = registryRow(db, projection);
      if (current.prefix !== live.group || current.rebuildingPrefix !== newPrefix) throw new Error(`The registry of '${projection.name}' changed during the rebuild`);
      const from = tableNames(projection, current.prefix);
      // The swap is reported at once: committed on its own, not in a turn batch.
      walSyncOf(db).outsideBatch(() => db.transaction(() => {
        missingFromReplay = (
          db
            .prepare('SELECT COUNT(*) AS n FROM handled_events o WHERE o.group_name = ? AND NOT EXISTS (SELECT 1 FROM handled_events r WHERE r.group_name = ? AND r.event_id = o.event_id)')
            .get(current.prefix, newPrefix) as { n: number }
        ).n;
        projection.carryOver?.(db, { from, to: newTables, fromGroup: current.prefix, toGroup: newPrefix });
        updateRegistry(db, projection.name, { prefix: newPrefix, generation, rebuildingPrefix: null, retiredPrefix: current.prefix, swappedAt: new Date().toISOString() });
      }).immediate());
      swapped = true;
      if (missingFromReplay > 0) log.warn({ missingFromReplay }, 'the live read model had handled events the replay did not see (deleted or scavenged)');
      // Side effects the swap made due (e.g. alerts of events the live handler had not seen yet).
      if (projection.afterCommit) {
        try {
          await projection.afterCommit(deps, newTables);
        } catch (error) {
          log.warn({ err: error }, 'afterCommit after the swap failed: the live handler retries it with its next event');
        }
      }
    });

    // Old tables are referenced by nobody now.
    const retired = registryRow(db, projection).retiredPrefix;
    if (retired) {
      dropProjectionTables(db, projection, retired);
      db.transaction(() => updateRegistry(db, projection.name, { retiredPrefix: null }))();
    }

    enter('done');
    const durationMs = performance.now() - started;
    const result: RebuildResult = {
      projection: projection.name,
      generation,
      prefix: newPrefix,
      events,
      applied,
      skippedCorrupt,
      missingFromReplay,
      position,
      durationMs,
      replayMs,
      eventsPerSecond: replayMs > 0 ? (events * 1000) / replayMs : 0,
    };
    log.info({ ...result, position: position?.commit.toString() }, 'rebuild swapped in');
    return result;
  } catch (error) {
    if (!swapped && prefix !== undefined) {
      try {
        dropProjectionTables(db, projection, prefix);
        db.transaction(() => updateRegistry(db, projection.name, { rebuildingPrefix: null }))();
      } catch (cleanupError) {
        log.error({ err: cleanupError }, 'could not drop the tables of the failed rebuild (dropped at the next rebuild)');
      }
    }
    log.error({ err: error }, 'rebuild failed: the old read model keeps serving');
    throw error;
  } finally {
    names.delete(projection.name);
    await subscription?.unsubscribe().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Background rebuilds for the admin API

export function toProgressView(progress: RebuildProgress): RebuildProgressView {
  return {
    phase: progress.phase,
    events: progress.events,
    ...(progress.position ? { position: progress.position.commit.toString() } : {}),
    ...(progress.headPosition ? { headPosition: progress.headPosition.commit.toString() } : {}),
    eventsPerSecond: Math.round(progress.eventsPerSecond * 10) / 10,
    ...(progress.etaSeconds !== undefined ? { etaSeconds: Math.round(progress.etaSeconds * 10) / 10 } : {}),
  };
}

interface TrackedRebuild {
  readonly status: RebuildStatusView;
  readonly done: Promise<RebuildStatusView>;
}

export interface RebuildTrackerOptions {
  /** Finished rebuilds kept for status queries. Default 20. */
  readonly keep?: number;
  readonly rebuild?: Omit<RebuildOptions, 'onProgress' | 'signal'>;
}

/** Starts rebuilds in the background and reports their status by id (one at a time per projection). */
export class RebuildTracker {
  readonly #deps: ProjectionEffectDeps;
  readonly #projections: ReadonlyMap<string, Projection>;
  readonly #options: RebuildTrackerOptions;
  readonly #rebuilds = new Map<string, TrackedRebuild>();
  readonly #controllers = new Map<string, AbortController>();

  constructor(deps: ProjectionEffectDeps, projections: readonly Projection[], options: RebuildTrackerOptions = {}) {
    this.#deps = deps;
    this.#projections = new Map(projections.map((p) => [p.name, p]));
    this.#options = options;
  }

  get projections(): readonly string[] {
    return [...this.#projections.keys()];
  }

  /** Starts a rebuild; throws UnknownProjectionError or RebuildInProgressError. */
  start(name: string): RebuildStatusView {
    const projection = this.#projections.get(name);
    if (!projection) throw new UnknownProjectionError(name);
    for (const tracked of this.#rebuilds.values()) {
      if (tracked.status.projection === name && tracked.status.state === 'running') throw new RebuildInProgressError(name, tracked.status.id);
    }
    const id = newId();
    const controller = new AbortController();
    const startedAt = new Date().toISOString();
    let status: RebuildStatusView = { id, projection: name, state: 'running', startedAt, progress: { phase: 'starting', events: 0, eventsPerSecond: 0 } };
    const update = (changes: Partial<RebuildStatusView>): RebuildStatusView => (status = { ...status, ...changes });
    const done = rebuildProjection(this.#deps, projection, {
      ...this.#options.rebuild,
      signal: controller.signal,
      onProgress: (progress) => update({ progress: toProgressView(progress) }),
    }).then(
      (result) =>
        update({
          state: 'completed',
          finishedAt: new Date().toISOString(),
          result: {
            generation: result.generation,
            events: result.events,
            skippedCorrupt: result.skippedCorrupt,
            durationMs: Math.round(result.durationMs),
            eventsPerSecond: Math.round(result.eventsPerSecond * 10) / 10,
          },
        }),
      (error: unknown) => update({ state: 'failed', finishedAt: new Date().toISOString(), error: describeError(error).slice(0, 2000) }),
    );
    const tracked: TrackedRebuild = {
      get status() {
        return status;
      },
      done,
    };
    this.#rebuilds.set(id, tracked);
    this.#controllers.set(id, controller);
    void tracked.done.finally(() => {
      this.#controllers.delete(id);
      this.#prune();
    });
    return status;
  }

  status(id: string): RebuildStatusView | undefined {
    return this.#rebuilds.get(id)?.status;
  }

  list(): RebuildStatusView[] {
    return [...this.#rebuilds.values()].map((r) => r.status);
  }

  /** Resolves with the final status (never rejects); undefined for an unknown id. */
  async wait(id: string): Promise<RebuildStatusView | undefined> {
    return this.#rebuilds.get(id)?.done;
  }

  /** Aborts a running rebuild (the old read model keeps serving). */
  cancel(id: string): boolean {
    const controller = this.#controllers.get(id);
    if (!controller) return false;
    controller.abort(new Error('Rebuild cancelled'));
    return true;
  }

  /** Aborts every running rebuild and waits for them (shutdown). */
  async stop(): Promise<void> {
    for (const controller of this.#controllers.values()) controller.abort(new Error('Shutting down'));
    await Promise.all([...this.#rebuilds.values()].map((r) => r.done));
  }

  #prune(): void {
    const keep = this.#options.keep ?? 20;
    const finished = [...this.#rebuilds.entries()].filter(([, r]) => r.status.state !== 'running');
    for (const [id] of finished.slice(0, Math.max(0, finished.length - keep))) this.#rebuilds.delete(id);
  }
}
