/**
 * The projection registry is read from memory on the hot path. It must still follow a swap made
 * through updateRegistry at once, a swap committed by another connection on the next lookup,
 * and never keep a row read inside a transaction that rolls back.
 */
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { activeTableSet, registryRow, updateRegistry } from '../../src/projections/projection.js';
import { scoringStatusProjection } from '../../src/projections/scoring-status.js';
import type { ReadModelDatabase } from '../../src/readmodel/database.js';
import { openTwoConnections, type TwoConnections } from '../readmodel/two-connections.js';

let connections: TwoConnections;
let db: ReadModelDatabase;
let other: Database.Database;

beforeEach(() => {
  connections = openTwoConnections('registry-cache-');
  ({ db, other } = connections);
});

afterEach(() => connections.close());

const projection = scoringStatusProjection;

it('follows a swap through updateRegistry at once', () => {
  expect(activeTableSet(db, projection).group).toBe('scoring_status');
  db.transaction(() => updateRegistry(db, projection.name, { prefix: 'scoring_status__rebuild_2', generation: 2 }))();
  expect(activeTableSet(db, projection)).toMatchObject({ group: 'scoring_status__rebuild_2', generation: 2 });
});

it('follows a swap committed by another connection on the next lookup', () => {
  expect(registryRow(db, projection).generation).toBe(1);
  other.prepare('UPDATE projection_registry SET prefix = ?, generation = 3 WHERE projection = ?').run('scoring_status__rebuild_3', projection.name);
  expect(registryRow(db, projection)).toMatchObject({ prefix: 'scoring_status__rebuild_3', generation: 3 });
});

it('keeps no row read inside a transaction that rolled back', () => {
  expect(registryRow(db, projection).generation).toBe(1);
  expect(() =>
    db.transaction(() => {
      updateRegistry(db, projection.name, { generation: 7 });
      expect(registryRow(db, projection).generation).toBe(7);
      throw new Error('roll back');
    })(),
  ).toThrow('roll back');
  expect(registryRow(db, projection).generation).toBe(1);
});
