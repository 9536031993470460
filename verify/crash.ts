/**
 * Crash: the engine as its own process (src/main.ts) under steady load from a few clients, killed
 * with SIGKILL at random moments and restarted on the same DATA_DIR. After each restart:
 * - every acknowledged (2xx) command's events are in the store (read from the file, read-only);
 * - every scoring request reaches a terminal state (completed / failed) within a deadline, with
 *   one completion per attempt and its usage recorded exactly once;
 * - invoices: every usage and payment on its invoice once, no line repeated;
 * - each projection equals a fresh rebuild (rebuildProjection into an empty database): the
 *   engine's own tables when it runs the projection, else a live model this process feeds event
 *   by event; and the engine's ai_quotas read model equals a fold of the log through its handler.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEngineDeps } from '../src/wiring.js';
import { createAiQuotasProjection } from '../src/process-managers/ai-quotas.js';
import { createProjections } from '../src/projections/index.js';
import type { EventStore } from '../src/eventstore/port.js';
import type { ReadModelDatabase } from '../src/readmodel/database.js';
import { info, isRecord, pollUntil, prng, randomInt, sleep, stringField, tempDir, zero, type Check, type Figure, type VerifyOptions } from './common.js';
import { call, must, ok } from './http.js';
import { checkInvoices } from './invoices.js';
import { compareProjection, compareTables, freshRebuild, LiveReadModels, snapshotReadModels } from './projections.js';
import { actionBody, paymentBody, scoringBody } from './requests.js';
import { startChildServer, type ChildServer, type DemoKeys } from './server.js';
import { indexStore, withReadOnlyStore, type StoreIndex } from './store-index.js';

type Ack =
  | { readonly kind: 'scoring'; readonly scoringId: string; readonly correlationId: string }
  | { readonly kind: 'action'; readonly correlationId: string; readonly count: number }
  | { readonly kind: 'payment'; readonly paymentId: string; readonly correlationId: string };

const WORKERS = 4;
const SETTLE_TIMEOUT_MS = 90_000;

interface Totals {
  acknowledgedLost: Set<string>;
  notTerminal: number;
  completedDuplicates: number;
  usageMissing: number;
  usageDuplicates: number;
  invoiceMissing: number;
  invoiceDuplicate: number;
  invoicePaidMismatch: number;
  projectionDiff: Map<string, number>;
  restartMs: number[];
}

function ackKey(ack: Ack): string {
  return ack.kind === 'scoring' ? `scoring ${ack.scoringId}` : ack.kind === 'payment' ? `payment ${ack.paymentId}` : `action ${ack.correlationId}`;
}

function ackPresent(ack: Ack, index: StoreIndex): boolean {
  switch (ack.kind) {
    case 'scoring':
      return (index.scorings.get(ack.scoringId)?.requested ?? 0) >= 1 && (index.byCorrelation.get(ack.correlationId) ?? 0) >= 1;
    case 'action':
      return (index.byCorrelation.get(ack.correlationId) ?? 0) >= ack.count;
    case 'payment':
      return (index.payments.get(ack.paymentId)?.count ?? 0) >= 1;
  }
}

/** Scorings still waiting (not terminal) or completed without usage yet: what settling waits for. */
function unsettled(index: StoreIndex): { notTerminal: string[]; usageMissing: string[] } {
  const notTerminal: string[] = [];
  const usageMissing: string[] = [];
  for (const [scoringId, life] of index.scorings) {
    if (life.last === 'requested') notTerminal.push(scoringId);
    if (life.completed > 0 && (index.usage.get(scoringId) ?? 0) === 0) usageMissing.push(scoringId);
  }
  return { notTerminal, usageMissing };
}

