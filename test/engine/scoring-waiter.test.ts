import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEvent } from '../../src/contracts/events/codec.js';
import { ScoringWaiter } from '../../src/engine/scoring-waiter.js';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';

const at = '2026-11-26T10:00:00.000Z';
const envelope = { correlationId: 'c-1', causationId: 'c-1', tenantId: 'acme', occurredAt: at };

function failed(scoringId: string) {
  const data = { scoringId, tenantId: 'acme', attempt: 1, errorCode: 'model_timeout', reason: 'slow', retryable: true, costCents: 0 } as const;
  return encodeEvent({ type: 'ai.scoring.failed', data }, envelope, randomUUID());
}

describe('ScoringWaiter', () => {
  let store: EmbeddedEventStore | undefined;
  let waiter: ScoringWaiter | undefined;
  afterEach(async () => {
    await waiter?.close();
    await store?.close();
  });

  it('subscribes only while someone waits: appends meanwhile cost no catch-up subscription', async () => {
    store = await EmbeddedEventStore.open({ path: ':memory:' });
    waiter = new ScoringWaiter(store, pino({ level: 'silent' }), { lingerMs: 0 });
    await store.append(`scoring-${randomUUID()}`, [failed(randomUUID())]);
    expect(waiter.subscribed).toBe(false);
    expect(store.diagnostics().catchUpSubscriptions).toBe(0);

    const scoringId = randomUUID();
    const wait = waiter.wait(scoringId);
    expect(waiter.subscribed).toBe(true);
    // The outcome is appended after wait() (as the route registers before it appends): it is seen.
    await store.append(`scoring-${scoringId}`, [failed(scoringId)]);
    expect(await wait.promise(5_000)).toBe('failed');

    await new Promise((resolve) => setImmediate(resolve));
    expect(waiter.subscribed).toBe(false);
    expect(store.diagnostics().catchUpSubscriptions).toBe(0);
  });

  it('a cancelled or timed-out wait releases the subscription; the next wait opens a new one', async () => {
    store = await EmbeddedEventStore.open({ path: ':memory:' });
    waiter = new ScoringWaiter(store, pino({ level: 'silent' }), { lingerMs: 0 });
    waiter.wait(randomUUID()).cancel();
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiter.subscribed).toBe(false);
    expect(await waiter.wait(randomUUID()).promise(5)).toBe('timeout');
    expect(waiter.subscribed).toBe(false);

    const scoringId = randomUUID();
    const wait = waiter.wait(scoringId);
    await store.append(`scoring-${scoringId}`, [failed(scoringId)]);
    expect(await wait.promise(5_000)).toBe('failed');
  });

  it('keeps the subscription for lingerMs after the last waiter, and reuses it for the next one', async () => {
    store = await EmbeddedEventStore.open({ path: ':memory:' });
    waiter = new ScoringWaiter(store, pino({ level: 'silent' }), { lingerMs: 60_000 });
    waiter.wait(randomUUID()).cancel();
    expect(waiter.subscribed).toBe(true);
    expect(store.diagnostics().catchUpSubscriptions).toBe(1);
    const scoringId = randomUUID();
    const wait = waiter.wait(scoringId);
    expect(store.diagnostics().catchUpSubscriptions).toBe(1);
    await store.append(`scoring-${scoringId}`, [failed(scoringId)]);
    expect(await wait.promise(5_000)).toBe('failed');
    await waiter.close();
    expect(waiter.subscribed).toBe(false);
    expect(store.diagnostics().catchUpSubscriptions).toBe(0);
  });
});
