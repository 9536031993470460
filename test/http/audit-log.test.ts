/**
 * The audit log in audit.db: committed by a writer thread when file-backed (read-your-writes
 * across the thread, durable across a reopen), inline in memory or when the thread cannot run,
 * and the one-time move of an earlier version's log out of read-models.db.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AuditEntry, AuditLog } from '../../src/http/audit-log.js';
import { AuditWriter } from '../../src/http/audit-writer.js';
import { migrate, openReadModelDatabase, type ReadModelDatabase } from '../../src/readmodel/database.js';
import { LEGACY_AUDIT_MIGRATION } from './legacy-audit.js';
import type * as SpawnWorker from '../../src/shared/spawn-worker.js';

/** The writer threads started, to stop one; `spawnAs` makes the next one run another (missing) module. */
const workers = vi.hoisted(() => ({ spawned: [] as Worker[], spawnAs: undefined as string | undefined }));
vi.mock('../../src/shared/spawn-worker.js', async (importOriginal) => {
  const original = await importOriginal<typeof SpawnWorker>();
  return {
    ...original,
    spawnModuleWorker: (callerUrl: string, name: string, data: unknown): Worker => {
      const worker = original.spawnModuleWorker(callerUrl, workers.spawnAs ?? name, data);
      workers.spawnAs = undefined;
      workers.spawned.push(worker);
      return worker;
    },
  };
});

function entry(correlationId: string, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: new Date().toISOString(),
    keyId: 'key-1',
    role: 'admin',
    tenantId: 'tenant-a',
    action: 'POST /scorings',
    target: '/scorings',
    correlationId,
    status: 202,
    outcome: 'succeeded',
    ...overrides,
  };
}

let dir: string;
let readDb: ReadModelDatabase;
const logs: AuditLog[] = [];

async function open(db: ReadModelDatabase = readDb): Promise<AuditLog> {
  const log = await AuditLog.open(db);
  logs.push(log);
  return log;
}

async function correlationIds(log: AuditLog, tenantId = 'tenant-a'): Promise<string[]> {
  return (await log.list(tenantId, 1000)).entries.map((e) => e.correlationId);
}