/** Load from `WORKERS` clients until `stop` is set or the server stops answering. */
function startLoad(server: ChildServer, keys: DemoKeys, subscriptionId: string, random: () => number, acks: Ack[], stop: { stopped: boolean }): Promise<void>[] {
  const worker = async (): Promise<void> => {
    while (!stop.stopped) {
      const correlationId = `verify-${randomUUID()}`;
      const headers = { 'x-correlation-id': correlationId };
      const roll = random();
      if (roll < 0.55) {
        const answer = await call(server.url, { method: 'POST', path: '/scorings', key: keys.user, headers, body: scoringBody(random), timeoutMs: 10_000 });
        const scoringId = stringField(answer.body, 'scoringId');
        if (ok(answer) && scoringId) acks.push({ kind: 'scoring', scoringId, correlationId });
        if (answer.status === 0) return;
      } else if (roll < 0.85) {
        const count = roll < 0.75 ? 1 : randomInt(random, 2, 5);
        const body = count === 1 ? actionBody(random) : { actions: Array.from({ length: count }, () => actionBody(random)) };
        const answer = await call(server.url, { method: 'POST', path: count === 1 ? '/actions' : '/actions/batch', key: keys.user, headers, body, timeoutMs: 10_000 });
        if (ok(answer)) acks.push({ kind: 'action', correlationId, count });
        if (answer.status === 0) return;
      } else {
        const paymentId = randomUUID();
        const answer = await call(server.url, { method: 'POST', path: '/webhooks/payments', key: keys.admin, headers, body: paymentBody(random, keys.tenantId, subscriptionId, paymentId), timeoutMs: 10_000 });
        if (ok(answer)) acks.push({ kind: 'payment', paymentId, correlationId });
        if (answer.status === 0) return;
      }
    }
  };
  return Array.from({ length: WORKERS }, worker);
}

async function engineGroups(server: ChildServer, keys: DemoKeys): Promise<Set<string>> {
  const body = await must(server.url, { method: 'GET', path: '/admin/groups', key: keys.operator });
  const names = new Set<string>();
  if (Array.isArray(body)) for (const group of body) if (isRecord(group) && typeof group['group'] === 'string') names.add(group['group']);
  return names;
}

/** The engine's ai_quotas read model as its handler would build it from the whole log. */
async function foldAiQuotas(store: EventStore): Promise<{ db: ReadModelDatabase; close(): Promise<void> }> {
  const deps = await createEngineDeps({ dataDir: ':memory:' });
  const handler = createAiQuotasProjection(deps);
  const filter = handler.source.kind === 'all' ? handler.source.filter : undefined;
  const prefixes = filter && 'prefixes' in filter ? filter.prefixes : [];
  const signal = new AbortController().signal;
  for await (const event of store.readAll()) {
    if (!prefixes.some((prefix) => event.type.startsWith(prefix))) continue;
    try {
      await handler.handle(event, { group: handler.name, retryCount: 0, attempt: 0, signal });
    } catch {
      // a corrupt event: the live group parks it, the fold skips it
    }
  }
  return {
    db: deps.readDb,
    async close() {
      deps.breakers.shutdown();
      await deps.store.close();
      deps.readDb.close();
    },
  };
}

