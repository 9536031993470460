import type { Logger } from 'pino';
import { decodeEvent } from '../contracts/events/codec.js';
import type { CatchUpSubscription, EventStore } from '../eventstore/port.js';

type Outcome = 'completed' | 'failed';

interface Waiter {
  resolve(outcome: Outcome | 'timeout'): void;
}

export interface ScoringWaiterOptions {
  /**
   * How long the subscription outlives the last waiter, so a steady trickle of waiting requests
   * does not open a subscription per request. Default 5 s.
   */
  readonly lingerMs?: number;
}

const DEFAULT_LINGER_MS = 5_000;

/**
 * The request-response pattern without polling: one live subscription to $all, filtered on
 * scoring outcomes, wakes the requests waiting for their scoring id. Register before the
 * command is appended so no outcome can slip between the append and the wait.
 *
 * The subscription exists only while someone waits (plus `lingerMs`): a live subscription reads
 * every commit of the store, work wasted on a server whose clients do not wait (most submit and
 * poll). It is opened from the store's end by the first wait(), i.e. before that request appends
 * its command, so its outcome is still seen.
 */
export class ScoringWaiter {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private subscription: CatchUpSubscription | undefined;
  private pump: Promise<void> | undefined;
  private linger: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly lingerMs: number;

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
    options: ScoringWaiterOptions = {},
  ) {
    this.lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  }

  /** Resolves with the outcome of `scoringId`, or 'timeout' after `timeoutMs`. */
  wait(scoringId: string): { promise: (timeoutMs: number) => Promise<Outcome | 'timeout'>; cancel(): void } {
    this.ensureSubscribed();
    let settle: (outcome: Outcome | 'timeout') => void = () => undefined;
    const settled = new Promise<Outcome | 'timeout'>((resolve) => (settle = resolve));
    const waiter: Waiter = { resolve: (outcome) => settle(outcome) };
    const set = this.waiters.get(scoringId) ?? new Set<Waiter>();
    set.add(waiter);
    this.waiters.set(scoringId, set);
    const remove = () => {
      set.delete(waiter);
      if (set.size === 0 && this.waiters.get(scoringId) === set) this.waiters.delete(scoringId);
      if (this.waiters.size === 0) this.releaseLater();
    };
    return {
      promise: async (timeoutMs) => {
        const timer = setTimeout(() => settle('timeout'), timeoutMs);
        try {
          return await settled;
        } finally {
          clearTimeout(timer);
          remove();
        }
      },
      cancel: () => {
        settle('timeout');
        remove();
      },
    };
  }

  /** Whether the outcome subscription is open (diagnostics and tests). */
  get subscribed(): boolean {
    return this.subscription !== undefined;
  }

  private ensureSubscribed(): void {
    if (this.linger !== undefined) {
      clearTimeout(this.linger);
      this.linger = undefined;
    }
    if (this.subscription || this.closed) return;
    const subscription = this.store.subscribeToAll({ fromPosition: 'end', filter: { on: 'eventType', regex: '^ai\\.scoring\\.(completed|failed)\\.v\\d+$' } });
    this.subscription = subscription;
    this.pump = (async () => {
      try {
        for await (const recorded of subscription) {
          const decoded = decodeEvent(recorded);
          if (!decoded.ok) continue;
          const event = decoded.event;
          if (event.type !== 'ai.scoring.completed' && event.type !== 'ai.scoring.failed') continue;
          const waiting = this.waiters.get(event.data.scoringId);
          if (!waiting) continue;
          const outcome: Outcome = event.type === 'ai.scoring.completed' ? 'completed' : 'failed';
          for (const waiter of waiting) waiter.resolve(outcome);
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'scoring outcome subscription ended; waits will time out until it restarts');
      } finally {
        if (this.subscription === subscription) this.subscription = undefined;
      }
    })();
  }

  /** Nobody waits: close the subscription once nobody has waited for `lingerMs`. */
  private releaseLater(): void {
    if (this.subscription === undefined || this.linger !== undefined) return;
    if (this.lingerMs <= 0) {
      void this.unsubscribe();
      return;
    }
    this.linger = setTimeout(() => {
      this.linger = undefined;
      if (this.waiters.size === 0) void this.unsubscribe();
    }, this.lingerMs);
    this.linger.unref();
  }

  /** Ends the current subscription; a wait() from now on opens a new one. */
  private async unsubscribe(): Promise<void> {
    const subscription = this.subscription;
    const pump = this.pump;
    this.subscription = undefined;
    this.pump = undefined;
    try {
      await subscription?.unsubscribe();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not close the scoring outcome subscription');
    }
    await pump;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.linger !== undefined) {
      clearTimeout(this.linger);
      this.linger = undefined;
    }
    for (const set of this.waiters.values()) for (const waiter of set) waiter.resolve('timeout');
    this.waiters.clear();
    await this.unsubscribe();
  }
}
