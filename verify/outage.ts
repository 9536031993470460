/**
 * Outage: the AI model is an HTTP service (a loopback server serving the real model through the
 * engine's HttpScoringModel) that goes down for a while, then comes back.
 * - During the outage the scoring process manager retries, records a retryable failure and parks
 *   the request; the 'scoring-model' breaker opens.
 * - After the recovery the breaker goes half-open (its reset timeout, 30 s: production settings),
 *   then the operator action of the runbook: POST /admin/groups/ai-scoring/parked/replay. The
 *   replay re-drives each parked scoring (a new attempt) and the first call closes the breaker.
 * Figures: every scoring completed exactly once with its usage recorded once; the breaker's
 * open / half-open / close transitions (from /metrics); the replays it took.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LightMyRequestResponse } from 'fastify';
import { HttpScoringModel } from '../src/integrations/scoring-model/http-model.js';
import { ensureDemoTenant } from '../src/tenancy/demo.js';
import { startEngine, type RunningEngine } from '../src/wiring.js';
import { startLoopbackScoringServer } from '../test/integrations/scoring-model/loopback-server.js';
import { info, least, pollUntil, prng, sleep, stringField, tempDir, zero, type Check, type Figure, type VerifyOptions } from './common.js';
import { scoringBody } from './requests.js';
import { indexStore, type StoreIndex } from './store-index.js';

const BREAKER = 'scoring-model';

interface BreakerMetrics {
  readonly state: number | undefined;
  readonly transitions: Readonly<Record<'open' | 'halfOpen' | 'close', number>>;
}

function parseBreakerMetrics(text: string): BreakerMetrics {
  const transitions = { open: 0, halfOpen: 0, close: 0 };
  let state: number | undefined;
  for (const line of text.split('\n')) {
    const transition = /^breaker_transitions_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (transition && transition[1]?.includes(`breaker="${BREAKER}"`)) {
      const to = /to="([^"]+)"/.exec(transition[1])?.[1];
      if (to === 'open' || to === 'halfOpen' || to === 'close') transitions[to] = Number(transition[2]);
    }
    const gauge = /^breaker_state\{([^}]*)\}\s+(\S+)/.exec(line);
    if (gauge && gauge[1]?.includes(`breaker="${BREAKER}"`)) state = Number(gauge[2]);
  }
  return { state, transitions };
}

export const outageCheck: Check = {
  name: 'outage',
  async run(options: VerifyOptions): Promise<Figure[]> {
    const { log } = options;
    const random = prng(options.seed ^ 0x0a7a6e);
    const outageMs = options.quick ? 4_000 : 10_000;
    const duringOutage = options.quick ? 8 : 30;
    const dir = tempDir('outage');
    const model = await startLoopbackScoringServer();
    let engine: RunningEngine | undefined;
    try {
      engine = await startEngine({
        dataDir: join(dir.path, 'data'),
        scoringModel: new HttpScoringModel({ baseUrl: model.url, timeoutMs: 2_000 }),
        // Short in-process backoff so the suite does not wait on it; the breaker keeps its production settings.
        retryPolicy: { retryDelay: 100, maxRetryDelay: 400 },
        http: { rateLimit: false },
      });
      const running = engine;
      const demo = await ensureDemoTenant(running.deps);
      if (!demo) throw new Error('no demo tenant');
      const user = { authorization: `Bearer ${demo.userKey.apiKey}` };
      // Metrics, groups and replays span tenants: the platform operator's key.
      const admin = { authorization: `Bearer ${demo.operatorKey.apiKey}` };
      const scoringIds: string[] = [];
      const submit = async (): Promise<void> => {
        const response = await running.http.inject({ method: 'POST', url: '/scorings', headers: { ...user, 'content-type': 'application/json' }, payload: JSON.stringify(scoringBody(random)) });
        const scoringId = stringField(response.json(), 'scoringId');
        if (response.statusCode !== 202 || !scoringId) throw new Error(`POST /scorings answered ${response.statusCode}: ${response.body}`);
        scoringIds.push(scoringId);
      };
      const breaker = async (): Promise<BreakerMetrics> => {
        const response: LightMyRequestResponse = await running.http.inject({ method: 'GET', url: '/metrics', headers: admin });
        return parseBreakerMetrics(response.body);
      };
      const index = (): Promise<StoreIndex> => indexStore(running.deps.store);
      const allSettled = async (ids: readonly string[]): Promise<StoreIndex | undefined> => {
        const current = await index();
        return ids.every((id) => {
          const last = current.scorings.get(id)?.last;
          return last === 'completed' || last === 'failed';
        })
          ? current
          : undefined;
      };

      // Healthy.
      for (let i = 0; i < 5; i++) await submit();
      if (!(await pollUntil(() => allSettled(scoringIds), 30_000))) throw new Error('scorings did not complete before the outage');

      // Outage: the service drops every connection; requests keep coming.
      model.setDown(true);
      const outageStarted = performance.now();
      for (let i = 0; i < duringOutage; i++) {
        await submit();
        await sleep(outageMs / duringOutage);
      }
      const outageIds = scoringIds.slice(5);
      await pollUntil(() => allSettled(outageIds), 60_000);
      model.setDown(false);
      const recovered = performance.now();
      log(`outage: ${Math.round(recovered - outageStarted)} ms down, ${duringOutage} scorings submitted meanwhile; breaker ${JSON.stringify((await breaker()).transitions)}`);
      // Requests right after the recovery, while the breaker is still open.
      for (let i = 0; i < 3; i++) await submit();

      // The breaker half-opens after its reset timeout; then the operator replays the parked messages.
      const halfOpen = await pollUntil(async () => ((await breaker()).state !== 2 ? true : undefined), 90_000, 500);
      if (!halfOpen) log('outage: the breaker did not leave the open state within 90 s');
      const groups = (await running.http.inject({ method: 'GET', url: '/admin/groups', headers: admin })).json() as unknown;
      const parkedBefore = Array.isArray(groups) ? groups.reduce((sum: number, g: unknown) => sum + (typeof g === 'object' && g !== null && 'group' in g && g.group === 'ai-scoring' && 'parked' in g && typeof g.parked === 'number' ? g.parked : 0), 0) : 0;
      let replays = 0;
      let settled: StoreIndex | undefined;
      const allCompleted = async (): Promise<StoreIndex | undefined> => {
        const current = await index();
        return scoringIds.every((id) => current.scorings.get(id)?.last === 'completed' && (current.usage.get(id) ?? 0) >= 1) ? current : undefined;
      };
      for (let round = 0; round < 5 && !settled; round++) {
        await running.runner.waitForIdle('ai-scoring', { timeout: 30_000 }).catch(() => undefined);
        const parked = await running.deps.store.listParkedMessages({ kind: 'all', filter: { on: 'eventType', prefixes: ['ai.scoring.requested'] } }, 'ai-scoring', { maxCount: 1_000 });
        if (parked.length > 0) {
          const response = await running.http.inject({ method: 'POST', url: '/admin/groups/ai-scoring/parked/replay', headers: admin });
          if (response.statusCode !== 202) throw new Error(`replay answered ${response.statusCode}: ${response.body}`);
          replays += 1;
          log(`outage: replay ${replays} of ${parked.length} parked message(s)`);
        }
        settled = await pollUntil(allCompleted, 20_000, 250);
      }
      const recoveryMs = performance.now() - recovered;
      const final = settled ?? (await index());
      const metrics = await breaker();
      let notCompleted = 0;
      let completedTwice = 0;
      let usageNotOnce = 0;
      for (const id of scoringIds) {
        const life = final.scorings.get(id);
        if (!life || life.completed === 0) notCompleted += 1;
        if ((life?.completed ?? 0) > 1) completedTwice += 1;
        if ((life?.completed ?? 0) >= 1 && (final.usage.get(id) ?? 0) !== 1) usageNotOnce += 1;
      }
      if (notCompleted > 0) {
        const stuck = scoringIds.filter((id) => (final.scorings.get(id)?.completed ?? 0) === 0).slice(0, 3);
        log(`outage: not completed: ${stuck.map((id) => `${id} (${JSON.stringify({ ...final.scorings.get(id), completedAttempts: undefined })})`).join(', ')}`);
      }
      log(`outage: breaker transitions ${JSON.stringify(metrics.transitions)}, state ${metrics.state}; model calls ${model.requestCount}`);
      return [
        info('outage.scorings', scoringIds.length),
        zero('outage.scorings_not_completed', notCompleted),
        zero('outage.scorings_completed_twice', completedTwice),
        zero('outage.usage_not_recorded_once', usageNotOnce),
        info('outage.parked_before_replay', parkedBefore),
        info('outage.replays', replays),
        least('outage.breaker_opened', metrics.transitions.open, 1),
        least('outage.breaker_half_opened', metrics.transitions.halfOpen, 1),
        least('outage.breaker_closed', metrics.transitions.close, 1),
        zero('outage.breaker_not_closed_at_end', metrics.state === 0 ? 0 : 1),
        info('outage.recovery_s', Math.round(recoveryMs / 100) / 10, 's'),
      ];
    } finally {
      await engine?.stop().catch(() => undefined);
      await model.close().catch(() => undefined);
      dir.remove();
    }
  },
};
