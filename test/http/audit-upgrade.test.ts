/**
 * An engine started on the data folder of an earlier version, whose audit log is a table of
 * read-models.db, serves those entries from GET /admin/audit, after the new ones.
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { migrate, openReadModelDatabase } from '../../src/readmodel/database.js';
import { startEngine, type RunningEngine } from '../../src/wiring.js';
import { LEGACY_AUDIT_MIGRATION } from './legacy-audit.js';
import { json, startHarness, type Harness } from './support.js';

let harness: Harness | undefined;
let restarted: RunningEngine | undefined;

afterAll(async () => {
  await restarted?.stop();
  await harness?.stop();
});

it('keeps the entries an earlier version wrote in read-models.db readable', async () => {
  harness = await startHarness();
  const { demo, dataDir } = harness;
  await harness.stopEngine();

  const readDb = openReadModelDatabase(join(dataDir, 'read-models.db'));
  try {
    migrate(readDb, 'audit', [LEGACY_AUDIT_MIGRATION]);
    const insert = readDb.prepare("INSERT INTO audit_log (at, key_id, role, tenant_id, action, target, correlation_id, status, outcome) VALUES (?, NULL, 'admin', ?, 'POST /subscription', '/subscription', ?, 201, 'succeeded')");
    insert.run('2024-05-01T10:00:00.000Z', demo.tenantId, 'legacy-1');
    insert.run('2024-05-02T10:00:00.000Z', demo.tenantId, 'legacy-2');
  } finally {
    readDb.close();
  }

  restarted = await startEngine({ dataDir, runHandlers: false });
  const auth = { authorization: `Bearer ${demo.adminKey}` };
  const command = await restarted.http.inject({ method: 'POST', url: '/subscription', headers: { ...auth, 'x-correlation-id': 'after-upgrade' }, payload: { plan: 'pro' } });
  expect(command.statusCode).toBeLessThan(500);
  const page = await restarted.http.inject({ method: 'GET', url: '/admin/audit?limit=10', headers: auth });
  expect(page.statusCode).toBe(200);
  const ids = json<{ entries: { correlationId: string }[] }>(page).entries.map((e) => e.correlationId);
  expect(ids).toEqual(['after-upgrade', 'legacy-2', 'legacy-1']);
});
