import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { scoringStreamId, subscriptionStreamId } from '../../src/aggregates/streams.js';
import { EXAMPLE_SCORING_REQUEST } from '../../src/contracts/scoring-request.js';
import { BillingService } from '../../src/engine/billing-service.js';
import { CommandHandler } from '../../src/engine/command-handler.js';
import type { EngineDeps } from '../../src/engine/engine-deps.js';
import type { CommandContext } from '../../src/engine/request-context.js';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import { walSyncOf } from '../../src/readmodel/wal-sync.js';
import { createEngineDeps } from '../../src/wiring.js';

/**
 * The subscription check of POST /scorings answers from the command handler's cached state, and
 * the scoring's append carries a condition on the subscription stream's revision: a change made
 * meanwhile, even by another process, is seen at commit and the check runs again on fresh state.
 */
describe('scoring admission from the cached subscription state', () => {
  let dir: string;
  let deps: EngineDeps;
  let other: EmbeddedEventStore | undefined;
  const tenantId = 'acme-lending';
  const context = (): CommandContext => {
    const id = randomUUID();
    return { tenantId, correlationId: id, causationId: id };
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mmp-admission-'));
    deps = await createEngineDeps({ dataDir: dir });
    await deps.billing.create(context(), 'pro');
  });
  afterEach(async () => {
    await other?.close();
    other = undefined;
    await deps.store.close();
    await walSyncOf(deps.readDb).close();
    deps.readDb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Billing as another process runs it: its own connection to the same file, its own command handler. */
  async function anotherProcess(): Promise<BillingService> {
    other = await EmbeddedEventStore.open({ path: join(dir, 'events.db') });
    return new BillingService(new CommandHandler(other), () => new Date());
  }

  function subscriptionReads() {
    const readStream = vi.spyOn(deps.store, 'readStream');
    return () => readStream.mock.calls.filter(([stream]) => stream === subscriptionStreamId(tenantId)).length;
  }

  it('does not read the subscription stream once its state is cached', async () => {
    const reads = subscriptionReads();
    for (let i = 0; i < 5; i++) await deps.scoring.submit(context(), EXAMPLE_SCORING_REQUEST);
    expect(reads()).toBe(0);
  });

  it('refuses a scoring once another process cancelled the subscription, and writes nothing for it', async () => {
    await deps.scoring.submit(context(), EXAMPLE_SCORING_REQUEST);
    await (await anotherProcess()).cancel(context(), { reason: 'customer_request' });
    const scoringId = randomUUID();
    await expect(deps.scoring.submit(context(), EXAMPLE_SCORING_REQUEST, scoringId)).rejects.toMatchObject({ code: 'NO_ACTIVE_SUBSCRIPTION' });
    const written = await deps.store.readStream(scoringStreamId(scoringId), { notFound: 'empty' })[Symbol.asyncIterator]().next();
    expect(written.done).toBe(true);
  });

  it('admits after another process changed the plan (still active), reading the stream once, then from the cache again', async () => {
    await deps.scoring.submit(context(), EXAMPLE_SCORING_REQUEST);
    await (await anotherProcess()).changePlan(context(), 'enterprise');
    const reads = subscriptionReads();
    const scoringId = randomUUID();
    await deps.scoring.submit(context(), EXAMPLE_SCORING_REQUEST, scoringId);
    expect(reads()).toBe(1);
    await deps.scoring.submit(context(), EXAMPLE_SCORING_REQUEST);
    expect(reads()).toBe(1);
    expect(await deps.billing.view(tenantId)).toMatchObject({ plan: 'enterprise', status: 'active' });
    const requested = await deps.store.readStream(scoringStreamId(scoringId))[Symbol.asyncIterator]().next();
    expect(requested.value).toMatchObject({ type: 'ai.scoring.requested.v1', revision: 0n });
  });

  it('a cancellation in this process is seen at once (the cache follows its own writes)', async () => {
    await deps.scoring.submit(context(), EXAMPLE_SCORING_REQUEST);
    await deps.billing.cancel(context(), { reason: 'customer_request' });
    await expect(deps.scoring.submit(context(), EXAMPLE_SCORING_REQUEST)).rejects.toMatchObject({ code: 'NO_ACTIVE_SUBSCRIPTION' });
  });
});
