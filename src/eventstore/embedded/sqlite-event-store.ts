import { mkdirSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError, StreamDeletedError, StreamNotFoundError } from '../errors.js';
import type {
  AppendCondition,
  AppendOptions,
  AppendResult,
  AppendWriteOptions,
  CatchUpSubscription,
  EventData,
  EventStore,
  ExpectedRevision,
  ParkedMessage,
  PersistentSubscription,
  PersistentSubscriptionInfo,
  PersistentSubscriptionSettings,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  ReplayParkedOptions,
  StoreHealth,
  SubscribePersistentOptions,
  SubscribeToAllOptions,
  SubscriptionSource,
} from '../port.js';
import { type CatchUpSource, EmbeddedCatchUpSubscription } from './catch-up.js';
import { compileFilter, NO_FILTER, regexpSqlFunction, type SqlFilter } from './filters.js';
import { CommitThread } from './commit-thread.js';
import { BatchTransaction, type CommitBatch, GroupCommitter } from './group-commit.js';
import type { EmbeddedStoreInternals } from './internals.js';
import { EmbeddedPersistentSubscriptions } from './persistent/index.js';
import { type AllPage, EventQueries } from './queries.js';
import { TailCache } from './tail-cache.js';
import { checkSchema, migrate } from './schema.js';
import {
  prepareEvents,
  validateDirection,
  validateExpectedRevision,
  validateMaxCount,
  validateNotFound,
  validatePosition,
  validateRevision,
  validateStreamName,
  validateConditions,
} from '../validation.js';
import { type WriteRequest, writeOp } from './writes.js';
import type { DeferredSeal, DeferredSealingStore } from '../../shared/deferred-seal.js';

export interface EmbeddedEventStoreOptions {
  /** A file (parent directories are created) or ':memory:'. */
  readonly path: string;
  /** EventStoreDB 24.10's limit by default. */
  readonly maxAppendSize?: number;
  /** Open an existing store read-only, e.g. from a second process while the server runs. */
  readonly readOnly?: boolean;
  /** How long a write waits for another process's write lock. */
  readonly busyTimeoutMs?: number;
  /** Idle poll for commits made by OTHER processes (in-process appends wake subscribers at once). */
  readonly crossProcessPollMs?: number;
  /** Rows per SQLite query when paging reads. */
  readonly pageSize?: number;
  /**
   * Commit on a worker thread (commit-thread.ts), so the WAL fsync of each group commit does not
   * block the event loop: worth it when the loop has other work meanwhile (the engine's HTTP API
   * turns it on). A store driven alone (a script awaiting each append) is faster without the
   * thread hop, hence the default false. Ignored for ':memory:' and read-only stores.
   */
  readonly commitThread?: boolean;
  /** With `commitThread`: how often its checkpoint worker runs (WalCheckpointer's default otherwise). */
  readonly checkpointIntervalMs?: number;
}

const DEFAULTS = { maxAppendSize: 1_048_576, busyTimeoutMs: 5_000, crossProcessPollMs: 250, pageSize: 100 } as const;
/** Rows a filtered $all query may scan before yielding, so one page never blocks the loop for long. */
const SCAN_WINDOW = 20_000n;

type State = 'open' | 'closing' | 'closed';

/**
 * The embedded event store: EventStoreDB semantics on one SQLite file (better-sqlite3, WAL).
 *
 * Durability: journal_mode=WAL with synchronous=FULL — every commit fsyncs the WAL, so an append
 * whose promise resolved survives kill -9 AND power loss (NORMAL would survive kill -9 only).
 * Group commit keeps that affordable: all writes of one event-loop turn share one transaction.
 * With `commitThread`, that transaction runs on a worker thread (commit-thread.ts) so the fsync
 * does not stall the event loop; an append still resolves once its transaction committed, and
 * this connection (every read) only ever sees committed, durable writes.
 */
export class EmbeddedEventStore implements EventStore, EmbeddedStoreInternals, DeferredSealingStore {
  readonly kind = 'embedded' as const;
  /** Conditions are checked in the append's own transaction (writes.ts). */
  readonly conditionalAppends = true;

