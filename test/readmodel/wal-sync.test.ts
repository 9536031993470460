/**
 * WalSync: read-model commits under synchronous=NORMAL, made durable by a shared fdatasync of the
 * WAL in libuv's pool. On real files in a temporary directory.
 *
 * fdatasync is observed through vi.mock('node:fs') (a namespace import cannot be vi.spyOn'ed in
 * ESM: its exports are not configurable). The mock calls the real fdatasync, counts the calls, and
 * can hold them (`fsControl.hold`) so that "a sync is running" is a state the test controls
 * rather than a timing accident.
 */
import Database from 'better-sqlite3';
import { existsSync, fstatSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openReadModelDatabase, type ReadModelDatabase } from '../../src/readmodel/database.js';
import { WalSync, walSyncOf } from '../../src/readmodel/wal-sync.js';

const fsControl = vi.hoisted(() => ({
  /** The descriptors fdatasync was called with, in order. */
  calls: [] as number[],
  /** While true, fdatasync calls wait in `held` until released. */
  hold: false,
  held: [] as (() => void)[],
  /** When set, the next fdatasync fails with it (once). */
  failNext: undefined as NodeJS.ErrnoException | undefined,
}));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const fdatasync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
    fsControl.calls.push(fd);
    const failure = fsControl.failNext;
    fsControl.failNext = undefined;
    const run = (): void => {
      if (failure) setImmediate(() => callback(failure));
      else actual.fdatasync(fd, callback);
    };
    if (fsControl.hold) fsControl.held.push(run);
    else run();
  };
  return { ...actual, fdatasync, default: { ...actual, fdatasync } };
});

/** Lets the held fdatasync calls run (the real ones) and stops holding new ones unless `keepHolding`. */
function releaseHeld(keepHolding = false): void {
  fsControl.hold = keepHolding;
  for (const run of fsControl.held.splice(0)) run();
}

/** Resolves when `count` fdatasync calls have been held (they are issued from an I/O callback). */
async function heldCount(count: number): Promise<void> {
  for (let i = 0; i < 1_000 && fsControl.held.length < count; i++) await new Promise((resolve) => setImmediate(resolve));
  expect(fsControl.held).toHaveLength(count);
}

/** Tracks whether a promise has settled, without awaiting it. */
function track(promise: Promise<void>): { readonly settled: () => boolean; readonly promise: Promise<void> } {
  let settled = false;
  const tracked = promise.then(
    () => void (settled = true),
    (error: unknown) => {
      settled = true;
      throw error;
    },
  );
  return { settled: () => settled, promise: tracked };
}

/** Lets pending I/O callbacks and microtasks run (twice around the event loop). */
async function turn(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}

const FULL = 2;
const NORMAL = 1;

let dir: string;
const opened: ReadModelDatabase[] = [];

function openDb(name = 'read.db'): ReadModelDatabase {
  const db = openReadModelDatabase(join(dir, name));
  db.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL)'); // a first write: the WAL file exists
  opened.push(db);
  return db;
}

function synchronousOf(db: ReadModelDatabase): number {
  return Number(db.pragma('synchronous', { simple: true }));
}

function insert(db: ReadModelDatabase, value: string): void {
  db.prepare('INSERT INTO rows (value) VALUES (?)').run(value);
}

/** Commits an insert of `value` through `sync` and returns the synchronous level it ran at. */
function commitInsert(sync: WalSync, db: ReadModelDatabase, value: string): number {
  let inside: number | undefined;
  sync.commit(
    db.transaction(() => {
      inside = synchronousOf(db);
      insert(db, value);
    }),
  );
  if (inside === undefined) throw new Error('the transaction did not run');
  return inside;
}

function values(db: Database.Database): string[] {
  return (db.prepare('SELECT value FROM rows ORDER BY id').all() as { value: string }[]).map((row) => row.value);
}