function tableExists(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** Runs `body` while audit.db refuses inserts `when` (an SQL condition on NEW), through a connection of its own. */
async function withRefusedInserts(when: string, body: () => Promise<void>): Promise<void> {
  const other = new Database(join(dir, 'audit.db'));
  try {
    other.exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_log WHEN ${when} BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
    await body();
  } finally {
    other.exec('DROP TRIGGER IF EXISTS refuse');
    other.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mmp-audit-'));
  readDb = openReadModelDatabase(join(dir, 'read-models.db'));
});

afterEach(async () => {
  vi.restoreAllMocks();
  for (const log of logs.splice(0)) await log.close();
  readDb.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('file-backed: the writer thread', () => {
  it('commits on the writer thread, into audit.db, and lists every entry recorded before the call', async () => {
    const start = vi.spyOn(AuditWriter, 'start');
    const posted = vi.spyOn(AuditWriter.prototype, 'write');
    const warnings = vi.spyOn(process, 'emitWarning');
    const log = await open();
    expect(start).toHaveBeenCalledTimes(1);
    expect(existsSync(join(dir, 'audit.db'))).toBe(true);

    for (let i = 0; i < 300; i++) log.record(entry(`c${i}`));
    // Recorded in this same turn: list() must not wait for the turn's flush, nor read before the worker's COMMIT.
    const ids = await correlationIds(log);
    expect(ids).toHaveLength(300);
    expect(ids[0]).toBe('c299');
    expect(ids.at(-1)).toBe('c0');

    await new Promise((resolve) => setImmediate(resolve));
    log.record(entry('next-turn'));
    expect((await log.list('tenant-a', 1)).entries[0]?.correlationId).toBe('next-turn');
    expect(warnings).not.toHaveBeenCalled();
    // One packed batch per flush, nine values an entry.
    expect(posted.mock.calls.map(([entries]) => entries.length)).toEqual([300 * 9, 9]);

    // Nothing went to the read-model database.
    expect(tableExists(readDb, 'audit_log')).toBe(false);
    const raw = new Database(join(dir, 'audit.db'), { readonly: true });
    try {
      expect(raw.prepare('SELECT count(*) AS n FROM audit_log').get()).toEqual({ n: 301 });
    } finally {
      raw.close();
    }
  });

  it('pages newest first, per tenant, with the last seq as cursor while pages are full', async () => {
    const log = await open();
    for (let i = 0; i < 5; i++) log.record(entry(`a${i}`));
    log.record(entry('b0', { tenantId: 'tenant-b' }));
    log.record(entry('b1', { tenantId: 'tenant-b' }));

    const first = await log.list('tenant-a', 2);
    expect(first.entries.map((e) => e.correlationId)).toEqual(['a4', 'a3']);
    expect(first.nextCursor).toBeTypeOf('number');
    const second = await log.list('tenant-a', 2, first.nextCursor);
    expect(second.entries.map((e) => e.correlationId)).toEqual(['a2', 'a1']);
    const third = await log.list('tenant-a', 2, second.nextCursor);
    expect(third.entries.map((e) => e.correlationId)).toEqual(['a0']);
    expect(third.nextCursor).toBeUndefined();

    expect(await correlationIds(log, 'tenant-b')).toEqual(['b1', 'b0']);
    expect((await log.list('tenant-a', 10)).entries[0]).toEqual({ ...entry('a4'), at: expect.any(String) });
  });

  it('is durable: entries queued at close() are committed and read back after a reopen, once each', async () => {
    const log = await open();
    log.record(entry('listed'));
    await log.list('tenant-a', 1);
    log.record(entry('queued-1'));
    log.record(entry('queued-2'));
    // Twice, concurrently and again after: one flush, one shutdown.
    await Promise.all([log.close(), log.close()]);
    await log.close();
    log.record(entry('after-close')); // ignored, not thrown

    const reopened = await open();
    expect(await correlationIds(reopened)).toEqual(['queued-2', 'queued-1', 'listed']);
  });

  it('warns when a batch fails to commit, and keeps recording', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const log = await open();
    await withRefusedInserts('1', async () => {
      log.record(entry('lost'));
      expect(await correlationIds(log)).toEqual([]);
      expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/^Audit log: 1 entry was not written: simulated write failure/));
    });
    log.record(entry('kept'));
    expect(await correlationIds(log)).toEqual(['kept']);
  });

  it('commits the batches that queue up during a commit together, each undone alone when it fails', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const log = await open();
    await withRefusedInserts("NEW.correlation_id LIKE 'bad-%'", async () => {
      // A batch per turn, posted faster than the writer commits: most of them reach it queued.
      const expected: string[] = [];
      for (let turn = 0; turn < 40; turn++) {
        const id = turn % 10 === 3 ? `bad-${turn}` : `ok-${turn}`;
        log.record(entry(id));
        if (!id.startsWith('bad-')) expected.push(id);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await correlationIds(log)).toEqual(expected.reverse());
      expect(warnings.mock.calls.filter(([message]) => /not written: simulated write failure/.test(String(message)))).toHaveLength(4);
    });
  });

  it('commits on the main thread, warning once, when the writer thread cannot start', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    workers.spawnAs = 'no-such-worker';
    const log = await open();
    expect(warnings).toHaveBeenCalledTimes(1);
    expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/^Audit log: the writer thread cannot start \(.+\); entries are committed on the main thread$/));
    log.record(entry('one'));
    log.record(entry('two'));
    expect(await correlationIds(log)).toEqual(['two', 'one']);
    await log.close();

    const reopened = await open();
    expect(await correlationIds(reopened)).toEqual(['two', 'one']);
    expect(warnings).toHaveBeenCalledTimes(1);
  });

  it('goes on on the main thread when the writer thread stops', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const log = await open();
    log.record(entry('before'));
    expect(await correlationIds(log)).toEqual(['before']);

    await workers.spawned.at(-1)?.terminate();
    await vi.waitFor(() => expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/^Audit log: the writer thread stopped \(exit code \d+\); entries are committed on the main thread from now on$/)));
    log.record(entry('after'));
    expect(await correlationIds(log)).toEqual(['after', 'before']);
    expect(warnings).toHaveBeenCalledTimes(1);
    await log.close();

    expect(await correlationIds(await open())).toEqual(['after', 'before']);
  });
});

