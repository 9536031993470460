import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventData, JsonObject, JsonValue, RecordedEvent } from '../../src/eventstore/port.js';
import { UNKNOWN_MODEL_VERSION } from '../../src/contracts/events/ai.js';
import { EVENT_TYPES, currentEntry, eventCatalog, type CatalogEntry, type DomainEvent, type EventDataOf } from '../../src/contracts/events/catalog.js';
import { InvalidEventError, decodeEvent, encodeEvent, toEventData, type DecodeResult } from '../../src/contracts/events/codec.js';
import { buildStoredMetadata, causedBy, type EventEnvelope } from '../../src/contracts/events/metadata.js';
import { explainScoring, upcastScoringCompletedV1 } from '../../src/contracts/events/upcasters.js';
import { exampleOf, paths } from './helpers.js';

const ENVELOPE: EventEnvelope = {
  correlationId: '5d0c9a9e-8d3b-4c38-b8f0-6b2f7b1f2a10',
  causationId: 'req-42',
  tenantId: 'acme-lending',
  userId: 'auth0|65f0c0ffee',
  occurredAt: '2025-03-14T09:26:53Z',
};
const ID = '0b8e4a8e-7f43-4c8f-9a53-2f6b1c0de001';

/** What a store would give back for appended EventData (a tiny in-memory stream). */
function record(events: readonly EventData[], streamId = 'scoring-3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b'): RecordedEvent[] {
  return events.map((e, i) => ({
    id: e.id,
    type: e.type,
    streamId,
    revision: BigInt(i),
    position: { commit: BigInt(100 + i), prepare: BigInt(100 + i) },
    data: JSON.parse(JSON.stringify(e.data)) as JsonValue,
    metadata: JSON.parse(JSON.stringify(e.metadata ?? {})) as JsonObject,
    created: new Date('2025-03-14T09:26:54Z'),
  }));
}

function ok(result: DecodeResult) {
  if (!result.ok) throw new Error(`decode failed: ${JSON.stringify(result.error.problems)}`);
  return result.event;
}
function failed(result: DecodeResult) {
  if (result.ok) throw new Error('decode unexpectedly succeeded');
  return result.error;
}

const completedV2 = exampleOf(currentEntry('ai.scoring.completed').schema) as EventDataOf<'ai.scoring.completed'>;
const completedV1 = exampleOf(eventCatalog['ai.scoring.completed.v1'].schema) as JsonObject;

describe('stored metadata', () => {
  it('carries the envelope, the schema version and EventStoreDB $correlationId / $causationId', () => {
    expect(buildStoredMetadata(ENVELOPE, 2)).toEqual({
      correlationId: ENVELOPE.correlationId,
      causationId: 'req-42',
      tenantId: 'acme-lending',
      userId: 'auth0|65f0c0ffee',
      occurredAt: '2025-03-14T09:26:53Z',
      schemaVersion: 2,
      $correlationId: ENVELOPE.correlationId,
      $causationId: 'req-42',
    });
  });

  it('omits userId when no person acted', () => {
    const { userId: _ignored, ...system } = ENVELOPE;
    expect(buildStoredMetadata(system, 1)).not.toHaveProperty('userId');
  });

  it('causedBy keeps the correlation and points the causation at the cause', () => {
    const cause = { id: ID, metadata: ENVELOPE };
    expect(causedBy(cause, '2025-03-14T10:00:00Z')).toEqual({ ...ENVELOPE, causationId: ID, occurredAt: '2025-03-14T10:00:00Z' });
    expect(causedBy(cause, '2025-03-14T10:00:00Z', { userId: undefined })).not.toHaveProperty('userId');
  });
});