/** How many descriptors of this process point at `path` (Linux: /proc/self/fd). */
function descriptorsOf(path: string): number {
  const target = realpathSync(path);
  let count = 0;
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${entry}`) === target) count += 1;
    } catch {
      // the descriptor readdir itself used, closed meanwhile
    }
  }
  return count;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mmp-wal-sync-'));
  fsControl.calls.length = 0;
  fsControl.held.length = 0;
  fsControl.hold = false;
  fsControl.failNext = undefined;
});

afterEach(() => {
  releaseHeld();
  for (const db of opened.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('WalSync.commit', () => {
  it('runs the transaction under synchronous=NORMAL and restores the connection level after it', () => {
    const db = openDb();
    const sync = new WalSync(db);
    expect(synchronousOf(db)).toBe(FULL);
    let inside: number | undefined;
    const result = sync.commit(
      db.transaction(() => {
        inside = synchronousOf(db);
        insert(db, 'a');
        return 'returned';
      }),
    );
    expect(result).toBe('returned');
    expect(inside).toBe(NORMAL);
    expect(synchronousOf(db)).toBe(FULL);
    expect(values(db)).toEqual(['a']);
  });

  it('restores the level the connection had (not a fixed FULL)', () => {
    const db = openDb();
    db.pragma('synchronous = EXTRA');
    const sync = new WalSync(db);
    sync.commit(db.transaction(() => insert(db, 'a')));
    expect(synchronousOf(db)).toBe(3);
  });

  it('restores the level when the transaction throws; the error propagates and nothing is committed', () => {
    const db = openDb();
    const sync = new WalSync(db);
    const failing = db.transaction(() => {
      insert(db, 'lost');
      throw new Error('effect failed');
    });
    expect(() => sync.commit(failing)).toThrow('effect failed');
    expect(synchronousOf(db)).toBe(FULL);
    expect(db.inTransaction).toBe(false);
    expect(values(db)).toEqual([]);
    // The connection still commits normally afterwards.
    sync.commit(db.transaction(() => insert(db, 'kept')));
    expect(values(db)).toEqual(['kept']);
    expect(synchronousOf(db)).toBe(FULL);
  });

  it('inside an outer transaction it just runs: part of the outer transaction, undone by its rollback, no level change', async () => {
    const db = openDb();
    const sync = new WalSync(db);
    let inside: number | undefined;
    const outer = db.transaction(() => {
      sync.commit(
        db.transaction(() => {
          inside = synchronousOf(db);
          insert(db, 'inner');
        }),
      );
      expect(values(db)).toEqual(['inner']); // visible inside the outer transaction
      throw new Error('outer fails');
    });
    expect(() => outer()).toThrow('outer fails');
    expect(inside).toBe(FULL);
    expect(values(db)).toEqual([]);

    // Committed by the outer transaction: the outer COMMIT (at the connection's FULL) made it durable, no WAL sync is owed.
    db.transaction(() => sync.commit(db.transaction(() => insert(db, 'inner-kept'))))();
    expect(values(db)).toEqual(['inner-kept']);
    await sync.durable();
    expect(fsControl.calls).toEqual([]);
  });

  it('what it commits is visible to a second connection at once (before durable())', async () => {
    const db = openDb();
    const sync = walSyncOf(db);
    sync.commit(db.transaction(() => insert(db, 'seen')));
    const other = new Database(join(dir, 'read.db'), { readonly: true });
    try {
      expect(values(other)).toEqual(['seen']);
    } finally {
      other.close();
    }
    await sync.durable();
  });

  it('without a WAL file (a brand-new database never written) it keeps the connection level: nothing is left to a sync', async () => {
    const db = openReadModelDatabase(join(dir, 'fresh.db'));
    opened.push(db);
    expect(existsSync(join(dir, 'fresh.db-wal'))).toBe(false);
    const sync = new WalSync(db);
    let inside: number | undefined;
    sync.commit(() => {
      inside = synchronousOf(db);
      db.exec('CREATE TABLE first (x)');
    });
    expect(inside).toBe(FULL);
    await sync.durable();
    expect(fsControl.calls).toEqual([]);
  });
});

describe('WalSync.durable', () => {
  it('file database: resolves after an fdatasync of the WAL itself', async () => {
    const db = openDb();
    const sync = walSyncOf(db);
    sync.commit(db.transaction(() => insert(db, 'a')));
    await sync.durable();
    expect(fsControl.calls).toHaveLength(1);
    const fd = fsControl.calls[0] as number;
    expect(fstatSync(fd).ino).toBe(statSync(join(dir, 'read.db-wal')).ino);
    // Nothing committed since: no further sync.
    await sync.durable();
    expect(fsControl.calls).toHaveLength(1);
  });

  it('with no commit yet resolves at once, without a sync', async () => {
    const db = openDb();
    await walSyncOf(db).durable();
    expect(fsControl.calls).toEqual([]);
  });

  it("':memory:': commits keep the connection level and durable() resolves without any sync", async () => {
    const db = openReadModelDatabase(':memory:');
    opened.push(db);
    db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL)');
    const sync = walSyncOf(db);
    const before = synchronousOf(db);
    expect(commitInsert(sync, db, 'a')).toBe(before);
    await sync.durable();
    expect(values(db)).toEqual(['a']);
    expect(fsControl.calls).toEqual([]);
  });

  it('many durable() calls after many commits all resolve on ONE shared fdatasync', async () => {
    const db = openDb();
    const sync = walSyncOf(db);
    for (let i = 0; i < 50; i++) sync.commit(db.transaction(() => insert(db, `v${i}`)));
    await Promise.all(Array.from({ length: 50 }, () => sync.durable()));
    expect(fsControl.calls).toHaveLength(1);
    expect(values(db)).toHaveLength(50);
  });

  it('interleaved commits and durable() calls share syncs: the first sync runs alone, one more covers all the rest', async () => {
    const db = openDb();
    const sync = walSyncOf(db);
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      sync.commit(db.transaction(() => insert(db, `v${i}`)));
      waits.push(sync.durable());
    }
    await Promise.all(waits);
    // The first durable() started a sync covering commit 1; the 49 others waited for the one after it.
    expect(fsControl.calls).toHaveLength(2);
  });

  it('a durable() after a commit made while a sync was running waits for a later sync', async () => {
    const db = openDb();
    const sync = walSyncOf(db);
    fsControl.hold = true;
    sync.commit(db.transaction(() => insert(db, 'first')));
    const first = track(sync.durable());
    await heldCount(1); // the first sync is running (held)

    sync.commit(db.transaction(() => insert(db, 'second')));
    const second = track(sync.durable());
    const alsoFirst = track(sync.durable()); // same commits as `second`
    expect(fsControl.calls).toHaveLength(1); // no second sync while one runs

    releaseHeld(true); // the first sync completes; keep holding the next
    await first.promise;
    await heldCount(1); // a second sync was started for the later commit...
    expect(fsControl.calls).toHaveLength(2);
    await turn();
    expect(second.settled()).toBe(false); // ...and the later durable() waits for it, not for the first
    expect(alsoFirst.settled()).toBe(false);

    releaseHeld();
    await Promise.all([second.promise, alsoFirst.promise]);
    expect(fsControl.calls).toHaveLength(2);
  });

  it('a durable() for commits the running sync already covers resolves with it (no extra sync)', async () => {
    const db = openDb();
    const sync = walSyncOf(db);
    fsControl.hold = true;
    sync.commit(db.transaction(() => insert(db, 'only')));
    const first = track(sync.durable());
    await heldCount(1);
    // No commit since the sync started: this waiter needs nothing more than the running sync.
    const second = track(sync.durable());
    releaseHeld();
    await Promise.all([first.promise, second.promise]);
    await turn();
    expect(fsControl.calls).toHaveLength(1);
  });

  it('a failed fdatasync rejects the waiters; the next durable() syncs again and resolves', async () => {
    const db = openDb();
    const sync = walSyncOf(db);
    sync.commit(db.transaction(() => insert(db, 'a')));
    fsControl.failNext = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    await expect(Promise.all([sync.durable(), sync.durable()])).rejects.toThrow(/fdatasync of the WAL failed: EIO/);
    await sync.durable();
    expect(fsControl.calls).toHaveLength(2);
  });
});

describe('WalSync.close and walSyncOf', () => {
  it.skipIf(process.platform !== 'linux')('close() waits for the running sync, then lets go of the WAL descriptor', async () => {
    const db = openDb();
    const wal = join(dir, 'read.db-wal');
    const sqliteOwn = descriptorsOf(wal);
    const sync = walSyncOf(db);
    fsControl.hold = true;
    sync.commit(db.transaction(() => insert(db, 'a')));
    expect(descriptorsOf(wal)).toBe(sqliteOwn + 1); // opened on the first commit
    const pending = track(sync.durable());
    await heldCount(1);

    const closing = track(sync.close());
    await turn();
    expect(closing.settled()).toBe(false); // waits for the sync in flight
    expect(descriptorsOf(wal)).toBe(sqliteOwn + 1);

    releaseHeld();
    await Promise.all([pending.promise, closing.promise]);
    expect(descriptorsOf(wal)).toBe(sqliteOwn);

    // After close, commits fall back to the connection's own level and need no sync.
    expect(commitInsert(sync, db, 'b')).toBe(FULL);
    await sync.durable();
    expect(fsControl.calls).toHaveLength(1);
    expect(values(db)).toEqual(['a', 'b']);
  });

  it('walSyncOf returns one instance per database', () => {
    const a = openDb('a.db');
    const b = openDb('b.db');
    expect(walSyncOf(a)).toBe(walSyncOf(a));
    expect(walSyncOf(b)).not.toBe(walSyncOf(a));
    expect(walSyncOf(a)).toBeInstanceOf(WalSync);
  });
});

describe('WalSync turn batches', () => {
  function batched(db: ReadModelDatabase): WalSync {
    const sync = new WalSync(db);
    sync.enableTurnBatches();
    return sync;
  }

  /** A second, read-only connection (closed after the test). */
  function reader(): Database.Database {
    const other = new Database(join(dir, 'read.db'), { readonly: true });
    opened.push(other);
    return other;
  }

  it('the commits of one turn share one transaction, committed on the next turn under NORMAL; the level comes back after it', async () => {
    const db = openDb();
    const sync = batched(db);
    const other = reader();
    sync.commit(db.transaction(() => insert(db, 'a')));
    expect(commitInsert(sync, db, 'b')).toBe(NORMAL);
    expect(db.inTransaction).toBe(true);
    expect(values(db)).toEqual(['a', 'b']); // the connection sees its own batch
    expect(values(other)).toEqual([]); // others see it once it commits
    await turn();
    expect(db.inTransaction).toBe(false);
    expect(values(other)).toEqual(['a', 'b']);
    expect(synchronousOf(db)).toBe(FULL);
  });

  it('a transaction that throws is undone alone; the rest of the batch commits', async () => {
    const db = openDb();
    const sync = batched(db);
    sync.commit(db.transaction(() => insert(db, 'kept')));
    expect(() =>
      sync.commit(
        db.transaction(() => {
          insert(db, 'undone');
          throw new Error('effect failed');
        }),
      ),
    ).toThrow('effect failed');
    sync.commit(db.transaction(() => insert(db, 'also kept')));
    await sync.durable();
    expect(values(db)).toEqual(['kept', 'also kept']);
  });

  it('durable() waits for the batch to commit, then one fdatasync covers every commit of it', async () => {
    const db = openDb();
    const sync = batched(db);
    const other = reader();
    sync.commit(db.transaction(() => insert(db, 'a')));
    const first = sync.durable();
    sync.commit(db.transaction(() => insert(db, 'b')));
    const second = sync.durable();
    expect(fsControl.calls).toHaveLength(0); // nothing to sync before the batch commits
    await Promise.all([first, second]);
    expect(fsControl.calls).toHaveLength(1);
    expect(values(other)).toEqual(['a', 'b']);
  });

  it('outsideBatch commits the open batch first, then runs the write on its own at the connection level', () => {
    const db = openDb();
    const sync = batched(db);
    const other = reader();
    sync.commit(db.transaction(() => insert(db, 'batched')));
    let inside: number | undefined;
    sync.outsideBatch(() => {
      inside = synchronousOf(db);
      expect(db.inTransaction).toBe(false);
      insert(db, 'own');
    });
    expect(inside).toBe(FULL);
    expect(values(other)).toEqual(['batched', 'own']); // both committed before outsideBatch returned
  });

  it('a batch SQLite rolled back fails every durable() from then on, and reports the failure', async () => {
    const db = openDb();
    const sync = batched(db);
    sync.commit(db.transaction(() => insert(db, 'lost')));
    const waiting = sync.durable();
    // What an I/O error or a full disk does: SQLite rolls back the whole transaction.
    expect(() => sync.commit(() => db.exec('ROLLBACK'))).not.toThrow();
    await expect(waiting).rejects.toThrow(/batch of handler effects failed to commit/);
    expect(sync.failure?.message).toMatch(/restart to redeliver/);
    sync.commit(db.transaction(() => insert(db, 'later')));
    await expect(sync.durable()).rejects.toThrow(/batch of handler effects failed/);
    expect(values(db)).toEqual(['later']);
    await sync.close();
  });

  it('close() commits the open batch and syncs it', async () => {
    const db = openDb();
    const sync = batched(db);
    sync.commit(db.transaction(() => insert(db, 'a')));
    await sync.close();
    expect(db.inTransaction).toBe(false);
    expect(fsControl.calls).toHaveLength(1);
    const other = reader();
    expect(values(other)).toEqual(['a']);
  });
});

describe('WalSync turn batches and outsideBatch inside a batched transaction', () => {
  it('joins the batch instead of committing it under the running transaction', async () => {
    const db = openDb();
    const sync = new WalSync(db);
    sync.enableTurnBatches();
    sync.commit(
      db.transaction(() => {
        insert(db, 'effect');
        sync.outsideBatch(() => insert(db, 'nested'));
      }),
    );
    expect(db.inTransaction).toBe(true);
    await sync.durable();
    expect(values(db)).toEqual(['effect', 'nested']);
    expect(sync.failure).toBeUndefined();
  });
});
