/** The replay is fast: at least 0.3× the events/s of a raw filtered readAll of the same events. */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toEventData } from '../../src/contracts/events/codec.js';
import type { EngineDeps } from '../../src/engine/engine-deps.js';
import { rebuildProjection } from '../../src/engine/rebuild.js';
import type { EventData } from '../../src/eventstore/port.js';
import { createAnalyticsProjection } from '../../src/projections/analytics.js';
import { projectionFilter, type Projection } from '../../src/projections/projection.js';
import { scoringStatusProjection } from '../../src/projections/scoring-status.js';
import { REQUEST, result, testDeps } from './support.js';

const SCORINGS = 10_000;

let deps: EngineDeps;
beforeEach(async () => {
  ({ deps } = await testDeps());
  const tenants = ['acme-lending', 'beta-bank', 'gamma-credit', 'delta-loans'];
  let batch: { stream: string; events: EventData[] }[] = [];
  for (let i = 0; i < SCORINGS; i++) {
    const tenantId = tenants[i % tenants.length] as string;
    const scoringId = randomUUID();
    const at = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString();
    const done = new Date(Date.UTC(2025, 0, 1) + i * 60_000 + 5_000 + (i % 50) * 100).toISOString();
    const envelope = (occurredAt: string) => ({ correlationId: scoringId, causationId: scoringId, tenantId, occurredAt });
    batch.push({
      stream: `scoring-${scoringId}`,
      events: [
        toEventData('ai.scoring.requested', { scoringId, tenantId, attempt: 1, request: REQUEST }, envelope(at), randomUUID()),
        toEventData('ai.scoring.completed', { scoringId, tenantId, attempt: 1, ...result(40 + (i % 60), 30) }, envelope(done), randomUUID()),
      ],
    });
    if (batch.length === 500) {
      await Promise.all(batch.map((b) => deps.store.append(b.stream, b.events)));
      batch = [];
    }
  }
  await Promise.all(batch.map((b) => deps.store.append(b.stream, b.events)));
}, 120_000);
afterEach(async () => {
  await deps.store.close();
  deps.readDb.close();
});

async function rawEventsPerSecond(projection: Projection): Promise<number> {
  const started = performance.now();
  let n = 0;
  for await (const _ of deps.store.readAll({ filter: projectionFilter(projection) })) n += 1;
  expect(n).toBe(2 * SCORINGS);
  return (n * 1000) / (performance.now() - started);
}

describe('rebuild speed', () => {
  for (const projection of [scoringStatusProjection, createAnalyticsProjection({ maxDailyAiCostCents: 1e9 })]) {
    it(`${projection.name}: replays at >= 0.3x raw readAll events/s`, async () => {
      await rawEventsPerSecond(projection); // warm-up
      const raw = await rawEventsPerSecond(projection);
      const result = await rebuildProjection(deps, projection);
      expect(result.events).toBe(2 * SCORINGS);
      const ratio = result.eventsPerSecond / raw;
      console.info(`${projection.name}: raw readAll ${Math.round(raw)} events/s, rebuild ${Math.round(result.eventsPerSecond)} events/s, ratio ${ratio.toFixed(2)}`);
      expect(ratio).toBeGreaterThanOrEqual(0.3);
    }, 120_000);
  }
});
