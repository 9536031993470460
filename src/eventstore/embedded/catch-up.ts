import type { CatchUpSubscription, Direction, RecordedEvent } from '../port.js';
import { NO_FILTER, type SqlFilter } from './filters.js';
import type { AllPage } from './queries.js';

/** What a catch-up subscription needs from the store. */
export interface CatchUpSource {
  /** Current $all head seq (0n when empty). Throws StoreUnavailableError once closed. */
  headSeq(): bigint;
  readAllPage(direction: Direction, from: bigint, bound: bigint, filter: SqlFilter, limit: number): AllPage;
  /** Call `wake` after every commit (in-process at once, other processes' on the next idle poll). Returns unwatch. */
  watch(wake: () => void): () => void;
  /** The subscription ended: forget it. */
  release(subscription: EmbeddedCatchUpSubscription): void;
}

export interface CatchUpOptions {
  /** Exclusive start seq. */
  readonly after: bigint;
  /** The head at subscribe time: caughtUp resolves once everything up to it was handed out. */
  readonly target: bigint;
  readonly filter: SqlFilter;
  readonly pageSize: number;
  /** Rows scanned per query under a filter, so one pull never blocks the loop for long. */
  readonly scanWindow: bigint;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A pull-driven catch-up subscription: at most one page is buffered (back-pressure is the
 * consumer's pace). History is read up to the subscribe-time head, then it goes live; when idle it
 * sleeps until the store's watch wakes it (no polling loop of its own).
 */
export class EmbeddedCatchUpSubscription implements CatchUpSubscription, AsyncIterator<RecordedEvent> {
  readonly caughtUp: Promise<void>;
  private resolveCaughtUp!: () => void;
  private rejectCaughtUp!: (error: Error) => void;
  private caughtUpSettled = false;

  private cursor: bigint;
  private readonly target: bigint;
  private historyDone: boolean;
  private buffer: (RecordedEvent | undefined)[] = [];
  private index = 0;
  private ended = false;
  private failure: Error | undefined;
  private wakeWaiter: (() => void) | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private pulling = false;
  private prefetchScheduled = false;

  constructor(
    private readonly source: CatchUpSource,
    private readonly options: CatchUpOptions,
  ) {
    this.caughtUp = new Promise<void>((resolve, reject) => {
      this.resolveCaughtUp = resolve;
      this.rejectCaughtUp = reject;
    });
    // Whoever does not await caughtUp must not see an unhandled rejection.
    this.caughtUp.catch(() => undefined);
    this.cursor = options.after;
    this.target = options.target;
    this.historyDone = this.cursor >= this.target;
    if (this.historyDone) this.settleCaughtUp();
    else this.schedulePrefetch();
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    const result = this.chain.then(() => this.pull());
    this.chain = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    await this.unsubscribe();
    return DONE;
  }

  unsubscribe(): Promise<void> {
    this.end(undefined);
    return Promise.resolve();
  }

  /** The store is closing (or failed): the next pull throws `error`. */
  terminate(error: Error): void {
    this.end(error);
  }

  private end(error: Error | undefined): void {
    if (this.ended || this.failure !== undefined) return;
    if (error === undefined) this.ended = true;
    else this.failure = error;
    this.buffer = [];
    this.index = 0;
    if (!this.caughtUpSettled) {
      this.caughtUpSettled = true;
      this.rejectCaughtUp(error ?? new Error('Subscription ended before it caught up'));
    }
    this.wake();
    this.source.release(this);
  }

  private async pull(): Promise<IteratorResult<RecordedEvent>> {
    this.pulling = true;
    try {
      for (;;) {
        if (this.failure !== undefined) {
          const failure = this.failure;
          this.ended = true;
          this.failure = undefined;
          throw failure;
        }
        if (this.ended) return DONE;
        if (this.index < this.buffer.length) return { value: this.take(), done: false };
        let scanned: boolean;
        try {
          scanned = this.fill();
        } catch (error) {
          this.end(error instanceof Error ? error : new Error(String(error)));
          continue;
        }
        if (this.index < this.buffer.length) continue;
        if (scanned) await nextTurn();
        else await this.sleep();
      }
    } finally {
      this.pulling = false;
    }
  }

  private take(): RecordedEvent {
    const event = this.buffer[this.index] as RecordedEvent;
    this.buffer[this.index] = undefined;
    this.index += 1;
    this.checkCaughtUp();
    if (this.index >= this.buffer.length && !this.historyDone) this.schedulePrefetch();
    return event;
  }

  /** Read the next page (one bounded query). False when there was nothing beyond the cursor. */
  private fill(): boolean {
    const head = this.source.headSeq();
    const limit = this.historyDone ? head : this.target;
    if (this.cursor >= limit) return false;
    const { filter, pageSize, scanWindow } = this.options;
    const bound = filter === NO_FILTER || limit - this.cursor <= scanWindow ? limit : this.cursor + scanWindow;
    const page = this.source.readAllPage('forwards', this.cursor, bound, filter, pageSize);
    this.buffer = page.events;
    this.index = 0;
    this.cursor = page.scannedTo;
    if (!this.historyDone && this.cursor >= this.target) this.historyDone = true;
    this.checkCaughtUp();
    return true;
  }

  private checkCaughtUp(): void {
    if (this.caughtUpSettled || !this.historyDone) return;
    const nextEvent = this.buffer[this.index];
    if (nextEvent !== undefined && nextEvent.position.commit <= this.target) return;
    this.settleCaughtUp();
  }

  /** Deferred a turn so the consumer processes the last historical event before caughtUp continuations run. */
  private settleCaughtUp(): void {
    this.caughtUpSettled = true;
    setImmediate(() => this.resolveCaughtUp());
  }

  /** Skip non-matching history without a consumer pull, so caughtUp can resolve on its own. */
  private schedulePrefetch(): void {
    if (this.prefetchScheduled) return;
    this.prefetchScheduled = true;
    setImmediate(() => {
      this.prefetchScheduled = false;
      if (this.ended || this.failure !== undefined || this.pulling || this.historyDone || this.index < this.buffer.length) return;
      try {
        this.fill();
      } catch (error) {
        this.end(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (this.index >= this.buffer.length && !this.historyDone) this.schedulePrefetch();
    });
  }

  private sleep(): Promise<void> {
    return new Promise<void>((resolve) => {
      const unwatch = this.source.watch(() => this.wake());
      this.wakeWaiter = () => {
        unwatch();
        resolve();
      };
    });
  }

  private wake(): void {
    const waiter = this.wakeWaiter;
    this.wakeWaiter = undefined;
    waiter?.();
  }
}
