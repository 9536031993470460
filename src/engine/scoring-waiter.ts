import type { Logger } from 'pino';
import { decodeEvent } from '../contracts/events/codec.js';
import type { CatchUpSubscription, EventStore } from '../eventstore/port.js';

type Outcome = 'completed' | 'failed';

interface Waiter {
  resolve(outcome: Outcome | 'timeout'): void;
}

/**
 * The request-response pattern without polling: one live subscription to $all, filtered on
 * scoring outcomes, wakes the requests waiting for their scoring id. Register before the
 * command is appended so no outcome can slip between the append and the wait.
 */
export class ScoringWaiter {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private subscription: CatchUpSubscription | undefined;
  private pump: Promise<void> | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
  ) {}

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

  /** Subscribe now, so outcomes are seen from this point on (call at start-up). */
  start(): void {
    this.ensureSubscribed();
  }

  private ensureSubscribed(): void {
    if (this.subscription) return;
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

  async close(): Promise<void> {
    for (const set of this.waiters.values()) for (const waiter of set) waiter.resolve('timeout');
    this.waiters.clear();
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.unsubscribe();
    await this.pump;
  }
}