export const crashCheck: Check = {
  name: 'crash',
  async run(options: VerifyOptions): Promise<Figure[]> {
    const { log } = options;
    const kills = options.quick ? 3 : 20;
    const random = prng(options.seed ^ 0xc4a5);
    const dir = tempDir('crash');
    const dataDir = join(dir.path, 'data');
    const projections = createProjections();
    const live = new LiveReadModels(projections);
    const acks: Ack[] = [];
    const totals: Totals = {
      acknowledgedLost: new Set(),
      notTerminal: 0,
      completedDuplicates: 0,
      usageMissing: 0,
      usageDuplicates: 0,
      invoiceMissing: 0,
      invoiceDuplicate: 0,
      invoicePaidMismatch: 0,
      projectionDiff: new Map([...projections.map((p) => [p.name, 0] as const), ['ai_quotas', 0]]),
      restartMs: [],
    };
    let server = await startChildServer({ dataDir });
    const keys = server.keys;
    if (!keys) throw new Error('the first start printed no demo keys');
    let checksRun = 0;
    try {
      // Enterprise: a budget that no verify run exhausts (and plan-change lines on the invoice).
      await must(server.url, { method: 'PUT', path: '/subscription/plan', key: keys.admin, body: { plan: 'enterprise' } });
      const subscriptionId = stringField(await must(server.url, { method: 'GET', path: '/subscription', key: keys.user }), 'subscriptionId');
      if (!subscriptionId) throw new Error('no subscription id');

      for (let cycle = 1; cycle <= kills; cycle++) {
        const stop = { stopped: false };
        const before = acks.length;
        const workers = startLoad(server, keys, subscriptionId, random, acks, stop);
        await sleep(randomInt(random, 400, 3_000));
        await server.kill9();
        stop.stopped = true;
        await Promise.all(workers);
        const started = performance.now();
        server = await startChildServer({ dataDir });
        totals.restartMs.push(performance.now() - started);
        log(`crash ${cycle}/${kills}: SIGKILL after ${acks.length - before} acknowledged commands; restarted in ${Math.round(totals.restartMs.at(-1) ?? 0)} ms`);

        // Settle: every scoring terminal and metered, or the deadline.
        const settledAt = performance.now();
        let index = await withReadOnlyStore(dataDir, indexStore);
        for (const ack of acks) if (!ackPresent(ack, index)) totals.acknowledgedLost.add(ackKey(ack));
        // Quiet too: the head unchanged between two polls (process managers trail the scorings).
        let previousHead = -2n;
        const settled = await pollUntil(async () => {
          index = await withReadOnlyStore(dataDir, indexStore);
          const open = unsettled(index);
          const quiet = index.head === previousHead;
          previousHead = index.head;
          return open.notTerminal.length === 0 && open.usageMissing.length === 0 && quiet ? true : undefined;
        }, SETTLE_TIMEOUT_MS, 500);
        const open = unsettled(index);
        totals.notTerminal += open.notTerminal.length;
        totals.usageMissing += open.usageMissing.length;
        if (!settled) log(`  not settled after ${SETTLE_TIMEOUT_MS} ms: ${open.notTerminal.length} scorings not terminal (${open.notTerminal.slice(0, 3).join(', ')}), ${open.usageMissing.length} without usage`);
        for (const life of index.scorings.values()) for (const count of life.completedAttempts.values()) totals.completedDuplicates += Math.max(0, count - 1);
        for (const count of index.usage.values()) totals.usageDuplicates += Math.max(0, count - 1);
        log(`  settled in ${Math.round(performance.now() - settledAt)} ms: ${index.events} events, ${index.scorings.size} scorings, ${acks.length} acknowledged so far`);

        // Projections and invoices.
        const groups = await engineGroups(server, keys);
        if (cycle === 1) {
          const byEngine = projections.filter((p) => groups.has(p.name)).map((p) => p.name);
          const byVerifier = projections.filter((p) => !groups.has(p.name)).map((p) => p.name);
          log(`  projections vs fresh rebuild: engine tables for [${byEngine.join(', ')}], a live model fed here for [${byVerifier.join(', ')}]; ai_quotas vs a fold of the log`);
        }
        await withReadOnlyStore(dataDir, async (store) => {
          for (const projection of projections) {
            const engineRuns = groups.has(projection.name);
            // A comparison counts only if the store did not move meanwhile (else it is redone).
            for (let attempt = 1; ; attempt++) {
              const headBefore = (await store.headPosition())?.commit;
              await live.feed(store);
              const rebuilt = await freshRebuild(store, projection);
              let snapshot: ReadModelDatabase | undefined;
              try {
                let diff = 0;
                let samples: string[] = [];
                const compare = (db: ReadModelDatabase): void => {
                  const tables = compareProjection(db, rebuilt, projection);
                  diff = tables.reduce((sum, t) => sum + t.differing, 0);
                  samples = tables.flatMap((t) => t.sample.map((sample) => `${t.table}: ${sample}`));
                };
                if (engineRuns) {
                  // The engine runs it: its own tables, once it has caught up (poll with a deadline).
                  await pollUntil(async () => {
                    snapshot?.close();
                    snapshot = await snapshotReadModels(join(dataDir, 'read-models.db'), join(dir.path, `snapshot-${projection.name}.db`));
                    compare(snapshot);
                    return diff === 0 ? true : undefined;
                  }, 15_000, 500);
                } else compare(live.db);
                const moved = (await store.headPosition())?.commit !== headBefore;
                if (diff > 0 && moved && attempt < 3) continue;
                totals.projectionDiff.set(projection.name, (totals.projectionDiff.get(projection.name) ?? 0) + diff);
                if (diff > 0) log(`  projection ${projection.name} (${engineRuns ? 'engine' : 'verifier live model'}) differs from a fresh rebuild in ${diff} rows: ${samples.slice(0, 4).join(' | ')}`);
                if (projection.name === 'usage_invoices') {
                  const invoices = checkInvoices(snapshot ?? live.db, index, keys.tenantId);
                  totals.invoiceMissing += invoices.missing;
                  totals.invoiceDuplicate += invoices.duplicate;
                  totals.invoicePaidMismatch += invoices.paidMismatchCents;
                  if (invoices.problems.length > 0) log(`  invoices: ${invoices.problems.slice(0, 5).join('; ')}`);
                }
                break;
              } finally {
                snapshot?.close();
                rebuilt.close();
              }
            }
          }
          // ai_quotas: the engine's read model against a fold of the log through the same handler.
          const fold = await foldAiQuotas(store);
          try {
            let diff = 0;
            let samples: readonly string[] = [];
            await pollUntil(async () => {
              const snapshot = await snapshotReadModels(join(dataDir, 'read-models.db'), join(dir.path, 'snapshot-ai-quotas.db'));
              try {
                const result = compareTables(snapshot, 'ai_quotas', fold.db, 'ai_quotas', 'ai_quotas');
                diff = result.differing;
                samples = result.sample;
              } finally {
                snapshot.close();
              }
              return diff === 0 ? true : undefined;
            }, 15_000, 500);
            totals.projectionDiff.set('ai_quotas', (totals.projectionDiff.get('ai_quotas') ?? 0) + diff);
            if (diff > 0) log(`  ai_quotas differs from a fold of the log in ${diff} rows: ${samples.join(' | ')}`);
          } finally {
            await fold.close();
          }
        });
        checksRun += 1;
      }
    } finally {
      await server.stop().catch(() => undefined);
      live.close();
      dir.remove();
    }
    const byKind = (kind: Ack['kind']): number => acks.filter((ack) => ack.kind === kind).length;
    const restart = [...totals.restartMs].sort((a, b) => a - b);
    if (totals.acknowledgedLost.size > 0) log(`crash: lost acknowledged commands: ${[...totals.acknowledgedLost].slice(0, 5).join(', ')}`);
    return [
      info('crash.kills', checksRun),
      info('crash.acknowledged_scorings', byKind('scoring')),
      info('crash.acknowledged_actions', byKind('action')),
      info('crash.acknowledged_payments', byKind('payment')),
      zero('crash.acknowledged_lost', totals.acknowledgedLost.size),
      zero('crash.scorings_not_terminal', totals.notTerminal),
      zero('crash.completions_duplicated', totals.completedDuplicates),
      zero('crash.usage_missing', totals.usageMissing),
      zero('crash.usage_duplicated', totals.usageDuplicates),
      zero('crash.invoice_lines_missing', totals.invoiceMissing),
      zero('crash.invoice_lines_duplicated', totals.invoiceDuplicate),
      zero('crash.invoice_paid_mismatch_cents', totals.invoicePaidMismatch),
      ...[...totals.projectionDiff].map(([name, diff]) => zero(`crash.projection_vs_rebuild_rows.${name}`, diff)),
      info('crash.restart_p50_ms', Math.round(restart[Math.floor(restart.length / 2)] ?? 0), 'ms'),
    ];
  },
};
