/**
 * The contracts against a real store (the embedded one, EventStoreDB semantics): a stream written
 * by a v1 writer is read back as v2, and usage recording works as designed: load from the newest
 * checkpoint (backwards read), decide, append at that revision with deterministic ids.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fold, stateFromNewestFirst } from '../../src/aggregates/decider.js';
import { scoringRequestDecider, type ScoringEvent } from '../../src/aggregates/scoring-request.js';
import { usageStreamFor } from '../../src/aggregates/streams.js';
import { usagePeriodDecider, type RecordUsage, type UsageEvent } from '../../src/aggregates/usage-period.js';
import { UNKNOWN_MODEL_VERSION } from '../../src/contracts/events/ai.js';
import { currentEntry, eventCatalog } from '../../src/contracts/events/catalog.js';
import { decodeEvent, encodeEvent, type DecodedEvent } from '../../src/contracts/events/codec.js';
import { buildStoredMetadata, type EventEnvelope } from '../../src/contracts/events/metadata.js';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import { StreamNotFoundError, WrongExpectedVersionError } from '../../src/eventstore/errors.js';
import type { EventStore, JsonValue } from '../../src/eventstore/port.js';
import { exampleOf } from './helpers.js';

const envelope: EventEnvelope = { correlationId: 'corr-1', causationId: 'corr-1', tenantId: 'acme-lending', occurredAt: '2025-03-14T09:26:53Z' };
const scoringId = '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const USAGE_STREAM = 'usage-acme-lending-2025-03';

let store: EventStore;
beforeEach(async () => {
  store = await EmbeddedEventStore.open({ path: ':memory:' });
});
afterEach(async () => {
  await store.close();
});

async function readDecoded(stream: string): Promise<DecodedEvent[]> {
  const out: DecodedEvent[] = [];
  for await (const recorded of store.readStream(stream)) {
    const result = decodeEvent(recorded);
    if (!result.ok) throw new Error(JSON.stringify(result.error.problems));
    out.push(result.event);
  }
  return out;
}

describe('reading a stream written with v1 events', () => {
  it('the reader gets v2 and the scoring aggregate folds it; the stored events stay v1', async () => {
    const stream = `scoring-${scoringId}`;
    await store.append(stream, [
      {
        id: '11111111-1111-4111-8111-111111111111',
        type: 'ai.scoring.requested.v1',
        data: exampleOf(currentEntry('ai.scoring.requested').schema) as JsonValue,
        metadata: buildStoredMetadata(envelope, 1),
      },
      {
        id: '22222222-2222-4222-8222-222222222222',
        type: 'ai.scoring.completed.v1',
        data: exampleOf(eventCatalog['ai.scoring.completed.v1'].schema) as JsonValue,
        metadata: buildStoredMetadata(envelope, 1),
      },
    ]);

    const events = await readDecoded(stream);
    expect(events.map((e) => `${e.type}@v${e.version} (stored v${e.storedVersion})`)).toEqual([
      'ai.scoring.requested@v1 (stored v1)',
      'ai.scoring.completed@v2 (stored v1)',
    ]);
    const completed = events[1];
    if (completed?.type !== 'ai.scoring.completed') throw new Error('expected completed');
    expect(completed.data.modelVersion).toBe(UNKNOWN_MODEL_VERSION);
    expect(completed.data.explanation.length).toBeGreaterThan(0);

    expect(fold(scoringRequestDecider, events as ScoringEvent[]).status).toBe('completed');

    const raw: string[] = [];
    for await (const recorded of store.readStream(stream)) raw.push(recorded.type);
    expect(raw).toEqual(['ai.scoring.requested.v1', 'ai.scoring.completed.v1']);
  });
});

describe('usage recording against the store', () => {
  async function loadUsage(stream: string) {
    const newestFirst: UsageEvent[] = [];
    let revision: bigint | 'no_stream' = 'no_stream';
    try {
      for await (const recorded of store.readStream(stream, { direction: 'backwards' })) {
        if (revision === 'no_stream') revision = recorded.revision;
        const decoded = decodeEvent(recorded);
        if (!decoded.ok) throw new Error(JSON.stringify(decoded.error.problems));
        const event = decoded.event as UsageEvent;
        newestFirst.push(event);
        if (usagePeriodDecider.isCheckpoint?.(event) === true) break;
      }
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    return { ...stateFromNewestFirst(usagePeriodDecider, newestFirst), revision };
  }

  /** A minimal command handler, as the engine would do it. */
  async function handle(command: RecordUsage) {
    const stream = usageStreamFor(command);
    const { state, revision } = await loadUsage(stream);
    const events = usagePeriodDecider.decide(command, state);
    const data = events.map((e) => encodeEvent(e, envelope, usagePeriodDecider.eventId?.(e) ?? crypto.randomUUID()));
    if (data.length > 0) await store.append(stream, data, { expectedRevision: revision });
    return { stream, data, revision };
  }

  const usage = (n: number): RecordUsage => ({
    type: 'RecordUsage',
    tenantId: 'acme-lending',
    scoringId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    aiCostCents: 700,
    recordedAt: '2025-03-14T09:30:00Z',
    subscription: { status: 'active', subscriptionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', plan: 'starter' },
  });

  it('loads from the newest checkpoint, appends with optimistic concurrency, and dedupes retries', async () => {
    for (let n = 1; n <= 4; n++) await handle(usage(n));
    // 4 usages + the 80% alert (after #3: 2,100 of 2,500) + the 100% throttle (after #4: 2,800).
    expect((await readDecoded(USAGE_STREAM)).map((e) => e.type)).toEqual([
      'billing.usage.recorded',
      'billing.usage.recorded',
      'billing.usage.recorded',
      'ai.cost.threshold_exceeded',
      'billing.usage.recorded',
      'ai.cost.threshold_exceeded',
    ]);
    const { state, read } = await loadUsage(USAGE_STREAM);
    expect(read).toBe(2);
    expect(state).toMatchObject({ usageCount: 4, aiCostCents: 2_800, lastScoringId: usage(4).scoringId });

    // Redelivery right after the append: nothing decided.
    expect((await handle(usage(4))).data).toEqual([]);

    // An append retried after a lost answer (same ids, same expected revision) writes nothing.
    const fifth = await handle(usage(5));
    const before = (await readDecoded(USAGE_STREAM)).length;
    await store.append(fifth.stream, fifth.data, { expectedRevision: fifth.revision });
    expect((await readDecoded(USAGE_STREAM)).length).toBe(before);

    // Decided afresh behind a newer usage, the duplicate carries the same id. The embedded store
    // keeps ids unique per stream and refuses it (WrongExpectedVersion); EventStoreDB only
    // guarantees dedupe for a same-revision retry and may write it: then downstream dedupes by id.
    await handle(usage(6));
    const outcome = await handle(usage(5)).then(
      (again) => ({ written: true as const, id: again.data[0]?.id }),
      (error: unknown) => ({ written: false as const, error }),
    );
    if (outcome.written) {
      expect(outcome.id).toBe(fifth.data[0]?.id);
    } else {
      expect(outcome.error).toBeInstanceOf(WrongExpectedVersionError);
      const ids = (await readDecoded(USAGE_STREAM)).filter((e) => e.type === 'billing.usage.recorded').map((e) => e.id);
      expect(ids).toHaveLength(6);
      expect(new Set(ids).size).toBe(6);
    }
  });
});
