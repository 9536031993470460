/**
 * The AI-quota admission check reads the quota rows from memory. What it must still see: the
 * projection's own writes at once, and writes by another connection to the same read model (a
 * second process) from the next event-loop turn on.
 */
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { QuotaExceeded } from '../../../src/http/errors.js';
import { createAiQuotasProjection, quotaAdmissionCheck } from '../../../src/process-managers/ai-quotas.js';
import type { ReadModelDatabase } from '../../../src/readmodel/database.js';
import { openTwoConnections, type TwoConnections } from '../../readmodel/two-connections.js';
import { ForeignCommitWatch } from '../../../src/shared/foreign-commits.js';
import type { EngineDeps } from '../../../src/engine/engine-deps.js';

const TENANT = 'acme-lending';
const NOW = new Date('2026-03-10T12:00:00Z');
const clock = (): Date => NOW;

let connections: TwoConnections;
let db: ReadModelDatabase;
let other: Database.Database;

beforeEach(() => {
  // Creates the table (migrations) as the engine would.
  connections = openTwoConnections('quota-cache-', (readDb) => void createAiQuotasProjection({ readDb, clock } as unknown as EngineDeps));
  ({ db, other } = connections);
});

afterEach(() => connections.close());

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function setThrottled(connection: Database.Database, throttled: boolean): void {
  connection
    .prepare(
      `INSERT INTO ai_quotas (tenant_id, plan, status, budget_cents, period, period_ai_cost_cents, throttled, updated_at)
       VALUES (?, 'starter', 'active', 2500, '2026-03', 2600, ?, ?)
       ON CONFLICT (tenant_id) DO UPDATE SET throttled = excluded.throttled`,
    )
    .run(TENANT, throttled ? 1 : 0, NOW.toISOString());
}

it('sees a throttle written by another connection from the next turn on, and its lifting too', async () => {
  const admit = quotaAdmissionCheck(db, clock);
  await expect(admit(TENANT)).resolves.toBeUndefined(); // caches "no row"
  setThrottled(other, true);
  await nextTurn();
  await expect(admit(TENANT)).rejects.toBeInstanceOf(QuotaExceeded);
  setThrottled(other, false);
  await nextTurn();
  await expect(admit(TENANT)).resolves.toBeUndefined();
});

it('ForeignCommitWatch ignores its own connection and reports another connection once', async () => {
  const watch = new ForeignCommitWatch(db);
  setThrottled(db, true);
  expect(watch.check()).toBe(false);
  setThrottled(other, false);
  expect(watch.checkOncePerTurn()).toBe(true);
  setThrottled(other, true);
  expect(watch.checkOncePerTurn()).toBe(false); // same turn: not asked again
  await nextTurn();
  expect(watch.checkOncePerTurn()).toBe(true);
  expect(watch.check()).toBe(false);
});