  private state: State = 'open';
  private closing: Promise<void> | undefined;
  private readonly queries: EventQueries;
  private readonly committer: GroupCommitter<WriteRequest>;
  private readonly persistent: EmbeddedPersistentSubscriptions;
  private readonly subscriptions = new Set<EmbeddedCatchUpSubscription>();
  private readonly watchers = new Set<() => void>();
  private readonly appendListeners = new Set<(head: Position) => void>();
  /** The newest events, read once for all persistent groups. */
  private readonly tail = new TailCache((after, limit) => this.queries.readAllAfter(after, limit));
  private readonly catchUpSource: CatchUpSource;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastDataVersion = 0n;
  private lastNotifiedHead: bigint;

  private constructor(
    private readonly db: Database.Database,
    private readonly readOnly: boolean,
    private readonly maxAppendSize: number,
    private readonly pollMs: number,
    private readonly pageSize: number,
    private readonly commitThread: CommitThread | undefined,
  ) {
    this.queries = new EventQueries(db);
    const queries = this.queries;
    let commitBatch: CommitBatch<WriteRequest>;
    if (commitThread !== undefined) {
      commitBatch = (batch) => commitThread.commit(batch);
    } else {
      const transaction = new BatchTransaction(db, () => queries.headSeq());
      commitBatch = (batch) => transaction.run(batch.map((request) => writeOp(queries, request)));
    }
    this.committer = new GroupCommitter<WriteRequest>(commitBatch, (head) => this.notifyIfAdvanced(head));
    this.lastNotifiedHead = this.queries.headSeq();
    this.catchUpSource = {
      headSeq: () => {
        this.assertNotClosed();
        return this.queries.headSeq();
      },
      readAllPage: (direction, from, bound, filter, limit) => {
        this.assertNotClosed();
        return this.queries.readAll(direction, from, bound, filter, limit);
      },
      watch: (wake) => this.watch(wake),
      release: (subscription) => {
        this.subscriptions.delete(subscription);
        this.updatePolling();
      },
    };
    this.persistent = new EmbeddedPersistentSubscriptions(this);
  }

