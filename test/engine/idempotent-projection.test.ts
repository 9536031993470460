import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyOnce, forgetHandled, HANDLED_EVENTS_MODULE, wasHandled } from '../../src/engine/idempotent-projection.js';
import { openReadModelDatabase, type ReadModelDatabase } from '../../src/readmodel/database.js';

let db: ReadModelDatabase;
beforeEach(() => {
  db = openReadModelDatabase(':memory:');
  db.exec('CREATE TABLE totals (tenant TEXT PRIMARY KEY, amount INTEGER NOT NULL)');
});
afterEach(() => db.close());

function addToTotal(tenant: string, amount: number): void {
  db.prepare('INSERT INTO totals (tenant, amount) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET amount = amount + excluded.amount').run(tenant, amount);
}
function total(tenant: string): number | undefined {
  return (db.prepare('SELECT amount FROM totals WHERE tenant = ?').get(tenant) as { amount: number } | undefined)?.amount;
}

describe('applyOnce', () => {
  it('runs the effect once for the same event id', () => {
    expect(applyOnce(db, 'usage', 'evt-1', () => addToTotal('t1', 5))).toBe(true);
    expect(applyOnce(db, 'usage', 'evt-1', () => addToTotal('t1', 5))).toBe(false);
    expect(total('t1')).toBe(5);
    expect(wasHandled(db, 'usage', 'evt-1')).toBe(true);
  });

  it('tracks handled events per group', () => {
    expect(applyOnce(db, 'usage', 'evt-1', () => addToTotal('t1', 1))).toBe(true);
    expect(applyOnce(db, 'revenue', 'evt-1', () => addToTotal('t1', 1))).toBe(true);
    expect(total('t1')).toBe(2);
  });

  it('records nothing when the effect throws, so a redelivery runs it again', () => {
    expect(() =>
      applyOnce(db, 'usage', 'evt-2', () => {
        addToTotal('t2', 7);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(total('t2')).toBeUndefined();
    expect(wasHandled(db, 'usage', 'evt-2')).toBe(false);
    expect(applyOnce(db, 'usage', 'evt-2', () => addToTotal('t2', 7))).toBe(true);
    expect(total('t2')).toBe(7);
  });

  it('rejects an async effect and rolls it back', () => {
    expect(() =>
      applyOnce(db, 'usage', 'evt-3', async () => {
        addToTotal('t3', 1);
        await Promise.resolve();
      }),
    ).toThrow(/synchronous/);
    expect(total('t3')).toBeUndefined();
    expect(wasHandled(db, 'usage', 'evt-3')).toBe(false);
  });

  it('creates handled_events with a numbered migration once', () => {
    applyOnce(db, 'usage', 'evt-4', () => undefined);
    const migrations = db.prepare('SELECT version FROM schema_migrations WHERE module = ?').all(HANDLED_EVENTS_MODULE);
    expect(migrations).toEqual([{ version: 1 }]);
  });

  it('forgets a group before a rebuild', () => {
    applyOnce(db, 'usage', 'a', () => undefined);
    applyOnce(db, 'usage', 'b', () => undefined);
    applyOnce(db, 'other', 'a', () => undefined);
    expect(forgetHandled(db, 'usage')).toBe(2);
    expect(wasHandled(db, 'usage', 'a')).toBe(false);
    expect(wasHandled(db, 'other', 'a')).toBe(true);
  });

  it('survives a reopen of a file database (the record is durable with the effect)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'applyonce-'));
    try {
      const path = join(dir, 'rm.db');
      const first = openReadModelDatabase(path);
      first.exec('CREATE TABLE n (v INTEGER)');
      expect(applyOnce(first, 'g', 'e', () => void first.prepare('INSERT INTO n VALUES (1)').run())).toBe(true);
      first.close();
      const second = openReadModelDatabase(path);
      expect(applyOnce(second, 'g', 'e', () => void second.prepare('INSERT INTO n VALUES (1)').run())).toBe(false);
      expect(second.prepare('SELECT count(*) AS c FROM n').get()).toEqual({ c: 1 });
      second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