describe('in memory', () => {
  it('writes inline, without a writer thread or a file', async () => {
    const start = vi.spyOn(AuditWriter, 'start');
    const memoryDb = openReadModelDatabase(':memory:');
    try {
      const log = await open(memoryDb);
      log.record(entry('m0'));
      log.record(entry('m1'));
      expect(await correlationIds(log)).toEqual(['m1', 'm0']);
      await log.close();
      await log.close();
      expect(start).not.toHaveBeenCalled();
      expect(existsSync(join(dir, 'audit.db'))).toBe(false);
    } finally {
      memoryDb.close();
    }
  });
});

describe("an earlier version's log in read-models.db", () => {
  const legacy = [
    entry('old-0', { at: '2024-01-01T00:00:00.000Z' }),
    entry('old-1', { at: '2024-01-02T00:00:00.000Z', tenantId: 'tenant-b' }),
    entry('old-2', { at: '2024-01-03T00:00:00.000Z', keyId: null, role: null, status: 401, outcome: 'refused' }),
    entry('old-3', { at: '2024-01-04T00:00:00.000Z' }),
  ];

  /** Writes the legacy table the way earlier versions did (seqs with a gap, as after deletes). */
  function writeLegacyLog(db: ReadModelDatabase): void {
    migrate(db, 'audit', [LEGACY_AUDIT_MIGRATION]);
    const insert = db.prepare('INSERT INTO audit_log (seq, at, key_id, role, tenant_id, action, target, correlation_id, status, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    legacy.forEach((e, i) => insert.run(10 + i * 5, e.at, e.keyId, e.role, e.tenantId, e.action, e.target, e.correlationId, e.status, e.outcome));
  }

  function auditRowCount(): number {
    const raw = new Database(join(dir, 'audit.db'), { readonly: true });
    try {
      return (raw.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
    } finally {
      raw.close();
    }
  }

  it('moves it into audit.db once, in order, drops the old table and keeps new entries after it', async () => {
    writeLegacyLog(readDb);
    const log = await open();

    const page = await log.list('tenant-a', 10);
    expect(page.entries).toEqual([legacy[3], legacy[2], legacy[0]]);
    expect(await correlationIds(log, 'tenant-b')).toEqual(['old-1']);
    expect(tableExists(readDb, 'audit_log')).toBe(false);
    expect(readDb.prepare("SELECT count(*) AS n FROM schema_migrations WHERE module = 'audit'").get()).toEqual({ n: 0 });

    log.record(entry('new-0'));
    expect(await correlationIds(log)).toEqual(['new-0', 'old-3', 'old-2', 'old-0']);
    await log.close();

    const reopened = await open();
    expect(await correlationIds(reopened)).toEqual(['new-0', 'old-3', 'old-2', 'old-0']);
    expect(auditRowCount()).toBe(5);
  });

  it('after a crash between the copy and the drop, only drops the old table', async () => {
    writeLegacyLog(readDb);
    await (await open()).close();
    expect(auditRowCount()).toBe(4);
    // The state a crash right after the copy's commit leaves: the marker in audit.db, the old table still in read-models.db.
    writeLegacyLog(readDb);
    expect(tableExists(readDb, 'audit_log')).toBe(true);

    const log = await open();
    expect(await correlationIds(log)).toEqual(['old-3', 'old-2', 'old-0']);
    expect(auditRowCount()).toBe(4);
    expect(tableExists(readDb, 'audit_log')).toBe(false);
  });
});
