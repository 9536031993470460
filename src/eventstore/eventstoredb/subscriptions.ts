import type * as esdb from '@eventstore/db-client';
import type { CatchUpSubscription, NackAction, PersistentEvent, PersistentSubscription, RecordedEvent } from '../port.js';
import { mapError, type ErrorContext } from './errors.js';
import { fromResolved, toClientNackAction, type ClientResolved } from './mapping.js';

/**
 * Node streams from the client → the port's async iterables. Two client habits shape this file:
 * - unsubscribe() only cancels the gRPC call: a pending `for await` would then wait forever (or
 *   fail with ERR_STREAM_PREMATURE_CLOSE), so we also destroy the stream and end iteration quietly;
 * - an 'error' emitted while nobody iterates would crash the process, so we always listen; the
 *   error still surfaces (mapped) from the iterator, because the stream keeps it.
 */

/** A catch-up subscription to $all. */
export class EsdbCatchUpSubscription implements CatchUpSubscription {
  readonly caughtUp: Promise<void>;
  #resolveCaughtUp: () => void = () => undefined;
  #rejectCaughtUp: (error: Error) => void = () => undefined;
  /** Chunks taken from the client stream so far. */
  #received = 0;
  /** Set on the client's 'caughtUp': how many chunks make up the history. */
  #historyLength: number | undefined;
  #stopped = false;

  /**
   * `caughtUp` resolves once the consumer has been handed every event that preceded the client's
   * 'caughtUp' message (server 23.10+). When the server is older (or its version is unknown) it
   * never sends one, so `caughtUp` resolves at once: no guarantee about history on such servers.
   */
  constructor(
    private readonly sub: esdb.AllStreamSubscription,
    serverSendsCaughtUp: Promise<boolean>,
    private readonly ctx: ErrorContext,
  ) {
    this.caughtUp = new Promise<void>((resolve, reject) => {
      this.#resolveCaughtUp = resolve;
      this.#rejectCaughtUp = reject;
    });
    this.caughtUp.catch(() => undefined); // rejection is for whoever awaits it, not unhandled
    sub.once('caughtUp', () => {
      // Everything pushed before the marker is either already taken or still buffered.
      this.#historyLength = this.#received + sub.readableLength;
      this.#checkCaughtUp();
    });
    sub.on('error', (error: Error) => this.#rejectCaughtUp(mapError(error, ctx)));
    // If the version cannot be fetched, the subscription's own 'error' decides.
    serverSendsCaughtUp.then(
      (sends) => (sends ? undefined : this.#resolveCaughtUp()),
      () => undefined,
    );
  }

  #checkCaughtUp(): void {
    if (this.#historyLength !== undefined && this.#received >= this.#historyLength) this.#resolveCaughtUp();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RecordedEvent> {
    try {
      for await (const resolved of this.sub as AsyncIterable<ClientResolved>) {
        this.#received += 1;
        const event = fromResolved(resolved);
        // Resolve as the last history event is handed over: the consumer may await caughtUp
        // before asking for more.
        this.#checkCaughtUp();
        if (event !== undefined) yield event;
      }
    } catch (error) {
      if (!this.#stopped) throw mapError(error, this.ctx);
    } finally {
      await this.unsubscribe();
    }
  }

  async unsubscribe(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.sub.unsubscribe().catch(() => undefined);
    this.sub.destroy();
  }
}

type ClientPersistent = esdb.PersistentSubscriptionToAll | esdb.PersistentSubscriptionToStream;
type ClientPersistentEvent = ClientResolved & { readonly retryCount: number };

/** A connection to a persistent subscription group. The port acks by event id; the client by resolved event. */
export class EsdbPersistentSubscription implements PersistentSubscription {
  /** Delivered, not yet acked or nacked: event id → what the client needs to ack it (the link id when resolved). */
  readonly #inFlight = new Map<string, esdb.ResolvedEvent>();
  #stopped = false;

  constructor(
    private readonly sub: ClientPersistent,
    private readonly ctx: ErrorContext,
  ) {
    sub.on('error', () => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PersistentEvent> {
    try {
      for await (const resolved of this.sub as AsyncIterable<ClientPersistentEvent>) {
        const event = fromResolved(resolved);
        if (event === undefined) continue;
        this.#inFlight.set(event.id, resolved as esdb.ResolvedEvent);
        yield { event, retryCount: resolved.retryCount };
      }
    } catch (error) {
      if (!this.#stopped) throw mapError(error, this.ctx);
    } finally {
      await this.unsubscribe();
    }
  }

  /** Ids this connection was not handed (or already settled) are ignored, as the server ignores them. */
  #take(eventIds: readonly string[]): esdb.ResolvedEvent[] {
    const taken: esdb.ResolvedEvent[] = [];
    for (const id of eventIds) {
      const resolved = this.#inFlight.get(id);
      if (resolved === undefined) continue;
      this.#inFlight.delete(id);
      taken.push(resolved);
    }
    return taken;
  }

  async ack(...eventIds: string[]): Promise<void> {
    const events = this.#take(eventIds);
    if (events.length === 0) return;
    await this.sub.ack(...events).catch((error: unknown) => Promise.reject(mapError(error, this.ctx)));
  }

  async nack(action: NackAction, reason: string, ...eventIds: string[]): Promise<void> {
    const events = this.#take(eventIds);
    if (events.length === 0) return;
    await this.sub.nack(toClientNackAction(action), reason, ...events).catch((error: unknown) => Promise.reject(mapError(error, this.ctx)));
  }

  async unsubscribe(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#inFlight.clear();
    await this.sub.unsubscribe().catch(() => undefined);
    this.sub.destroy();
  }
}
