/**
 * Rebuild by replay on the real services and the embedded store (in memory): the rebuilt read
 * models equal the live ones, the old one serves during the rebuild, nothing is lost or doubled
 * around the swap.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RebuildStatusSchema } from '../../src/contracts/api/read-models.js';
import { isValid } from '../../src/contracts/validation.js';
import type { EngineDeps } from '../../src/engine/engine-deps.js';
import { EventIdSet, RebuildInProgressError, RebuildTracker, UnknownProjectionError, rebuildProjection, type RebuildProgress } from '../../src/engine/rebuild.js';
import { createSubscriptionRunner, type SubscriptionRunner } from '../../src/engine/subscription-runner.js';
import { createAnalyticsProjection, listMetricAlerts } from '../../src/projections/analytics.js';
import { activeTableSet, projectionFilter, projectionHandler, registryRow, type Projection } from '../../src/projections/projection.js';
import { getScoringRequest, listScoringRequests, scoringStatusProjection } from '../../src/projections/scoring-status.js';
import { getInvoice, listInvoices, usageInvoicesProjection } from '../../src/projections/usage-invoices.js';
import { generateHistory, handledIds, handlerContext, prng, snapshot, testDeps, type ManualClock } from './support.js';

const IDLE = { timeout: 30_000 };
const analytics = createAnalyticsProjection({ maxDailyAiCostCents: 500, maxP95ScoringMs: 20_000, minSamples: 5 });
const MAIN: readonly Projection[] = [scoringStatusProjection, usageInvoicesProjection, analytics];
const REF: readonly Projection[] = MAIN.map((p) => ({ ...p, name: `ref_${p.name}` }));

let deps: EngineDeps;
let clock: ManualClock;
let runner: SubscriptionRunner | undefined;

beforeEach(async () => {
  ({ deps, clock } = await testDeps());
});
afterEach(async () => {
  await runner?.stop({ timeout: 2_000 });
  runner = undefined;
  await deps.store.close();
  deps.readDb.close();
});

async function startRunner(projections: readonly Projection[]): Promise<SubscriptionRunner> {
  const r = createSubscriptionRunner({
    store: deps.store,
    handlers: projections.map((p) => projectionHandler(deps, p, { settings: { messageTimeout: 10_000, checkPointAfter: 100, checkPointLowerBound: 1 } })),
    retryPolicy: { maxRetries: 3, retryDelay: 5, maxRetryDelay: 20 },
    statsInterval: 0,
    logger: deps.logger,
  });
  await r.start();
  runner = r;
  return r;
}

function expectEqualToReference(): void {
  for (const [index, projection] of MAIN.entries()) {
    const reference = REF[index] as Projection;
    expect(snapshot(deps.readDb, projection), projection.name).toEqual(snapshot(deps.readDb, reference));
    expect(handledIds(deps.readDb, activeTableSet(deps.readDb, projection).group), projection.name).toEqual(handledIds(deps.readDb, activeTableSet(deps.readDb, reference).group));
  }
}

function tablesOf(name: string): string[] {
  return (deps.readDb.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ORDER BY name").all(`${name}%`) as { name: string }[]).map((r) => r.name);
}

async function storeEventCount(): Promise<number> {
  let n = 0;
  for await (const _ of deps.store.readAll()) n += 1;
  return n;
}

describe('rebuildProjection', () => {
  it('rebuilt read models equal the live ones (a few hundred events from the real services)', async () => {
    const r = await startRunner([...MAIN, ...REF]);
    const scorings = await generateHistory(deps, clock);
    await r.waitForIdle(undefined, IDLE);
    expect(scorings).toBe(120);
    expect(await storeEventCount()).toBeGreaterThan(300);
    expectEqualToReference();
    expect(listMetricAlerts(deps.readDb, 'acme-lending', analytics).length).toBeGreaterThan(0);

    const live = Object.fromEntries(MAIN.map((p) => [p.name, snapshot(deps.readDb, p)]));
    const liveHandled = Object.fromEntries(MAIN.map((p) => [p.name, handledIds(deps.readDb, p.name)]));
    for (const projection of MAIN) {
      const reports: RebuildProgress[] = [];
      // replayedIdsInMemory 64: the replayed ids are written several times during the replay, and later batches are checked against them.
      const result = await rebuildProjection(deps, projection, { onProgress: (p) => reports.push(p), batchSize: 50, progressIntervalMs: 0, replayedIdsInMemory: 64 });
      expect(result).toMatchObject({ projection: projection.name, generation: 2, prefix: `${projection.name}__rebuild_2`, skippedCorrupt: 0, missingFromReplay: 0 });
      expect(result.applied).toBe(liveHandled[projection.name]?.length);
      expect(snapshot(deps.readDb, projection), projection.name).toEqual(live[projection.name]);
      expect(handledIds(deps.readDb, `${projection.name}__rebuild_2`)).toEqual(liveHandled[projection.name]);
      expect(handledIds(deps.readDb, projection.name)).toEqual([]);
      expect(registryRow(deps.readDb, projection)).toMatchObject({ prefix: `${projection.name}__rebuild_2`, generation: 2, rebuildingPrefix: null, retiredPrefix: null });
      expect(tablesOf(`${projection.name}_`).every((name) => name.startsWith(`${projection.name}__rebuild_2_`))).toBe(true);

      // progress: phases in order, monotonic counts, head known, done with eta 0
      expect(reports.map((p) => p.phase).filter((p, i, all) => all[i - 1] !== p)).toEqual(['starting', 'replaying', 'catching_up', 'swapping', 'done']);
      expect(reports.every((p, i) => i === 0 || p.events >= (reports[i - 1] as RebuildProgress).events)).toBe(true);
      expect(reports.filter((p) => p.phase === 'replaying').length).toBeGreaterThan(1);
      const last = reports[reports.length - 1] as RebuildProgress;
      expect(last).toMatchObject({ phase: 'done', events: result.events, etaSeconds: 0 });
      expect(last.headPosition?.commit).toBeGreaterThanOrEqual(last.position?.commit ?? 0n);
      expect(last.eventsPerSecond).toBeGreaterThan(0);
    }

    // Live handling continues on the rebuilt tables.
    await generateHistory(deps, clock, { scoringsPerTenant: 5, seed: 3 });
    await r.waitForIdle(undefined, IDLE);
    expectEqualToReference();
  });

  it('the old read model serves during the rebuild; events appended meanwhile are neither lost nor doubled', async () => {
    const r = await startRunner([...MAIN, ...REF]);
    await generateHistory(deps, clock, { scoringsPerTenant: 20 });
    await r.waitForIdle(undefined, IDLE);
    const tenant = 'acme-lending';
    const before = listScoringRequests(deps.readDb, tenant, { limit: 100 }).items;
    const invoicesBefore = listInvoices(deps.readDb, tenant).invoices;

    let extra: Promise<number> | undefined;
    const servedDuringReplay: { projection: string; prefix: string; scorings: number; invoices: number }[] = [];
    for (const projection of MAIN) {
      await rebuildProjection(deps, projection, {
        batchSize: 10,
        progressIntervalMs: 0,
        onProgress: (progress) => {
          if (progress.phase !== 'replaying' || progress.events === 0) return;
          // Mid-replay: the registry still points at the old tables, which answer in full.
          servedDuringReplay.push({
            projection: projection.name,
            prefix: registryRow(deps.readDb, projection).prefix,
            scorings: listScoringRequests(deps.readDb, tenant, { limit: 100 }).items.length,
            invoices: listInvoices(deps.readDb, tenant).invoices.length,
          });
          // New events while the rebuild runs (awaited below).
          extra ??= generateHistory(deps, clock, { scoringsPerTenant: 10, seed: 11 });
        },
      });
    }
    expect(servedDuringReplay.length).toBeGreaterThan(0);
    expect(servedDuringReplay[0]).toEqual({ projection: 'scoring_status', prefix: 'scoring_status', scorings: before.length, invoices: invoicesBefore.length });
    expect(servedDuringReplay.every((s) => s.prefix === s.projection)).toBe(true);
    await extra;
    await r.waitForIdle(undefined, IDLE);
    expectEqualToReference();
    expect(listScoringRequests(deps.readDb, tenant, { limit: 100 }).items.length).toBe(before.length + 10);
  });

  it('events the rebuild applied ahead of the live handler are not applied again by it', async () => {
    let r = await startRunner([...MAIN, ...REF]);
    await generateHistory(deps, clock, { scoringsPerTenant: 10 });
    await r.waitForIdle(undefined, IDLE);
    await r.stop();
    runner = undefined;
    await generateHistory(deps, clock, { scoringsPerTenant: 10, seed: 5 }); // live handlers are behind now
    for (const projection of MAIN) await rebuildProjection(deps, projection);
    r = await startRunner([...MAIN, ...REF]);
    await r.waitForIdle(undefined, IDLE);
    expectEqualToReference();
  });

  it('exactly once across the swap: redelivery of everything replayed, copies of replayed ids stored later, new events', async () => {
    let r = await startRunner([...MAIN, ...REF]);
    await generateHistory(deps, clock, { scoringsPerTenant: 10 });
    await r.waitForIdle(undefined, IDLE);
    await r.stop();
    runner = undefined;
    await generateHistory(deps, clock, { scoringsPerTenant: 5, seed: 5 }); // the live handlers are behind
    const rebuilt: Record<string, { snapshot: Record<string, unknown[]>; handled: string[]; position: bigint }> = {};
    for (const projection of MAIN) {
      const result = await rebuildProjection(deps, projection, { batchSize: 16, replayedIdsInMemory: 20 });
      rebuilt[projection.name] = { snapshot: snapshot(deps.readDb, projection, ['emitted_at', 'status']), handled: handledIds(deps.readDb, result.prefix), position: result.position?.commit ?? -1n };
      expect(rebuilt[projection.name]?.handled).toHaveLength(result.applied);
    }
    // Every event the rebuilds replayed, delivered again to the live handlers (a redelivery from
    // the start): none is applied again. (Later events, e.g. the alerts analytics emitted at its
    // swap, are new: the runner delivers them below.)
    for (const projection of MAIN) {
      const handler = projectionHandler(deps, projection);
      let redelivered = 0;
      for await (const event of deps.store.readAll({ filter: projectionFilter(projection) })) {
        if (event.position.commit > (rebuilt[projection.name]?.position ?? -1n)) break;
        await handler.handle(event, handlerContext(handler.name, 1));
        redelivered += 1;
      }
      expect(redelivered).toBeGreaterThan(0);
      expect(snapshot(deps.readDb, projection, ['emitted_at', 'status']), projection.name).toEqual(rebuilt[projection.name]?.snapshot);
      expect(handledIds(deps.readDb, activeTableSet(deps.readDb, projection).group), projection.name).toEqual(rebuilt[projection.name]?.handled);
    }
    // Copies of replayed usage events (same ids, later in $all) and new events: the copies count
    // once, the new events once, as in the reference projections that never were rebuilt.
    const usages = [];
    for await (const event of deps.store.readAll({ filter: { on: 'eventType', prefixes: ['billing.usage.'] } })) usages.push(event);
    expect(usages.length).toBeGreaterThan(0);
    for (const [i, event] of usages.entries()) await deps.store.append(`usage-copy-${i}`, [{ id: event.id, type: event.type, data: event.data, metadata: event.metadata }]);
    r = await startRunner([...MAIN, ...REF]);
    await generateHistory(deps, clock, { scoringsPerTenant: 5, seed: 9 });
    await r.waitForIdle(undefined, IDLE);
    expectEqualToReference();
  });

  it('skips a corrupt event (the live handler parks it) and still matches the live model', async () => {
    const r = await startRunner([scoringStatusProjection, REF[0] as Projection]);
    await generateHistory(deps, clock, { scoringsPerTenant: 3 });
    await deps.store.append('scoring-corrupt', [{ id: randomUUID(), type: 'ai.scoring.requested.v1', data: { nonsense: true }, metadata: { tenantId: 'acme-lending' } }]);
    await r.waitForIdle(undefined, IDLE);
    const parked = await deps.store.listParkedMessages({ kind: 'all', filter: { on: 'eventType', prefixes: ['ai.scoring.'] } }, 'scoring_status');
    expect(parked.map((m) => m.event.streamId)).toEqual(['scoring-corrupt']);
    const live = snapshot(deps.readDb, scoringStatusProjection);
    const result = await rebuildProjection(deps, scoringStatusProjection);
    expect(result.skippedCorrupt).toBe(1);
    expect(snapshot(deps.readDb, scoringStatusProjection)).toEqual(live);
  });

  it('counts a usage event stored twice with the same id (in two streams of $all) once', async () => {
    await generateHistory(deps, clock, { tenants: ['acme-lending'], scoringsPerTenant: 5 });
    const handler = projectionHandler(deps, usageInvoicesProjection);
    for await (const event of deps.store.readAll({ filter: { on: 'eventType', prefixes: ['billing.'] } })) await handler.handle(event, { group: handler.name, retryCount: 0, attempt: 0, signal: new AbortController().signal });
    const live = snapshot(deps.readDb, usageInvoicesProjection);
    const usages = [];
    for await (const event of deps.store.readAll({ filter: { on: 'eventType', prefixes: ['billing.usage.'] } })) usages.push(event);
    for (const [i, event] of usages.entries()) await deps.store.append(`usage-copy-${i}`, [{ id: event.id, type: event.type, data: event.data, metadata: event.metadata }]);
    const usage = usages.length;
    expect(usage).toBeGreaterThan(0);
    const result = await rebuildProjection(deps, usageInvoicesProjection);
    expect(result.events - result.applied).toBe(usage);
    expect(snapshot(deps.readDb, usageInvoicesProjection)).toEqual(live);
    // The same with the copies found among ids already written (not only among those in memory) and within one batch.
    for (const options of [{ batchSize: 4, replayedIdsInMemory: 3 }, { batchSize: 1_000 }]) {
      const again = await rebuildProjection(deps, usageInvoicesProjection, options);
      expect(again.events - again.applied).toBe(usage);
      expect(snapshot(deps.readDb, usageInvoicesProjection)).toEqual(live);
      expect(handledIds(deps.readDb, again.prefix)).toHaveLength(again.applied);
    }
    const invoice = listInvoices(deps.readDb, 'acme-lending').invoices[0];
    expect(invoice?.usage.scorings).toBeLessThanOrEqual(5);
    expect(getInvoice(deps.readDb, 'acme-lending', invoice?.subscriptionId ?? '', invoice?.period ?? '')?.lines.length).toBeGreaterThan(0);
  });

  it('an aborted rebuild drops its tables; the old read model keeps serving', async () => {
    const r = await startRunner([scoringStatusProjection]);
    await generateHistory(deps, clock, { scoringsPerTenant: 5 });
    await r.waitForIdle(undefined, IDLE);
    const live = snapshot(deps.readDb, scoringStatusProjection);
    const controller = new AbortController();
    await expect(
      rebuildProjection(deps, scoringStatusProjection, {
        batchSize: 2,
        progressIntervalMs: 0,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.events > 4) controller.abort(new Error('stop it'));
        },
      }),
    ).rejects.toThrow('stop it');
    expect(registryRow(deps.readDb, scoringStatusProjection)).toMatchObject({ prefix: 'scoring_status', generation: 1, rebuildingPrefix: null });
    expect(tablesOf('scoring_status_')).toEqual(['scoring_status_requests']);
    expect(snapshot(deps.readDb, scoringStatusProjection)).toEqual(live);
    const again = await rebuildProjection(deps, scoringStatusProjection);
    expect(again.generation).toBe(3);
    expect(snapshot(deps.readDb, scoringStatusProjection)).toEqual(live);
  });
});

describe('EventIdSet (the ids a rebuild replayed, pending)', () => {
  it('is a set of strings: uuids kept as 128-bit keys, any other string as is; sorted() gives string order', () => {
    const set = new EventIdSet();
    const random = prng(3);
    const ids: string[] = [];
    for (let i = 0; i < 5_000; i++) ids.push(randomUUID());
    ids.push('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '0000000a-000b-000c-000d-00000000000e');
    // Not canonical: kept as strings, distinct from their canonical forms.
    const others = ['7C9E6679-7425-40DE-944B-E07FC1F90AE7', '7c9e6679742540de944be07fc1f90ae7', '{7c9e6679-7425-40de-944b-e07fc1f90ae7}', 'not-a-uuid', '', '7c9e6679-7425-40de-944b-e07fc1f90aeg', '7c9e6679-7425-40de-944b_e07fc1f90ae7'];
    const all = [...ids, ...others, '7c9e6679-7425-40de-944b-e07fc1f90ae7'];
    for (const id of all) expect(set.add(id), id).toBe(true);
    for (let i = 0; i < 2_000; i++) {
      const id = all[Math.floor(random() * all.length)] as string;
      expect(set.add(id)).toBe(false);
      expect(set.has(id)).toBe(true);
    }
    expect(set.size).toBe(all.length);
    expect(set.has(randomUUID())).toBe(false);
    expect(set.has('NOT-A-UUID')).toBe(false);
    expect([...set.sorted()]).toEqual([...all].sort());
    set.clear();
    expect(set.size).toBe(0);
    expect(set.has(all[0] as string)).toBe(false);
    expect([...set.sorted()]).toEqual([]);
    expect(set.add(all[0] as string)).toBe(true);
    expect([...set.sorted()]).toEqual([all[0]]);
  });
});

describe('RebuildTracker', () => {
  it('starts a rebuild in the background and reports its progress and outcome by id', async () => {
    const r = await startRunner([scoringStatusProjection]);
    await generateHistory(deps, clock, { scoringsPerTenant: 5 });
    await r.waitForIdle(undefined, IDLE);
    const scoringId = listScoringRequests(deps.readDb, 'beta-bank').items[0]?.scoringId ?? '';
    const tracker = new RebuildTracker(deps, MAIN, { rebuild: { progressIntervalMs: 0 } });
    expect(tracker.projections).toEqual(['scoring_status', 'usage_invoices', 'analytics']);
    expect(() => tracker.start('nope')).toThrow(UnknownProjectionError);

    const started = tracker.start('scoring_status');
    expect(started).toMatchObject({ projection: 'scoring_status', state: 'running' });
    expect(() => tracker.start('scoring_status')).toThrow(RebuildInProgressError);
    expect(isValid(RebuildStatusSchema, started)).toBe(true);

    const finished = await tracker.wait(started.id);
    expect(finished).toMatchObject({ id: started.id, state: 'completed', progress: { phase: 'done', etaSeconds: 0 }, result: { generation: 2, skippedCorrupt: 0 } });
    expect(finished?.progress.events).toBeGreaterThan(0);
    expect(isValid(RebuildStatusSchema, finished)).toBe(true);
    expect(tracker.status(started.id)).toEqual(finished);
    expect(tracker.list()).toHaveLength(1);
    expect(getScoringRequest(deps.readDb, 'beta-bank', scoringId)?.scoringId).toBe(scoringId);

    const cancelled = tracker.start('usage_invoices');
    expect(tracker.cancel(cancelled.id)).toBe(true);
    expect(await tracker.wait(cancelled.id)).toMatchObject({ state: 'failed', error: expect.stringContaining('Rebuild cancelled') as unknown });
    expect(registryRow(deps.readDb, usageInvoicesProjection).generation).toBe(1);
  });
});
