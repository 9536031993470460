import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import { InvalidArgumentError, StoreUnavailableError, StreamNotFoundError, WrongExpectedVersionError } from '../../src/eventstore/errors.js';
import { EXCLUDE_SYSTEM_EVENTS, type Position } from '../../src/eventstore/port.js';
import { caught, collect, iteratorOf, newEvent, newEvents, revisionsOf, takeFrom, withTimeout } from './contract/helpers.js';
import { unique } from './contract/lane.js';

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = join(here, '..', '..');
const childScript = join(here, 'fixtures', 'append-child.ts');

let dir: string;
const stores: EmbeddedEventStore[] = [];
const children: ChildProcess[] = [];

async function open(path: string, options: { readOnly?: boolean; commitThread?: boolean; checkpointIntervalMs?: number; busyTimeoutMs?: number } = {}): Promise<EmbeddedEventStore> {
  const store = await EmbeddedEventStore.open({ path, ...options });
  stores.push(store);
  return store;
}

function spawnChild(args: string[], env: Record<string, string> = {}): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  children.push(child);
  if (child.stdout === null) throw new Error('no stdout');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines };
}

async function nextLine(lines: AsyncIterator<string>): Promise<string> {
  const result = await withTimeout(lines.next(), 120_000, 'a line from the child process');
  if (result.done === true) throw new Error('child process ended early');
  return result.value;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'embedded-es-test-'));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded store: file, schema and pragmas', () => {
  it('creates the parent directory, uses WAL and records its migrations', async () => {
    const path = join(dir, 'nested', 'deeper', 'events.db');
    const store = await open(path);
    await store.append(unique('s'), [newEvent('E')]);
    expect(existsSync(path)).toBe(true);
    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.pragma('user_version', { simple: true })).toBe(1);
      expect(raw.prepare('SELECT version, name FROM schema_migrations').all()).toEqual([{ version: 1, name: 'streams and events' }]);
    } finally {
      raw.close();
    }
  });

  it('reopening an up-to-date file runs no migration twice', async () => {
    const path = join(dir, 'twice.db');
    await (await open(path)).close();
    const store = await open(path);
    expect((await store.health()).ok).toBe(true);
  });

  it("works in ':memory:'", async () => {
    const store = await open(':memory:');
    const result = await store.append('mem', newEvents('E', 3));
    expect(result.position).toEqual({ commit: 3n, prepare: 3n });
    expect(await revisionsOf(store, 'mem')).toEqual([0n, 1n, 2n]);
  });

  it('an empty store has no head position; positions are the global sequence (commit === prepare)', async () => {
    const store = await open(join(dir, 'positions.db'));
    expect(await store.headPosition()).toBeUndefined();
    const a = await store.append('a', newEvents('E', 2));
    const b = await store.append('b', [newEvent('E')]);
    expect(a.position).toEqual({ commit: 2n, prepare: 2n });
    expect(b.position).toEqual({ commit: 3n, prepare: 3n });
    expect(await store.headPosition()).toEqual({ commit: 3n, prepare: 3n });
  });
});

