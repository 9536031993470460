import { afterEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { scoringRequestDecider } from '../../src/aggregates/scoring-request.js';
import { subscriptionDecider } from '../../src/aggregates/subscription.js';
import { EXAMPLE_SCORING_REQUEST } from '../../src/contracts/scoring-request.js';
import { CommandHandler, ConcurrencyConflictError } from '../../src/engine/command-handler.js';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import { WrongExpectedVersionError } from '../../src/eventstore/errors.js';
import type { EventStore } from '../../src/eventstore/port.js';

const envelope = (tenantId: string) => ({ correlationId: 'c-1', causationId: 'c-1', tenantId, occurredAt: '2026-11-26T10:00:00.000Z' });
const at = '2026-11-26T10:00:00.000Z';

/** `inner` with its stream reads counted. */
function countingReads(inner: EventStore): { readonly store: EventStore; readonly reads: () => number } {
  let reads = 0;
  const store: EventStore = Object.assign(Object.create(inner) as EventStore, {
    readStream: (...args: Parameters<EventStore['readStream']>) => {
      reads++;
      return inner.readStream(...args);
    },
  });
  return { store, reads: () => reads };
}

describe('CommandHandler', () => {
  let store: EventStore | undefined;
  afterEach(async () => store?.close());

  it('decides on the latest state even when another handler (another process) appended since its cached load', async () => {
    store = await EmbeddedEventStore.open({ path: ':memory:' });
    const a = new CommandHandler(store);
    const b = new CommandHandler(store);
    const stream = 'subscription-acme';
    await a.execute(stream, subscriptionDecider, { type: 'CreateSubscription', tenantId: 'acme', subscriptionId: '0b6f2a52-4a8b-4d69-9a53-5e5f5b1c2d3e', plan: 'starter', at }, envelope('acme'));
    await b.execute(stream, subscriptionDecider, { type: 'ChangePlan', tenantId: 'acme', plan: 'pro', at }, envelope('acme'));
    // a's cached state says 'starter'; the tail read must show 'pro', so pro → enterprise is an upgrade from pro.
    const outcome = await a.execute(stream, subscriptionDecider, { type: 'ChangePlan', tenantId: 'acme', plan: 'enterprise', at }, envelope('acme'));
    expect(outcome.events[0]).toMatchObject({ type: 'billing.subscription.updated', data: { previousPlan: 'pro', plan: 'enterprise' } });
    expect(outcome.attempts).toBe(1);
    expect((await a.load(stream, subscriptionDecider)).revision).toBe(2n);
  });

  it('keeps no copy of a state that holds personal data: every command reads the stream, and cachedState has nothing', async () => {
    const inner = await EmbeddedEventStore.open({ path: ':memory:' });
    store = inner;
    const counting = countingReads(inner);
    const handler = new CommandHandler(counting.store);
    const scoringId = randomUUID();
    const stream = `scoring-${scoringId}`;
    await handler.execute(stream, scoringRequestDecider, { type: 'RequestScoring', scoringId, tenantId: 'acme', request: EXAMPLE_SCORING_REQUEST, requestedAt: at }, envelope('acme'));
    const before = counting.reads();
    await handler.execute(stream, scoringRequestDecider, { type: 'FailScoring', scoringId, attempt: 1, errorCode: 'model_timeout', reason: 'timed out', retryable: true, costCents: 0 }, envelope('acme'));
    expect(counting.reads()).toBe(before + 1);
    expect(handler.cachedState(stream, scoringRequestDecider)).toBeUndefined();
    // The subscription's state (no personal data) is still kept.
    await handler.execute('subscription-acme', subscriptionDecider, { type: 'CreateSubscription', tenantId: 'acme', subscriptionId: '0b6f2a52-4a8b-4d69-9a53-5e5f5b1c2d40', plan: 'pro', at }, envelope('acme'));
    expect(handler.cachedState('subscription-acme', subscriptionDecider)).toMatchObject({ revision: 0n });
  });

  it('gives up with ConcurrencyConflictError after the bounded attempts when the stream keeps moving', async () => {
    const inner = await EmbeddedEventStore.open({ path: ':memory:' });
    store = inner;
    let appends = 0;
    const racing: EventStore = Object.assign(Object.create(inner) as EventStore, {
      append: async (stream: string) => {
        appends++;
        throw new WrongExpectedVersionError(stream, 'no_stream', 0n);
      },
    });
    const handler = new CommandHandler(racing, { maxAttempts: 3, backoffMs: 1 });
    const error = await handler
      .execute('subscription-busy', subscriptionDecider, { type: 'CreateSubscription', tenantId: 'busy', subscriptionId: '0b6f2a52-4a8b-4d69-9a53-5e5f5b1c2d3f', plan: 'pro', at }, envelope('busy'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect(appends).toBe(3);
    expect(await inner.headPosition()).toBeUndefined();
  });

  describe('newStream: decide without reading the stream, the no_stream append proves it', () => {
    const request = (scoringId: string, loanAmount: number = EXAMPLE_SCORING_REQUEST.loanAmount) =>
      ({ type: 'RequestScoring', scoringId, tenantId: 'acme', request: { ...EXAMPLE_SCORING_REQUEST, loanAmount, downPayment: EXAMPLE_SCORING_REQUEST.propertyValue - loanAmount }, requestedAt: at }) as const;

    it('a new stream: one append, and no read of the stream', async () => {
      const inner = await EmbeddedEventStore.open({ path: ':memory:' });
      store = inner;
      const counting = countingReads(inner);
      const scoringId = randomUUID();
      const outcome = await new CommandHandler(counting.store).execute(`scoring-${scoringId}`, scoringRequestDecider, request(scoringId), envelope('acme'), { newStream: true });
      expect(outcome).toMatchObject({ attempts: 1, events: [{ type: 'ai.scoring.requested' }], append: { nextExpectedRevision: 0n } });
      expect(counting.reads()).toBe(0);
    });

    it('an existing stream: the same outcome as without the hint (idempotent no-op, or the rule error)', async () => {
      store = await EmbeddedEventStore.open({ path: ':memory:' });
      const scoringId = randomUUID();
      const stream = `scoring-${scoringId}`;
      await new CommandHandler(store).execute(stream, scoringRequestDecider, request(scoringId), envelope('acme'));
      for (const hint of [{ newStream: true }, {}]) {
        const handler = new CommandHandler(store); // nothing cached
        const again = await handler.execute(stream, scoringRequestDecider, request(scoringId), envelope('acme'), hint);
        expect(again).toMatchObject({ attempts: 1, events: [], state: { status: 'requested', attempt: 1 } });
        const other = await new CommandHandler(store).execute(stream, scoringRequestDecider, request(scoringId, 20_000_000), envelope('acme'), hint).catch((e: unknown) => e);
        expect(other).toMatchObject({ code: 'SCORING_ALREADY_REQUESTED' });
      }
      expect((await new CommandHandler(store).load(stream, scoringRequestDecider)).revision).toBe(0n);
    });
  });
});
