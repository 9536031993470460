/**
 * Test helper: serves a ScoringModel on 127.0.0.1 through the real request handler of
 * src/integrations/scoring-model/http-server.ts, with fault injection on demand.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createScoringRequestHandler, toScoringServer } from '../../../src/integrations/scoring-model/http-server.js';
import { InProcessUnderwritingModel, type ScoringModel } from '../../../src/integrations/scoring-model/model.js';

export interface LoopbackScoringServer {
  readonly url: string;
  /** Requests received, including failed ones. */
  readonly requestCount: number;
  /** The next `n` requests get `status` with a JSON error body (and Retry-After: 1 for 429/503). */
  failNext(n: number, status: number): void;
  /** While down, every connection is destroyed without a response (a network error for the client). */
  setDown(down: boolean): void;
  /** Delays every response by `ms` (for client timeouts). */
  setLatency(ms: number): void;
  /** The next `n` requests get 200 with a body that is JSON but not a ScoringResult. */
  corruptNext(n: number): void;
  close(): Promise<void>;
}

export async function startLoopbackScoringServer(
  model: ScoringModel = new InProcessUnderwritingModel(),
): Promise<LoopbackScoringServer> {
  const handler = createScoringRequestHandler(model);
  let failures: { remaining: number; status: number } = { remaining: 0, status: 503 };
  let corrupt = 0;
  let down = false;
  let latencyMs = 0;
  let requestCount = 0;

  const respond = (req: IncomingMessage, res: ServerResponse): void => {
    if (failures.remaining > 0) {
      failures = { ...failures, remaining: failures.remaining - 1 };
      const body = JSON.stringify({ error: 'injected_failure', status: failures.status });
      const retry: Record<string, string> = failures.status === 429 || failures.status === 503 ? { 'retry-after': '1' } : {};
      res.writeHead(failures.status, { 'content-type': 'application/json', ...retry });
      res.end(body);
      return;
    }
    if (corrupt > 0) {
      corrupt -= 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ matchScore: 'high', riskBand: 'low' }));
      return;
    }
    handler(req, res);
  };

  const server = createServer((req, res) => {
    requestCount += 1;
    if (down) {
      req.socket.destroy();
      return;
    }
    if (latencyMs > 0) setTimeout(() => respond(req, res), latencyMs);
    else respond(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const scoringServer = toScoringServer(server);

  return {
    url: scoringServer.url,
    get requestCount() {
      return requestCount;
    },
    failNext(n, status) {
      failures = { remaining: n, status };
    },
    setDown(value) {
      down = value;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    corruptNext(n) {
      corrupt = n;
    },
    close: () => scoringServer.close(),
  };
}
