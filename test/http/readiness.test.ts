/**
 * Readiness follows the read model's durability: once a batch of handler effects failed to
 * commit (sticky: acks stop until a restart), /health/ready answers 503 so an orchestrator
 * restarts the process, which redelivers what was lost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { walSyncOf } from '../../src/readmodel/wal-sync.js';
import { json, startHarness, type Harness } from './support.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h.stop();
});

it('answers 503 with the reason after a read-model batch failed to commit', async () => {
  expect((await h.call('GET', '/health/ready')).statusCode).toBe(200);
  const db = h.engine.deps.readDb;
  const effects = walSyncOf(db);
  db.exec('CREATE TABLE IF NOT EXISTS readiness_probe (v TEXT)');
  effects.commit(() => db.prepare('INSERT INTO readiness_probe VALUES (?)').run('x'));
  // What an I/O error does inside a batch: SQLite rolls the whole transaction back.
  effects.commit(() => db.exec('ROLLBACK'));
  const ready = await h.call('GET', '/health/ready');
  expect(ready.statusCode).toBe(503);
  expect(json(ready)).toMatchObject({ status: 'unavailable', detail: expect.stringMatching(/failed to commit/) });
  expect((await h.call('GET', '/health/live')).statusCode).toBe(200);
});
