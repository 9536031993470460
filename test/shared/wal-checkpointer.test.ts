/**
 * WalCheckpointer takes checkpoints over from the committing connection only once its worker is
 * ready, gives them back when it stops or cannot start, and asks the committer to finish the job
 * when a RESTART cannot get through.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { RESTART_AFTER_FRAMES } from '../../src/shared/wal-checkpoint-protocol.js';
import { AUTOCHECKPOINT_PAGES, type CommittingConnection, WalCheckpointer } from '../../src/shared/wal-checkpointer.js';

let dir: string;
let path: string;
let db: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mmp-wal-checkpointer-'));
  path = join(dir, 'data.db');
  db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL)');
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function recordingCommitter(): CommittingConnection & { readonly autocheckpoints: number[]; betweenCommits: number } {
  const autocheckpoints: number[] = [];
  return {
    autocheckpoints,
    betweenCommits: 0,
    setAutocheckpoint(pages) {
      autocheckpoints.push(pages);
    },
    checkpointBetweenCommits() {
      this.betweenCommits += 1;
    },
  };
}

function walFrames(): number {
  const [result] = db.pragma('wal_checkpoint(NOOP)') as { log: number }[];
  return result?.log ?? 0;
}

it('turns the committing connection\'s auto-checkpoint off once its worker is ready, and back on when it stops', async () => {
  const committer = recordingCommitter();
  const checkpointer = WalCheckpointer.start(path, committer, { label: 'test', intervalMs: 5 });
  expect(committer.autocheckpoints).toEqual([]); // not before the worker can take over
  await vi.waitFor(() => expect(committer.autocheckpoints).toEqual([0]), { timeout: 10_000 });
  await checkpointer.stop();
  expect(committer.autocheckpoints).toEqual([0, AUTOCHECKPOINT_PAGES]);
});

it('checkpoints the WAL the committer writes', async () => {
  const committer = recordingCommitter();
  const checkpointer = WalCheckpointer.start(path, committer, { label: 'test', intervalMs: 5 });
  await vi.waitFor(() => expect(committer.autocheckpoints).toEqual([0]), { timeout: 10_000 });
  const insert = db.prepare('INSERT INTO rows (value) VALUES (?)');
  for (let i = 0; i < 200; i++) insert.run('x'.repeat(3_000));
  // Everything written gets copied into the database file without this connection checkpointing.
  await vi.waitFor(
    () => {
      const [result] = db.pragma('wal_checkpoint(NOOP)') as { log: number; checkpointed: number }[];
      expect(result?.log).toBeGreaterThan(100);
      expect(result?.checkpointed).toBe(result?.log);
    },
    { timeout: 10_000 },
  );
  await checkpointer.stop();
});

it('leaves the committer\'s checkpoints alone when its worker cannot open the database', async () => {
  const committer = recordingCommitter();
  const checkpointer = WalCheckpointer.start(join(dir, 'missing.db'), committer, { label: 'test', intervalMs: 5 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await checkpointer.stop();
  expect(committer.autocheckpoints).toEqual([]);
});

it('asks the committer to checkpoint between its commits when a RESTART cannot get through', async () => {
  const insert = db.prepare('INSERT INTO rows (value) VALUES (?)');
  const fill = db.transaction(() => {
    for (let i = 0; i < RESTART_AFTER_FRAMES + 100; i++) insert.run('x'.repeat(3_000));
  });
  fill();
  expect(walFrames()).toBeGreaterThanOrEqual(RESTART_AFTER_FRAMES);
  // A reader whose snapshot needs the WAL (nothing is copied yet) keeps it in use: RESTART waits for it, and gives up.
  const reader = new Database(path);
  reader.exec('BEGIN');
  reader.prepare('SELECT COUNT(*) FROM rows').get();
  const committer = recordingCommitter();
  const checkpointer = WalCheckpointer.start(path, committer, { label: 'test', intervalMs: 5 });
  try {
    await vi.waitFor(() => expect(committer.betweenCommits).toBeGreaterThan(0), { timeout: 10_000 });
  } finally {
    reader.exec('COMMIT');
    reader.close();
    await checkpointer.stop();
  }
});

it('does not bother the committer when the RESTART got through', async () => {
  const insert = db.prepare('INSERT INTO rows (value) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < RESTART_AFTER_FRAMES + 100; i++) insert.run('x'.repeat(3_000));
  })();
  const committer = recordingCommitter();
  const checkpointer = WalCheckpointer.start(path, committer, { label: 'test', intervalMs: 5 });
  try {
    await vi.waitFor(
      () => {
        const [result] = db.pragma('wal_checkpoint(NOOP)') as { log: number; checkpointed: number }[];
        expect(result?.checkpointed).toBe(result?.log);
      },
      { timeout: 10_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 50)); // a few more rounds
    expect(committer.betweenCommits).toBe(0);
    insert.run('after'); // the next commit starts the WAL over
    expect(walFrames()).toBeLessThan(10);
  } finally {
    await checkpointer.stop();
  }
});