describe('embedded store: group commit', () => {
  it('appends issued in the same tick share one transaction; a failing one does not fail the others', async () => {
    const store = await open(join(dir, 'group.db'));
    const stream = unique('g');
    await store.append(stream, [newEvent('Seed')]);
    const before = store.diagnostics().commits;
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 10 }, () => store.append(unique('g'), newEvents('E', 2))),
      store.append(stream, [newEvent('Wrong')], { expectedRevision: 5n }),
      store.append(stream, [newEvent('Right')], { expectedRevision: 0n }),
      store.appendSystem(`$${unique('sys')}`, [newEvent('$System')]),
    ]);
    expect(store.diagnostics().commits - before).toBe(1);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(12);
    const failed = outcomes[10];
    expect(failed?.status === 'rejected' && failed.reason instanceof WrongExpectedVersionError).toBe(true);
    expect(await revisionsOf(store, stream)).toEqual([0n, 1n]);
  });

  it('commits on a worker thread: writes queued while a batch is in flight form the next one, in order, and close() waits for them', async () => {
    const path = join(dir, 'worker.db');
    const store = await open(path, { commitThread: true });
    expect(store.diagnostics().commitThread).toBe(true);
    const stream = unique('w');
    const first = Array.from({ length: 5 }, (_, i) => store.append(stream, [newEvent('First', { i })]));
    await new Promise((resolve) => setImmediate(resolve)); // the first batch is now in flight
    const second = Array.from({ length: 5 }, (_, i) => store.append(stream, [newEvent('Second', { i })]));
    const closing = store.close();
    const results = await Promise.all([...first, ...second]);
    await closing;
    expect(results.map((r) => r.nextExpectedRevision)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    const reopened = await open(path);
    expect((await collect(reopened.readStream(stream))).map((e) => `${e.type}${(e.data as { i: number }).i}`)).toEqual([
      'First0', 'First1', 'First2', 'First3', 'First4', 'Second0', 'Second1', 'Second2', 'Second3', 'Second4',
    ]);
    await caught(() => store.append(stream, [newEvent('Late')]), StoreUnavailableError);
  });

  it('with a commit thread, waits for another connection\'s write lock in short pauses, up to busyTimeoutMs', async () => {
    const path = join(dir, 'locked.db');
    const store = await open(path, { commitThread: true, busyTimeoutMs: 300 });
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const started = performance.now();
      const append = store.append(unique('l'), [newEvent('Waited')]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      other.exec('COMMIT');
      expect((await append).nextExpectedRevision).toBe(0n);
      expect(performance.now() - started).toBeGreaterThanOrEqual(95);

      // Held past the timeout: unavailable, and the next append goes through once the lock is free.
      other.exec('BEGIN IMMEDIATE');
      await caught(() => store.append(unique('l'), [newEvent('Refused')]), StoreUnavailableError);
      other.exec('COMMIT');
      expect((await store.append(unique('l'), [newEvent('After')])).nextExpectedRevision).toBe(0n);
    } finally {
      other.close();
    }
  });

  it('with a commit thread, a third thread checkpoints: the WAL stays short under appends that never stop', async () => {
    const path = join(dir, 'checkpointed.db');
    // Checkpoints every 5 ms, so the bound holds however fast this disk writes.
    const store = await open(path, { commitThread: true, checkpointIntervalMs: 5 });
    const wal = `${path}-wal`;
    const payload = { text: 'x'.repeat(30_000) };
    let largest = 0;
    // About 200 MB of events, a batch of 8 appends every turn, no quiet moment.
    for (let batch = 0; batch < 800; batch++) {
      await Promise.all(Array.from({ length: 8 }, () => store.append(unique('c'), [newEvent('Big', payload)])));
      largest = Math.max(largest, statSync(wal).size);
    }
    // SQLite alone (auto-checkpoint on the committing connection) would also stay short; this guards
    // against turning that off with no worker checkpointing instead: the WAL would then end near 200 MB.
    expect(largest).toBeLessThan(64 * 1024 * 1024);
    expect(store.diagnostics().commits).toBeGreaterThanOrEqual(800);
  }, 120_000);

  it('an idempotent re-append returns the original revision AND position', async () => {
    const store = await open(join(dir, 'idempotent.db'));
    const stream = unique('g');
    const batch = newEvents('Once', 3);
    const first = await store.append(stream, batch, { expectedRevision: 'no_stream' });
    await store.append(unique('other'), [newEvent('Between')]);
    expect(await store.append(stream, batch, { expectedRevision: 'no_stream' })).toEqual(first);
    expect(await store.append(stream, batch, { expectedRevision: 'any' })).toEqual(first);
    expect(await store.append(stream, batch.slice(0, 2), { expectedRevision: 'no_stream' })).toEqual({
      nextExpectedRevision: 1n,
      position: { commit: first.position.commit - 1n, prepare: first.position.prepare - 1n },
    });
    // A retry that reaches past the end of the stream is not a replay.
    await caught(() => store.append(stream, [...batch, newEvent('More')], { expectedRevision: 'no_stream' }), WrongExpectedVersionError);
    expect(await revisionsOf(store, stream)).toEqual([0n, 1n, 2n]);
  });

  it('a batch retried in the same tick (any) is deduplicated against the first', async () => {
    const store = await open(join(dir, 'group-dedupe.db'));
    const stream = unique('g');
    const batch = newEvents('Retried', 2);
    const [first, second] = await Promise.all([store.append(stream, batch), store.append(stream, batch)]);
    expect(second).toEqual(first);
    expect(await revisionsOf(store, stream)).toEqual([0n, 1n]);
  });

  it('with any, a batch that only partly repeats existing ids fails with WrongExpectedVersion', async () => {
    const store = await open(join(dir, 'partial.db'));
    const stream = unique('g');
    const batch = newEvents('Once', 2);
    await store.append(stream, batch);
    await caught(() => store.append(stream, [batch[0] ?? newEvent('x'), newEvent('New')]), WrongExpectedVersionError);
    expect(await revisionsOf(store, stream)).toEqual([0n, 1n]);
  });
});

