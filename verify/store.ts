/**
 * Store: events that break their contract, written behind the engine's back (a second SQLite
 * connection on events.db), must be reported and parked by every group that reads them, and must
 * never stop a consumer: the events after them are processed.
 * Corruptions: an UPDATE of a stored ai.scoring.requested (field `request` removed), an INSERT of
 * an ai.scoring.requested with a wrong type (attempt "one"), an INSERT of an ai.scoring.completed
 * without its result, each in its own scoring stream, between valid scorings.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { EventFilter, PersistentSubscriptionInfo } from '../src/eventstore/port.js';
import { ensureDemoTenant } from '../src/tenancy/demo.js';
import { startEngine, type RunningEngine } from '../src/wiring.js';
import { info, isRecord, pollUntil, prng, stringField, tempDir, unversioned, zero, type Check, type Figure, type VerifyOptions } from './common.js';
import { scoringBody } from './requests.js';
import { indexStore, storePath } from './store-index.js';

interface EventRow {
  readonly seq: number;
  readonly stream_id: number;
  readonly revision: number;
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

function filterMatches(filter: EventFilter | undefined, type: string, stream: string): boolean {
  if (!filter) return true;
  const subject = filter.on === 'eventType' ? type : stream;
  if ('prefixes' in filter) return filter.prefixes.some((prefix) => subject.startsWith(prefix));
  return new RegExp(filter.regex).test(subject);
}

/** Tampers with events.db through its own connection, as an operator (or a disk) might. */
class Tamperer {
  readonly #db: Database.Database;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('busy_timeout = 5000');
  }

  firstOfStream(stream: string): EventRow {
    const row = this.#db.prepare('SELECT e.* FROM events e JOIN streams s ON s.id = e.stream_id WHERE s.name = ? ORDER BY e.revision LIMIT 1').get(stream) as EventRow | undefined;
    if (!row) throw new Error(`no event in ${stream}`);
    return row;
  }

  updateData(eventId: string, data: unknown): void {
    const changed = this.#db.prepare('UPDATE events SET data = ? WHERE id = ?').run(JSON.stringify(data), eventId).changes;
    if (changed !== 1) throw new Error(`updated ${changed} rows for ${eventId}`);
  }

  /** A new stream with one event, appended at the head of $all. */
  insert(stream: string, type: string, data: unknown, metadata: string): string {
    const id = randomUUID();
    this.#db.transaction(() => {
      const streamId = Number(this.#db.prepare('INSERT INTO streams (name, last_revision) VALUES (?, 0)').run(stream).lastInsertRowid);
      this.#db.prepare('INSERT INTO events (stream_id, revision, id, type, data, metadata, created) VALUES (?, 0, ?, ?, ?, ?, ?)').run(streamId, id, type, JSON.stringify(data), metadata, Date.now());
    }).immediate();
    return id;
  }

  close(): void {
    this.#db.close();
  }
}