describe('toEventData (validation on write)', () => {
  it.each(EVENT_TYPES.map((t) => [t] as const))('%s: writes the current version', (type) => {
    const entry = currentEntry(type);
    const data = exampleOf(entry.schema);
    const written = toEventData(type, data as never, ENVELOPE, ID);
    expect(written.type).toBe(`${type}.v${entry.currentVersion}`);
    expect(written.id).toBe(ID);
    expect(written.data).toEqual(data);
    expect(written.metadata).toEqual(buildStoredMetadata(ENVELOPE, entry.currentVersion));
  });

  it('writes ai.scoring.completed as v2', () => {
    expect(toEventData('ai.scoring.completed', completedV2, ENVELOPE, ID).type).toBe('ai.scoring.completed.v2');
  });

  it('drops undefined optional properties from the stored JSON', () => {
    const data = { ...(exampleOf(currentEntry('billing.subscription.cancelled').schema) as EventDataOf<'billing.subscription.cancelled'>), comment: undefined };
    expect(toEventData('billing.subscription.cancelled', data, ENVELOPE, ID).data).not.toHaveProperty('comment');
  });

  it('throws InvalidEventError with the paths of every problem, and nothing is produced', () => {
    const bad = { ...completedV2, matchScore: 140, reasons: [], extra: true } as unknown as EventDataOf<'ai.scoring.completed'>;
    let error: unknown;
    try {
      toEventData('ai.scoring.completed', bad, { ...ENVELOPE, tenantId: 'Not A Slug' }, 'not-a-uuid');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidEventError);
    const invalid = error as InvalidEventError;
    expect(invalid.code).toBe('INVALID_EVENT');
    expect(invalid.eventType).toBe('ai.scoring.completed.v2');
    expect(paths(invalid.problems).sort()).toEqual(['/data/extra', '/data/matchScore', '/data/reasons', '/id', '/metadata/tenantId'].sort());
    expect(invalid.message).toContain('/data/matchScore');
  });

  it('rejects a v1-shaped payload for a v2 writer', () => {
    expect(() => toEventData('ai.scoring.completed', completedV1 as unknown as EventDataOf<'ai.scoring.completed'>, ENVELOPE, ID)).toThrow(InvalidEventError);
  });

  it('rejects unknown types, missing envelope fields and bad occurredAt', () => {
    expect(() => toEventData('ai.scoring.exploded' as 'ai.scoring.failed', {} as never, ENVELOPE, ID)).toThrow(/unknown event type/);
    const { correlationId: _c, ...noCorrelation } = ENVELOPE;
    try {
      toEventData('ai.scoring.completed', completedV2, { ...(noCorrelation as EventEnvelope), occurredAt: 'today' }, ID);
      expect.fail('should throw');
    } catch (e) {
      expect(paths((e as InvalidEventError).problems).sort()).toEqual(['/metadata/correlationId', '/metadata/occurredAt']);
    }
  });

  it('encodeEvent takes an event body as deciders emit it', () => {
    expect(encodeEvent({ type: 'ai.scoring.completed', data: completedV2 }, ENVELOPE, ID)).toEqual(toEventData('ai.scoring.completed', completedV2, ENVELOPE, ID));
  });
});

