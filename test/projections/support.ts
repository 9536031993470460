/** Helpers of the projection tests: recorded events from bodies, real deps with a manual clock, a generated history. */
import { randomUUID } from 'node:crypto';
import type { EventDataOf, EventType } from '../../src/contracts/events/catalog.js';
import { toEventData } from '../../src/contracts/events/codec.js';
import type { ScoringResult } from '../../src/contracts/events/ai.js';
import { EXAMPLE_SCORING_REQUEST, type ScoringRequest } from '../../src/contracts/scoring-request.js';
import type { EngineDeps } from '../../src/engine/engine-deps.js';
import type { CommandContext } from '../../src/engine/request-context.js';
import type { EventHandler, HandlerContext } from '../../src/engine/subscription-runner.js';
import type { RecordedEvent } from '../../src/eventstore/port.js';
import { activeTableSet, type Projection } from '../../src/projections/projection.js';
import type { ReadModelDatabase } from '../../src/readmodel/database.js';
import { createEngineDeps } from '../../src/wiring.js';

export const REQUEST = structuredClone(EXAMPLE_SCORING_REQUEST) as ScoringRequest;

export function result(matchScore = 78, costCents = 42): ScoringResult {
  return {
    matchScore,
    riskBand: matchScore >= 70 ? 'low' : matchScore >= 50 ? 'moderate' : 'high',
    eligibleProducts: [{ product: 'conventional_fixed', termYears: 30, estimatedRate: 6.125, monthlyPayment: 218_735 }],
    reasons: [{ code: 'DTI_BELOW_36', detail: 'Debt-to-income ratio is 8.2%, below 36%' }],
    costCents,
    modelVersion: 'mmp-score-2025.03.1',
    explanation: `Score ${matchScore}/100.`,
  };
}

let seq = 0n;

/** A recorded event as the store would deliver it (valid contract, metadata built like the writers do). */
export function recorded<K extends EventType>(
  type: K,
  data: EventDataOf<K>,
  options: { readonly tenantId: string; readonly occurredAt: string; readonly id?: string; readonly streamId?: string; readonly correlationId?: string },
): RecordedEvent {
  const id = options.id ?? randomUUID();
  const correlationId = options.correlationId ?? randomUUID();
  const event = toEventData(type, data, { correlationId, causationId: correlationId, tenantId: options.tenantId, occurredAt: options.occurredAt }, id);
  seq += 1n;
  return {
    id,
    type: event.type,
    streamId: options.streamId ?? `test-${type}`,
    revision: 0n,
    position: { commit: seq, prepare: seq },
    data: event.data,
    metadata: event.metadata ?? {},
    created: new Date(),
  };
}

/** The same event delivered again (a redelivery, or EventStoreDB storing a duplicate with the same id elsewhere in $all). */
export function again(event: RecordedEvent, newPosition = false): RecordedEvent {
  if (!newPosition) return { ...event };
  seq += 1n;
  return { ...event, position: { commit: seq, prepare: seq }, revision: event.revision + 1n };
}

export function handlerContext(group: string, retryCount = 0): HandlerContext {
  return { group, retryCount, attempt: 0, signal: new AbortController().signal };
}

export async function deliver(handler: EventHandler, events: readonly RecordedEvent[], times = 1): Promise<void> {
  for (const event of events) for (let i = 0; i < times; i++) await handler.handle(event, handlerContext(handler.name, i));
}

export interface ManualClock {
  now: number;
  advance(ms: number): void;
  iso(): string;
}

export function manualClock(start: string): ManualClock {
  const clock: ManualClock = {
    now: Date.parse(start),
    advance(ms: number) {
      clock.now += ms;
    },
    iso() {
      return new Date(clock.now).toISOString();
    },
  };
  return clock;
}

export async function testDeps(start = '2025-03-30T12:00:00.000Z'): Promise<{ deps: EngineDeps; clock: ManualClock }> {
  const clock = manualClock(start);
  const deps = await createEngineDeps({ dataDir: ':memory:', clock: () => new Date(clock.now) });
  return { deps, clock };
}

export function context(tenantId: string): CommandContext {
  const correlationId = randomUUID();
  return { tenantId, correlationId, causationId: correlationId, userId: `auth0|${tenantId}` };
}