export const storeCheck: Check = {
  name: 'store',
  async run(options: VerifyOptions): Promise<Figure[]> {
    const { log } = options;
    const random = prng(options.seed ^ 0x5707e);
    const dir = tempDir('store');
    const dataDir = join(dir.path, 'data');
    let engine: RunningEngine | undefined;
    let tamperer: Tamperer | undefined;
    try {
      // A first run creates every subscription group (some start at the end of $all, e.g.
      // notifications: they must exist before the events they are to read).
      const first = await startEngine({ dataDir, http: { rateLimit: false } });
      const demo = await ensureDemoTenant(first.deps);
      await first.runner.waitForIdle(undefined, { timeout: 30_000 });
      await first.stop();
      if (!demo) throw new Error('no demo tenant');
      // Then handlers start only after the tampering, so no group has read the events before.
      engine = await startEngine({ dataDir, runHandlers: false, http: { rateLimit: false } });
      const running = engine;
      const user = { authorization: `Bearer ${demo.userKey.apiKey}` };
      const admin = { authorization: `Bearer ${demo.adminKey.apiKey}` };
      const submit = async (): Promise<string> => {
        const response = await running.http.inject({ method: 'POST', url: '/scorings', headers: { ...user, 'content-type': 'application/json' }, payload: JSON.stringify(scoringBody(random)) });
        const scoringId = stringField(response.json(), 'scoringId');
        if (response.statusCode !== 202 || !scoringId) throw new Error(`POST /scorings answered ${response.statusCode}: ${response.body}`);
        return scoringId;
      };

      const valid: string[] = [await submit()];
      const victim = await submit();
      tamperer = new Tamperer(storePath(dataDir));
      const original = tamperer.firstOfStream(`scoring-${victim}`);
      const originalData = JSON.parse(original.data) as Record<string, unknown>;
      const corrupt = new Map<string, { type: string; stream: string }>();

      // 1. UPDATE: a stored request loses its `request` field.
      const { request: _dropped, ...withoutRequest } = originalData;
      tamperer.updateData(original.id, withoutRequest);
      corrupt.set(original.id, { type: original.type, stream: `scoring-${victim}` });
      // 2. INSERT: a request whose attempt is a string.
      const wrongTypeId = randomUUID();
      const inserted = tamperer.insert(`scoring-${wrongTypeId}`, original.type, { ...originalData, scoringId: wrongTypeId, attempt: 'one' }, original.metadata);
      corrupt.set(inserted, { type: original.type, stream: `scoring-${wrongTypeId}` });
      valid.push(await submit());
      // 3. INSERT: a completion without its result.
      const orphanId = randomUUID();
      const completedType = 'ai.scoring.completed.v2';
      const insertedCompleted = tamperer.insert(`scoring-${orphanId}`, completedType, { scoringId: orphanId, tenantId: demo.tenantId, attempt: 1 }, original.metadata);
      corrupt.set(insertedCompleted, { type: completedType, stream: `scoring-${orphanId}` });
      valid.push(await submit());

      await running.runner.start();
      valid.push(await submit());
      await running.runner.waitForIdle(undefined, { timeout: 60_000 }).catch((error: unknown) => log(`store: ${(error as Error).message}`));

      // Later events processed: every valid scoring completed and metered.
      const settled = await pollUntil(async () => {
        const current = await indexStore(running.deps.store);
        return valid.every((id) => current.scorings.get(id)?.last === 'completed' && (current.usage.get(id) ?? 0) === 1) ? current : undefined;
      }, 30_000);
      const index = settled ?? (await indexStore(running.deps.store));
      const validStuck = valid.filter((id) => !(index.scorings.get(id)?.last === 'completed' && (index.usage.get(id) ?? 0) === 1)).length;

      // Parked by every group that reads them.
      const groups: PersistentSubscriptionInfo[] = await running.deps.store.listPersistentSubscriptions();
      let notParked = 0;
      let parkings = 0;
      for (const group of groups) {
        const filter = group.filter;
        const source = group.eventSource === '$all' ? ({ kind: 'all', ...(filter ? { filter } : {}) } as const) : ({ kind: 'stream', stream: group.eventSource } as const);
        const parked = new Set((await running.deps.store.listParkedMessages(source, group.groupName, { maxCount: 1_000 })).map((message) => message.event.id));
        for (const [id, event] of corrupt) {
          if (group.eventSource !== '$all' || !filterMatches(filter, event.type, event.stream)) continue;
          if (parked.has(id)) parkings += 1;
          else {
            notParked += 1;
            log(`store: group ${group.groupName} did not park corrupt ${unversioned(event.type)} ${id}`);
          }
        }
      }

      // Reported: an admin notification about each.
      const reported = new Set<string>();
      for await (const event of running.deps.store.readAll()) {
        if (unversioned(event.type) !== 'notification.admin.sent') continue;
        const related = stringField(event.data, 'relatedEventId');
        if (related && corrupt.has(related)) reported.add(related);
      }
      const unreported = [...corrupt.keys()].filter((id) => !reported.has(id)).length;

      // Consumers alive.
      const stopped = running.runner.status().filter((status) => status.paused || status.consumers < 1);
      for (const status of stopped) log(`store: group ${status.group} ${status.paused ? 'paused' : 'without consumers'}${status.lastError ? `: ${status.lastError}` : ''}`);

      // Reading a corrupt stream through the API (informational: a 5xx here is a server-side data fault).
      let reads5xx = 0;
      for (const url of [`/scorings/${victim}`, `/streams/scoring-${victim}`, `/events?stream=scoring-${wrongTypeId}`, `/scorings/${orphanId}`, `/admin/groups/ai-scoring/parked`]) {
        const response = await running.http.inject({ method: 'GET', url, headers: url.startsWith('/admin') ? admin : user });
        if (response.statusCode >= 500) {
          reads5xx += 1;
          log(`store: GET ${url} answered ${response.statusCode}`);
        }
      }
      const metrics = await running.http.inject({ method: 'GET', url: '/admin/groups', headers: { authorization: `Bearer ${demo.operatorKey.apiKey}` } });
      const groupViews = metrics.json() as unknown;
      const parkedTotal = Array.isArray(groupViews) ? groupViews.reduce((sum: number, view: unknown) => sum + (isRecord(view) && typeof view['parked'] === 'number' ? view['parked'] : 0), 0) : 0;
      log(`store: ${corrupt.size} corrupt events, ${parkings} parkings, ${reported.size} reported, ${parkedTotal} parked in /admin/groups; ${valid.length} valid scorings around them`);
      return [
        info('store.corrupt_events', corrupt.size),
        zero('store.corrupt_not_parked', notParked),
        zero('store.corrupt_unreported', unreported),
        zero('store.later_scorings_not_processed', validStuck),
        zero('store.consumers_stopped', stopped.length),
        info('store.corrupt_reads_5xx', reads5xx),
      ];
    } finally {
      tamperer?.close();
      await engine?.stop().catch(() => undefined);
      dir.remove();
    }
  },
};
