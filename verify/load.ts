/**
 * Load: autocannon against the engine process (src/main.ts) for a fixed time at 50 connections,
 * valid requests only (scoring submissions, varied; single and batched user actions):
 * 0 non-2xx, 0 connection errors, and every 2xx answer's events in the store (read from the file
 * after the run). Requests per second and p99 latency are printed.
 */
import autocannon from 'autocannon';
import { join } from 'node:path';
import { info, numberField, prng, stringField, tempDir, zero, type Check, type Figure, type VerifyOptions } from './common.js';
import { must } from './http.js';
import { actionBody, scoringBody } from './requests.js';
import { startChildServer } from './server.js';
import { indexStore, withReadOnlyStore } from './store-index.js';

const CONNECTIONS = 50;

function parse(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

export const loadCheck: Check = {
  name: 'load',
  async run(options: VerifyOptions): Promise<Figure[]> {
    const seconds = options.quick ? 3 : 10;
    const random = prng(options.seed ^ 0x10ad);
    const dir = tempDir('load');
    const dataDir = join(dir.path, 'data');
    const server = await startChildServer({ dataDir });
    try {
      const keys = server.keys;
      if (!keys) throw new Error('the first start printed no demo keys');
      // Enterprise: the AI budget of the plan is not what is measured.
      await must(server.url, { method: 'PUT', path: '/subscription/plan', key: keys.admin, body: { plan: 'enterprise' } });
      const before = await withReadOnlyStore(dataDir, indexStore);

      const scoringIds = new Set<string>();
      let actionsAccepted = 0;
      let scorings2xx = 0;
      let actions2xx = 0;
      const headers = { authorization: `Bearer ${keys.user}`, 'content-type': 'application/json' };
      const result = await autocannon({
        url: server.url,
        connections: CONNECTIONS,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: '/scorings',
            headers,
            setupRequest: (request) => ({ ...request, body: JSON.stringify(scoringBody(random)) }),
            onResponse: (status, body) => {
              if (status < 200 || status >= 300) return;
              scorings2xx += 1;
              const scoringId = stringField(parse(body), 'scoringId');
              if (scoringId) scoringIds.add(scoringId);
            },
          },
          {
            method: 'POST',
            path: '/actions/batch',
            headers,
            setupRequest: (request) => ({ ...request, body: JSON.stringify({ actions: [actionBody(random), actionBody(random), actionBody(random)] }) }),
            onResponse: (status, body) => {
              if (status < 200 || status >= 300) return;
              actions2xx += 1;
              actionsAccepted += numberField(parse(body), 'accepted') ?? 0;
            },
          },
          {
            method: 'POST',
            path: '/actions',
            headers,
            setupRequest: (request) => ({ ...request, body: JSON.stringify(actionBody(random)) }),
            onResponse: (status, body) => {
              if (status < 200 || status >= 300) return;
              actions2xx += 1;
              actionsAccepted += numberField(parse(body), 'accepted') ?? 0;
            },
          },
        ],
      });

      const after = await withReadOnlyStore(dataDir, indexStore);
      let scoringsFound = 0;
      for (const scoringId of scoringIds) if ((after.scorings.get(scoringId)?.requested ?? 0) >= 1) scoringsFound += 1;
      const actionsFound = (after.byType.get('analytics.event.recorded') ?? 0) - (before.byType.get('analytics.event.recorded') ?? 0);
      const lost = scoringIds.size - scoringsFound + Math.max(0, actionsAccepted - actionsFound);
      const unanswered = Math.max(0, actionsFound - actionsAccepted);
      const statusCodes = Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => `${code}×${stat.count ?? 0}`).join(', ');
      options.log(`load: ${result.requests.total} requests in ${seconds} s (${statusCodes}); ${scorings2xx} scorings and ${actions2xx} action requests (${actionsAccepted} actions) answered 2xx; events found: ${scoringsFound} scorings, ${actionsFound} actions`);
      if (scorings2xx !== scoringIds.size) options.log(`load: ${scorings2xx - scoringIds.size} scoring answers without a scoringId`);
      return [
        info('load.requests', result.requests.total),
        zero('load.non_2xx', result.non2xx),
        zero('load.errors', result.errors),
        zero('load.lost_events', lost + (scorings2xx - scoringIds.size)),
        info('load.events_without_2xx', unanswered),
        info('load.req_per_s', Math.round(result.requests.average), 'req/s'),
        info('load.p99_ms', result.latency.p99, 'ms'),
      ];
    } finally {
      await server.stop().catch(() => undefined);
      dir.remove();
    }
  },
};