  static async open(options: EmbeddedEventStoreOptions): Promise<EmbeddedEventStore> {
    const { path } = options;
    const readOnly = options.readOnly ?? false;
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs;
    let db: Database.Database;
    try {
      if (path !== ':memory:' && !readOnly) mkdirSync(dirname(resolvePath(path)), { recursive: true });
      db = new Database(path, { readonly: readOnly, fileMustExist: readOnly, timeout: busyTimeoutMs });
    } catch (error) {
      throw new StoreUnavailableError(`Cannot open the event store at ${path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      if (!readOnly) {
        db.pragma('journal_mode = WAL');
        // FULL: fsync the WAL on every commit (see the class comment).
        db.pragma('synchronous = FULL');
        db.pragma('journal_size_limit = 67108864');
      }
      // 8 MiB page cache: reads stream through it; a bigger cache only raises RSS (bench: readAll RSS figure).
      db.pragma('cache_size = -8192');
      db.pragma('temp_store = MEMORY');
      db.defaultSafeIntegers(true);
      db.function('regexp', { deterministic: true }, regexpSqlFunction);
      if (readOnly) checkSchema(db);
      else migrate(db);
    } catch (error) {
      db.close();
      throw new StoreUnavailableError(`Cannot prepare the event store at ${path}: ${(error as Error).message}`, { cause: error });
    }
    let commitThread: CommitThread | undefined;
    if (options.commitThread === true && !readOnly && path !== ':memory:' && path !== '') {
      try {
        commitThread = await CommitThread.start(path, busyTimeoutMs, options.checkpointIntervalMs);
      } catch (error) {
        db.close();
        throw error;
      }
    }
    const store = new EmbeddedEventStore(
      db,
      readOnly,
      options.maxAppendSize ?? DEFAULTS.maxAppendSize,
      options.crossProcessPollMs ?? DEFAULTS.crossProcessPollMs,
      options.pageSize ?? DEFAULTS.pageSize,
      commitThread,
    );
    if (!readOnly) {
      try {
        await store.persistent.start();
      } catch (error) {
        await store.close();
        throw error;
      }
    }
    return store;
  }

  // ---------------------------------------------------------------- writes

  async append(stream: string, events: readonly EventData[], options?: AppendWriteOptions): Promise<AppendResult> {
    this.assertOpen();
    return this.submitAppend(stream, events, options?.expectedRevision ?? 'any', false, options?.conditions);
  }

  async appendSystem(stream: string, events: readonly EventData[], expectedRevision: ExpectedRevision = 'any'): Promise<AppendResult> {
    this.assertNotClosed();
    return this.submitAppend(stream, events, expectedRevision, true);
  }

  async deleteStream(stream: string, options?: AppendOptions): Promise<void> {
    this.assertOpen();
    const expected = options?.expectedRevision ?? 'any';
    validateStreamName(stream, true);
    validateExpectedRevision(expected);
    return this.submit({ kind: 'delete', stream, expected });
  }

  async tombstoneStream(stream: string, options?: AppendOptions): Promise<void> {
    this.assertOpen();
    const expected = options?.expectedRevision ?? 'any';
    validateStreamName(stream, true);
    validateExpectedRevision(expected);
    return this.submit({ kind: 'tombstone', stream, expected });
  }

  async setTruncateBefore(stream: string, revision: bigint): Promise<void> {
    this.assertNotClosed();
    validateStreamName(stream, true);
    validateRevision(revision, 'revision');
    return this.submit({ kind: 'truncate', stream, revision });
  }

  /**
   * `append`, completing each event's seal (shared/deferred-seal.ts) where it is committed: on the
   * commit thread when the store has one, so the AES-GCM of personal data leaves the event loop.
   */
  async appendSealing(stream: string, events: readonly EventData[], seals: readonly (DeferredSeal | undefined)[], options?: AppendWriteOptions): Promise<AppendResult> {
    this.assertOpen();
    return this.submitAppend(stream, events, options?.expectedRevision ?? 'any', false, options?.conditions, seals);
  }

  private submitAppend(
    stream: string,
    events: readonly EventData[],
    expected: ExpectedRevision,
    allowSystem: boolean,
    conditions?: readonly AppendCondition[],
    seals?: readonly (DeferredSeal | undefined)[],
  ): Promise<AppendResult> {
    validateStreamName(stream, allowSystem);
    validateExpectedRevision(expected);
    const checked = validateConditions(stream, conditions);
    const prepared = prepareEvents(stream, events, this.maxAppendSize, seals);
    return this.submit(checked.length > 0 ? { kind: 'append', stream, events: prepared, expected, conditions: checked } : { kind: 'append', stream, events: prepared, expected });
  }

  private submit<T>(request: WriteRequest): Promise<T> {
    if (this.readOnly) return Promise.reject(new StoreUnavailableError('The event store was opened read-only'));
    return this.committer.submit<T>(request);
  }

  // ---------------------------------------------------------------- reads

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncGenerator<RecordedEvent, void, undefined> {
    this.assertNotClosed();
    validateStreamName(stream, true);
    const direction = validateDirection(options.direction);
    const from = validateRevision(options.fromRevision ?? (direction === 'forwards' ? 'start' : 'end'), 'fromRevision');
    let remaining = validateMaxCount(options.maxCount);
    const notFound = validateNotFound(options.notFound);
    const state = this.queries.stream(stream);
    if (state?.tombstoned === true) throw new StreamDeletedError(stream);
    if (state === undefined || state.lastRevision < 0n || state.softDeleted) {
      if (notFound === 'empty') return;
      throw new StreamNotFoundError(stream);
    }
    const lowest = state.truncateBefore;
    const forwards = direction === 'forwards';
    let next: bigint;
    if (forwards) next = from === 'start' ? lowest : from === 'end' ? state.lastRevision + 1n : from < lowest ? lowest : from;
    else next = from === 'end' ? state.lastRevision : from === 'start' ? 0n : from;
    // Past the end (a tail read of an up-to-date state, say): nothing to query.
    if (forwards && next > state.lastRevision) return;
    while (remaining > 0 && (forwards || next >= lowest)) {
      this.assertNotClosed();
      const limit = Math.min(this.pageSize, remaining);
      const page = this.queries.readStream(state.id, stream, direction, next, lowest, limit);
      for (const event of page) yield event;
      remaining -= page.length;
      const last = page[page.length - 1];
      if (page.length < limit || last === undefined) return;
      next = forwards ? last.revision + 1n : last.revision - 1n;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent, void, undefined> {
    this.assertNotClosed();
    const direction = validateDirection(options.direction);
    const from = validatePosition(options.fromPosition ?? (direction === 'forwards' ? 'start' : 'end'), 'fromPosition');
    let remaining = validateMaxCount(options.maxCount);
    const filter = compileFilter(options.filter);
    const forwards = direction === 'forwards';
    const head = this.queries.headSeq();
    // Forwards: cursor is an exclusive lower bound; backwards: an exclusive upper bound.
    let cursor: bigint;
    if (forwards) cursor = from === 'start' ? 0n : from === 'end' ? head : from.commit - 1n;
    else cursor = from === 'end' ? head + 1n : from === 'start' ? 1n : from.commit + 1n;
    while (remaining > 0) {
      this.assertNotClosed();
      const limit = Math.min(this.pageSize, remaining);
      let page: AllPage;
      if (forwards) {
        const current = this.queries.headSeq();
        if (cursor >= current) return;
        const bound = filter === NO_FILTER || current - cursor <= SCAN_WINDOW ? current : cursor + SCAN_WINDOW;
        page = this.queries.readAll(direction, cursor, bound, filter, limit);
      } else {
        if (cursor <= 1n) return;
        const bound = filter === NO_FILTER || cursor - 1n <= SCAN_WINDOW ? 1n : cursor - SCAN_WINDOW;
        page = this.queries.readAll(direction, cursor, bound, filter, limit);
      }
      for (const event of page.events) yield event;
      remaining -= page.events.length;
      cursor = page.scannedTo;
    }
  }

  readAllAfter(after: Position | undefined, maxCount: number): RecordedEvent[] {
    this.assertNotClosed();
    return this.tail.read(after?.commit ?? 0n, maxCount, this.lastNotifiedHead);
  }

  async headPosition(): Promise<Position | undefined> {
    this.assertNotClosed();
    const head = this.queries.headSeq();
    return head === 0n ? undefined : { commit: head, prepare: head };
  }

  // ---------------------------------------------------------------- subscriptions

  subscribeToAll(options: SubscribeToAllOptions = {}): CatchUpSubscription {
    this.assertOpen();
    const filter: SqlFilter = compileFilter(options.filter);
    const from = validatePosition(options.fromPosition ?? 'end', 'fromPosition');
    const head = this.queries.headSeq();
    const after = from === 'start' ? 0n : from === 'end' ? head : from.commit;
    const subscription = new EmbeddedCatchUpSubscription(this.catchUpSource, {
      after,
      target: head,
      filter,
      pageSize: this.pageSize,
      scanWindow: SCAN_WINDOW,
    });
    this.subscriptions.add(subscription);
    this.updatePolling();
    return subscription;
  }

  onAppended(listener: (head: Position) => void): () => void {
    this.appendListeners.add(listener);
    this.updatePolling();
    return () => {
      this.appendListeners.delete(listener);
      this.updatePolling();
    };
  }

  private watch(wake: () => void): () => void {
    this.watchers.add(wake);
    this.updatePolling();
    return () => {
      this.watchers.delete(wake);
      this.updatePolling();
    };
  }

  /** After our own commits (synchronously) and when the idle poll sees another process's commit. */
  private notifyIfAdvanced(head: bigint): void {
    if (this.state === 'closed') return;
    if (head <= this.lastNotifiedHead) return;
    this.lastNotifiedHead = head;
    const position: Position = { commit: head, prepare: head };
    for (const listener of [...this.appendListeners]) {
      try {
        listener(position);
      } catch (error) {
        process.emitWarning(`onAppended listener failed: ${(error as Error).message}`);
      }
    }
    for (const wake of [...this.watchers]) wake();
  }

  /**
   * Cross-process only: PRAGMA data_version changes when another connection commits. Runs while
   * anyone listens (catch-up subscriptions, onAppended). It keeps the process alive only while a
   * consumer is actually waiting for the next event, as an open EventStoreDB stream would.
   */
  private updatePolling(): void {
    const needed = this.state !== 'closed' && (this.subscriptions.size > 0 || this.watchers.size > 0 || this.appendListeners.size > 0);
    if (needed && this.pollTimer === undefined) {
      this.lastDataVersion = this.queries.dataVersion();
      this.pollTimer = setInterval(() => this.poll(), this.pollMs);
    } else if (!needed && this.pollTimer !== undefined) {
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
    }
    if (this.pollTimer === undefined) return;
    if (this.watchers.size > 0) this.pollTimer.ref();
    else this.pollTimer.unref();
  }

  private poll(): void {
    if (this.state === 'closed') return;
    try {
      const version = this.queries.dataVersion();
      if (version === this.lastDataVersion) return;
      this.lastDataVersion = version;
      this.notifyIfAdvanced(this.queries.headSeq());
    } catch (error) {
      process.emitWarning(`Event store poll failed: ${(error as Error).message}`);
    }
  }

  // ---------------------------------------------------------------- persistent subscriptions (delegated)

  async createPersistentSubscription(source: SubscriptionSource, group: string, settings?: Partial<PersistentSubscriptionSettings>): Promise<void> {
    return this.persistentEngine().createPersistentSubscription(source, group, settings);
  }

  async updatePersistentSubscription(source: SubscriptionSource, group: string, settings: Partial<PersistentSubscriptionSettings>): Promise<void> {
    return this.persistentEngine().updatePersistentSubscription(source, group, settings);
  }

  async deletePersistentSubscription(source: SubscriptionSource, group: string): Promise<void> {
    return this.persistentEngine().deletePersistentSubscription(source, group);
  }

  async listPersistentSubscriptions(): Promise<PersistentSubscriptionInfo[]> {
    return this.persistentEngine().listPersistentSubscriptions();
  }

  async getPersistentSubscriptionInfo(source: SubscriptionSource, group: string): Promise<PersistentSubscriptionInfo> {
    return this.persistentEngine().getPersistentSubscriptionInfo(source, group);
  }

  subscribeToPersistentSubscription(source: SubscriptionSource, group: string, options?: SubscribePersistentOptions): PersistentSubscription {
    return this.persistentEngine().subscribeToPersistentSubscription(source, group, options);
  }

  async listParkedMessages(source: SubscriptionSource, group: string, options?: { maxCount?: number }): Promise<ParkedMessage[]> {
    return this.persistentEngine().listParkedMessages(source, group, options);
  }

  async replayParkedMessages(source: SubscriptionSource, group: string, options?: ReplayParkedOptions): Promise<void> {
    return this.persistentEngine().replayParkedMessages(source, group, options);
  }

  private persistentEngine(): EmbeddedPersistentSubscriptions {
    this.assertOpen();
    if (this.readOnly) throw new StoreUnavailableError('Persistent subscriptions are not available on a read-only event store');
    return this.persistent;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Not part of the port: counters for metrics and tests. */
  diagnostics(): { commits: number; pendingWrites: number; catchUpSubscriptions: number; commitThread: boolean } {
    return { commits: this.committer.commits, pendingWrites: this.committer.pending, catchUpSubscriptions: this.subscriptions.size, commitThread: this.commitThread !== undefined };
  }

  async health(): Promise<StoreHealth> {
    if (this.state !== 'open') return { ok: false, detail: 'closed' };
    try {
      this.queries.headSeq();
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  /** Idempotent. Stops the persistent engine (it may still write checkpoints), commits queued writes, ends subscriptions. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    try {
      if (!this.readOnly) await this.persistent.close();
    } finally {
      await this.committer.drain(); // never rejects: each write's promise carries its own outcome
      await this.commitThread?.close();
      this.state = 'closed';
      for (const subscription of [...this.subscriptions]) subscription.terminate(new StoreUnavailableError('The event store was closed'));
      this.subscriptions.clear();
      this.watchers.clear();
      this.appendListeners.clear();
      this.updatePolling();
      this.db.close();
    }
  }

  /** Public API: refuses as soon as close() was called. */
  private assertOpen(): void {
    if (this.state !== 'open') throw new StoreUnavailableError('The event store is closed');
  }

  /** Internals (used by the persistent engine while it shuts down) and reads: refuse once closed. */
  private assertNotClosed(): void {
    if (this.state === 'closed') throw new StoreUnavailableError('The event store is closed');
  }
}