describe('embedded store: internals for the persistent-subscription engine', () => {
  it('appendSystem writes $-streams, readAll carries them unless system events are excluded', async () => {
    const store = await open(join(dir, 'system.db'));
    const system = `$persistentsubscription-${unique('s')}::g-parked`;
    const head = await store.headPosition();
    await store.appendSystem(system, [newEvent('$>', { link: 1 })]);
    await store.append(unique('user'), [newEvent('User')]);
    const all = await collect(store.readAll({ fromPosition: head ?? 'start' }));
    expect(all.map((e) => e.streamId)).toContain(system);
    const filtered = await collect(store.readAll({ fromPosition: head ?? 'start', filter: EXCLUDE_SYSTEM_EVENTS }));
    expect(filtered.map((e) => e.type)).toEqual(['User']);
    expect((await collect(store.readStream(system))).map((e) => e.type)).toEqual(['$>']);
  });

  it('setTruncateBefore hides earlier revisions from stream reads (all of them: an empty read, not NotFound)', async () => {
    const store = await open(join(dir, 'truncate.db'));
    const stream = '$parked-like';
    await store.appendSystem(stream, newEvents('$>', 4));
    await store.setTruncateBefore(stream, 2n);
    expect(await revisionsOf(store, stream)).toEqual([2n, 3n]);
    expect((await collect(store.readStream(stream, { direction: 'backwards' }))).map((e) => e.revision)).toEqual([3n, 2n]);
    await store.setTruncateBefore(stream, 4n);
    expect(await revisionsOf(store, stream)).toEqual([]);
    expect((await store.appendSystem(stream, [newEvent('$>')])).nextExpectedRevision).toBe(4n);
    expect(await revisionsOf(store, stream)).toEqual([4n]);
    await caught(() => collect(store.readStream('$never-written')), StreamNotFoundError);
  });

  it('readAllAfter reads synchronously after a position; onAppended fires after each commit', async () => {
    const store = await open(join(dir, 'after.db'));
    const heads: Position[] = [];
    const off = store.onAppended((head) => heads.push(head));
    await store.append('s1', newEvents('E', 2));
    await store.append('s2', newEvents('E', 1));
    off();
    await store.append('s3', newEvents('E', 1));
    expect(heads).toEqual([
      { commit: 2n, prepare: 2n },
      { commit: 3n, prepare: 3n },
    ]);
    expect(store.readAllAfter(undefined, 10).map((e) => `${e.streamId}@${e.revision}`)).toEqual(['s1@0', 's1@1', 's2@0', 's3@0']);
    expect(store.readAllAfter({ commit: 2n, prepare: 2n }, 1).map((e) => e.streamId)).toEqual(['s2']);
  });

  it('rejects a negative truncate-before revision', async () => {
    const store = await open(join(dir, 'truncate-bad.db'));
    await caught(() => store.setTruncateBefore('$x', -1n), InvalidArgumentError);
  });
});

describe('embedded store: several connections and processes', () => {
  it('a second connection on the same file sees appends, and the first one is woken for its subscriptions (idle poll)', async () => {
    const path = join(dir, 'two-connections.db');
    const server = await open(path);
    const other = await open(path);
    const stream = unique('x');
    const subscription = server.subscribeToAll({ filter: { on: 'streamName', prefixes: [stream] } });
    await withTimeout(subscription.caughtUp, 60_000, 'caughtUp');
    const iterator = iteratorOf(subscription);
    const pending = takeFrom(iterator, 2);
    await other.append(stream, newEvents('FromOther', 2));
    expect((await pending).map((e) => e.revision)).toEqual([0n, 1n]);
    expect(await revisionsOf(server, stream)).toEqual([0n, 1n]);
    await subscription.unsubscribe();
  });

  it('a read-only connection reads while the server runs, and refuses writes', async () => {
    const path = join(dir, 'readonly.db');
    const server = await open(path);
    const stream = unique('ro');
    await server.append(stream, newEvents('E', 3));
    const reader = await open(path, { readOnly: true });
    expect(await revisionsOf(reader, stream)).toEqual([0n, 1n, 2n]);
    await caught(() => reader.append(stream, [newEvent('E')]), StoreUnavailableError);
    await server.append(stream, [newEvent('E')]);
    expect(await revisionsOf(reader, stream)).toEqual([0n, 1n, 2n, 3n]);
  });

  it('catch-up sees appends made by another process', async () => {
    const path = join(dir, 'cross-process.db');
    const server = await open(path);
    const stream = unique('child');
    const subscription = server.subscribeToAll({ filter: { on: 'streamName', prefixes: [stream] } });
    await withTimeout(subscription.caughtUp, 60_000, 'caughtUp');
    const pending = takeFrom(iteratorOf(subscription), 5, 120_000);
    const { lines } = spawnChild([path, 'append', stream, '5']);
    expect(await nextLine(lines)).toBe('ready');
    expect(await nextLine(lines)).toBe('done');
    const events = await pending;
    expect(events.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4]);
    await subscription.unsubscribe();
  }, 180_000);

  it.each([
    ['on the event loop', false],
    ['on a worker thread (commitThread)', true],
  ])('every append that resolved survives kill -9 (commits %s)', async (_, commitThread) => {
    const path = join(dir, `durability-${String(commitThread)}.db`);
    const stream = unique('durable');
    const { child, lines } = spawnChild([path, 'forever', stream], commitThread ? { APPEND_CHILD_COMMIT_THREAD: '1' } : {});
    expect(await nextLine(lines)).toBe('ready');
    const acknowledged: string[] = [];
    while (acknowledged.length < 200) acknowledged.push(await nextLine(lines));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await withTimeout(exited, 60_000, 'the child to exit');
    // Lines printed between our last read and the kill were acknowledged too.
    for (;;) {
      const result = await lines.next();
      if (result.done === true) break;
      acknowledged.push(result.value);
    }
    expect(child.signalCode).toBe('SIGKILL');
    const store = await open(path);
    const stored = new Set((await collect(store.readStream(stream))).map((e) => e.id));
    const lost = acknowledged.filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
    expect(stored.size).toBeGreaterThanOrEqual(acknowledged.length);
  }, 180_000);
});