describe('decodeEvent (validation on read)', () => {
  it.each(Object.values<CatalogEntry>(eventCatalog).map((e) => [e.versionedType, e] as const))('%s round-trips', (_type, entry) => {
    const [stored] = record([{ id: ID, type: entry.versionedType, data: exampleOf(entry.schema) as JsonValue, metadata: buildStoredMetadata(ENVELOPE, entry.version) }]);
    const event = ok(decodeEvent(stored as RecordedEvent));
    expect(event.type).toBe(entry.type);
    expect(event.version).toBe(entry.currentVersion);
    expect(event.storedVersion).toBe(entry.version);
    expect(event.storedType).toBe(entry.versionedType);
    expect(event.metadata).toEqual({ ...ENVELOPE, schemaVersion: entry.version });
    expect(event.metadata).not.toHaveProperty('$correlationId');
    expect(event.revision).toBe(0n);
    expect(event.position).toEqual({ commit: 100n, prepare: 100n });
  });

  it('gives a discriminated union usable without casts', () => {
    const [stored] = record([toEventData('ai.scoring.completed', completedV2, ENVELOPE, ID)]);
    const event: DomainEvent = ok(decodeEvent(stored as RecordedEvent));
    if (event.type !== 'ai.scoring.completed') throw new Error('narrowing');
    const version: 2 = event.version;
    expect(version).toBe(2);
    expect(event.data.modelVersion).toBe('mmp-score-2025.03.1');
    expect(event.data.eligibleProducts[0]?.monthlyPayment).toBe(218_735);
  });

  it('reports unknown types and unknown versions', () => {
    const meta = buildStoredMetadata(ENVELOPE, 1);
    const [unknown, future, unversioned, system] = record([
      { id: ID, type: 'ai.scoring.exploded.v1', data: {}, metadata: meta },
      { id: ID, type: 'ai.scoring.completed.v9', data: {}, metadata: meta },
      { id: ID, type: 'ai.scoring.completed', data: {}, metadata: meta },
      { id: ID, type: '$metadata', data: {}, metadata: {} },
    ]);
    expect(failed(decodeEvent(unknown as RecordedEvent))).toEqual({
      streamId: 'scoring-3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b',
      revision: 0n,
      eventId: ID,
      type: 'ai.scoring.exploded.v1',
      problems: [{ path: '/type', message: "unknown event type 'ai.scoring.exploded.v1'" }],
    });
    expect(failed(decodeEvent(future as RecordedEvent)).problems).toEqual([{ path: '/type', message: "unknown version 9 of 'ai.scoring.completed' (current: 2)" }]);
    expect(failed(decodeEvent(unversioned as RecordedEvent)).problems[0]?.path).toBe('/type');
    expect(failed(decodeEvent(system as RecordedEvent)).revision).toBe(3n);
  });

  it('reports payload and metadata problems with /data and /metadata paths', () => {
    const [stored] = record([
      {
        id: ID,
        type: 'ai.scoring.completed.v2',
        data: { ...completedV2, matchScore: -3 } as unknown as JsonValue,
        metadata: { ...buildStoredMetadata(ENVELOPE, 2), tenantId: 42, occurredAt: 'yesterday' },
      },
    ]);
    expect(paths(failed(decodeEvent(stored as RecordedEvent)).problems).sort()).toEqual(['/data/matchScore', '/metadata/occurredAt', '/metadata/tenantId']);
  });

  it('reports a schemaVersion that contradicts the stored type', () => {
    const [stored] = record([{ id: ID, type: 'ai.scoring.completed.v2', data: completedV2 as unknown as JsonValue, metadata: buildStoredMetadata(ENVELOPE, 1) }]);
    expect(failed(decodeEvent(stored as RecordedEvent)).problems).toEqual([{ path: '/metadata/schemaVersion', message: 'must equal the version of the stored type (2)' }]);
  });

  it('tolerates unknown metadata keys and drops them', () => {
    const [stored] = record([{ id: ID, type: 'ai.scoring.completed.v2', data: completedV2 as unknown as JsonValue, metadata: { ...buildStoredMetadata(ENVELOPE, 2), traceparent: '00-abc' } }]);
    expect(ok(decodeEvent(stored as RecordedEvent)).metadata).not.toHaveProperty('traceparent');
  });
});

describe('upcasting ai.scoring.completed v1 → v2', () => {
  it('derives the explanation from the reasons and marks the model version unknown', () => {
    const v1 = completedV1 as unknown as Parameters<typeof upcastScoringCompletedV1>[0];
    const v2 = upcastScoringCompletedV1(v1);
    expect(v2).toEqual({ ...v1, modelVersion: UNKNOWN_MODEL_VERSION, explanation: 'Score 78/100, moderate risk: Debt-to-income ratio is 8.2%, below 36%; Loan-to-value is 80%.' });
    expect(v1).not.toHaveProperty('modelVersion');
  });

  it('explanations are bounded and tidy', () => {
    expect(explainScoring(12, 'very_high', [{ code: 'LATE_PAYMENTS', detail: 'Two late payments.' }])).toBe('Score 12/100, very high risk: Two late payments.');
    const long = explainScoring(50, 'high', Array.from({ length: 20 }, () => ({ code: 'X_Y', detail: 'x'.repeat(500) })));
    expect(long.length).toBeLessThanOrEqual(2000);
    expect(long.endsWith('…')).toBe(true);
  });

  it('a reader of a stream written with v1 events gets v2 events; the stored events are untouched', () => {
    const scoringId = '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b';
    const requested = exampleOf(currentEntry('ai.scoring.requested').schema) as JsonValue;
    const legacyWriter: EventData[] = [
      { id: '11111111-1111-4111-8111-111111111111', type: 'ai.scoring.requested.v1', data: requested, metadata: buildStoredMetadata(ENVELOPE, 1) },
      { id: '22222222-2222-4222-8222-222222222222', type: 'ai.scoring.completed.v1', data: { ...completedV1, scoringId }, metadata: buildStoredMetadata(ENVELOPE, 1) },
    ];
    const stream = record(legacyWriter);
    const snapshot = structuredClone(stream);

    const decoded = stream.map((e) => ok(decodeEvent(e)));
    expect(decoded.map((e) => [e.type, e.version, e.storedVersion])).toEqual([
      ['ai.scoring.requested', 1, 1],
      ['ai.scoring.completed', 2, 1],
    ]);
    const completed = decoded[1];
    if (completed?.type !== 'ai.scoring.completed') throw new Error('expected completed');
    expect(completed.data.modelVersion).toBe(UNKNOWN_MODEL_VERSION);
    expect(completed.data.explanation).toMatch(/^Score 78\/100, moderate risk: /);
    expect(completed.storedType).toBe('ai.scoring.completed.v1');
    expect(completed.metadata.schemaVersion).toBe(1);
    expect(stream).toEqual(snapshot);

    // New writes go out as v2 and decode without upcasting.
    const next = record([toEventData('ai.scoring.completed', completedV2, ENVELOPE, ID)]);
    expect(next[0]?.type).toBe('ai.scoring.completed.v2');
    expect(ok(decodeEvent(next[0] as RecordedEvent)).storedVersion).toBe(2);
  });

  it('a stored v1 is validated against the v1 schema before upcasting', () => {
    const [bad] = record([{ id: ID, type: 'ai.scoring.completed.v1', data: { ...completedV1, reasons: [] }, metadata: buildStoredMetadata(ENVELOPE, 1) }]);
    expect(failed(decodeEvent(bad as RecordedEvent)).problems).toContainEqual(expect.objectContaining({ path: '/data/reasons' }));
    const [v2Shaped] = record([{ id: ID, type: 'ai.scoring.completed.v1', data: completedV2 as unknown as JsonValue, metadata: buildStoredMetadata(ENVELOPE, 1) }]);
    expect(paths(failed(decodeEvent(v2Shaped as RecordedEvent)).problems)).toEqual(expect.arrayContaining(['/data/modelVersion', '/data/explanation']));
  });
});