/** Table contents of a projection's active set, rows sorted, volatile columns left out. */
export function snapshot(db: ReadModelDatabase, projection: Projection, omit: readonly string[] = ['emitted_at']): Record<string, unknown[]> {
  const { tables } = activeTableSet(db, projection);
  const out: Record<string, unknown[]> = {};
  for (const table of projection.tables) {
    const rows = db.prepare(`SELECT * FROM ${tables[table]}`).all() as Record<string, unknown>[];
    out[table] = rows
      .map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).filter(([key]) => !omit.includes(key)))))
      .sort()
      .map((text) => JSON.parse(text) as unknown);
  }
  return out;
}

export function handledIds(db: ReadModelDatabase, group: string): string[] {
  return (db.prepare('SELECT event_id FROM handled_events WHERE group_name = ? ORDER BY event_id').all(group) as { event_id: string }[]).map((r) => r.event_id);
}

/** A deterministic pseudo-random sequence (tests must not depend on Math.random). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

export interface HistoryOptions {
  readonly tenants?: readonly string[];
  readonly scoringsPerTenant?: number;
  readonly seed?: number;
}

/**
 * A history from the real services: subscriptions (created, a plan change, a payment), scorings
 * (submitted, some failing and retried, completed) and their usage, over a month boundary.
 * Returns the number of scorings submitted.
 */
export async function generateHistory(deps: EngineDeps, clock: ManualClock, options: HistoryOptions = {}): Promise<number> {
  const tenants = options.tenants ?? ['acme-lending', 'beta-bank', 'gamma-credit'];
  const perTenant = options.scoringsPerTenant ?? 40;
  const random = prng(options.seed ?? 7);
  for (const tenantId of tenants) {
    const existing = await deps.billing.state(tenantId);
    if (existing.status === 'none') await deps.billing.create(context(tenantId), 'starter');
  }
  let submitted = 0;
  for (let i = 0; i < perTenant; i++) {
    for (const [t, tenantId] of tenants.entries()) {
      clock.advance(Math.floor(5 * 60_000 + random() * 60 * 60_000));
      const ctx = context(tenantId);
      const { scoringId } = await deps.scoring.submit(ctx, REQUEST);
      submitted += 1;
      clock.advance(Math.floor(1_000 + random() * 40_000));
      let attempt = 1;
      if (random() < 0.15) {
        await deps.scoring.execute(ctx, { type: 'FailScoring', scoringId, attempt, errorCode: 'model_timeout', reason: 'Model did not answer within 20s', retryable: true, costCents: 3 });
        clock.advance(2_000);
        attempt = (await deps.scoring.retry(ctx, scoringId)).attempt;
        clock.advance(Math.floor(1_000 + random() * 10_000));
      }
      if (random() < 0.05) {
        await deps.scoring.execute(ctx, { type: 'FailScoring', scoringId, attempt, errorCode: 'invalid_model_output', reason: 'Unparsable answer', retryable: false, costCents: 5 });
        continue;
      }
      const score = 30 + Math.floor(random() * 70);
      const cost = 20 + Math.floor(random() * 40);
      const completedAt = clock.iso();
      await deps.scoring.execute(ctx, { type: 'CompleteScoring', scoringId, attempt, result: result(score, cost) });
      await deps.billing.recordUsage(ctx, { tenantId, scoringId, aiCostCents: cost, recordedAt: completedAt });
      if (i === Math.floor(perTenant / 2) && t === 0) {
        const current = await deps.billing.view(tenantId);
        await deps.billing.changePlan(context(tenantId), current?.plan === 'pro' ? 'enterprise' : 'pro');
      }
      if (i === Math.floor(perTenant / 3)) {
        const view = await deps.billing.view(tenantId);
        if (view) {
          await deps.billing.recordPayment(context(tenantId), {
            gatewayEventId: `evt_${randomUUID()}`,
            gateway: 'stripe',
            outcome: 'succeeded',
            paymentId: randomUUID(),
            tenantId,
            subscriptionId: view.subscriptionId,
            amountCents: 4_900,
            currency: 'USD',
            gatewayReference: `ch_${tenantId}_${i}`,
            billingPeriod: clock.iso().slice(0, 7),
            occurredAt: clock.iso(),
          });
        }
      }
    }
  }
  return submitted;
}