describe('decodeEvent never throws', () => {
  const knownTypes = Object.keys(eventCatalog);
  const typeArb = fc.oneof(fc.constantFrom(...knownTypes), fc.string(), fc.constantFrom('$metadata', 'x.y.v0', 'ai.scoring.completed.v99', '__proto__', 'constructor.v1'));
  const metadataArb = fc.oneof(
    fc.constant(buildStoredMetadata(ENVELOPE, 1) as unknown),
    fc.constant(buildStoredMetadata(ENVELOPE, 2) as unknown),
    fc.jsonValue(),
    fc.anything(),
  );
  const dataArb = fc.oneof(
    fc.jsonValue(),
    fc.anything(),
    fc.constantFrom(...Object.values<CatalogEntry>(eventCatalog).map((e) => exampleOf(e.schema))),
    fc.object({ maxDepth: 4 }),
  );

  it('on arbitrary JSON data, metadata and types: always a result', () => {
    fc.assert(
      fc.property(typeArb, dataArb, metadataArb, fc.bigInt({ min: 0n, max: 1n << 40n }), (type, data, metadata, revision) => {
        const recorded = {
          id: ID,
          type,
          streamId: 'scoring-x',
          revision,
          position: { commit: revision, prepare: revision },
          data,
          metadata,
          created: new Date(0),
        } as unknown as RecordedEvent;
        const result = decodeEvent(recorded);
        expect(typeof result.ok).toBe('boolean');
        if (!result.ok) {
          expect(result.error.problems.length).toBeGreaterThan(0);
          expect(result.error.revision).toBe(revision);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('on mutated valid events: valid → ok, invalid → problems with paths', () => {
    const entries = Object.values<CatalogEntry>(eventCatalog);
    fc.assert(
      fc.property(fc.constantFrom(...entries), fc.string(), fc.jsonValue(), (entry, key, value) => {
        const data = { ...(exampleOf(entry.schema) as Record<string, unknown>), [key]: value };
        const [stored] = record([{ id: ID, type: entry.versionedType, data: data as JsonValue, metadata: buildStoredMetadata(ENVELOPE, entry.version) }]);
        const result = decodeEvent(stored as RecordedEvent);
        if (!result.ok) for (const p of result.error.problems) expect(p.path.startsWith('/data') || p.path === '').toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('on garbage instead of a RecordedEvent', () => {
    for (const garbage of [null, undefined, 42, 'event', [], {}, { type: 5 }, { type: 'ai.scoring.completed.v2', data: null, metadata: null }]) {
      const result = decodeEvent(garbage as unknown as RecordedEvent);
      expect(result.ok).toBe(false);
    }
    const hostile = Object.defineProperty({ type: 'ai.scoring.completed.v2', metadata: {} }, 'data', {
      get() {
        throw new Error('boom');
      },
    });
    expect(failed(decodeEvent(hostile as unknown as RecordedEvent)).problems[0]?.message).toContain('boom');
  });
});
