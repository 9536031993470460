import { readFileSync } from 'node:fs';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { startEngine } from './wiring.js';
import { ensureDemoTenant } from './tenancy/demo.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  const engine = await startEngine(
    {
      ...config,
      requestLogs: true,
      http: {
        rateLimit: config.rateLimitPerMinute === 0 ? false : { max: config.rateLimitPerMinute, timeWindowMs: 60_000 },
        bodyLimit: config.bodyLimitBytes,
        ...(config.tlsCertFile && config.tlsKeyFile ? { https: { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) } } : {}),
      },
    },
    logger,
  );
  const demo = await ensureDemoTenant(engine.deps);
  const address = await engine.http.listen({ host: config.host, port: config.port });
  const base = address.replace('[::1]', 'localhost');
  const storeName = config.eventStoreConnectionString ? 'EventStoreDB' : `the embedded store in ${config.dataDir}`;
  process.stdout.write(`MortgageMatchPro engine listening on ${base} (${storeName}); API docs at ${base}/docs\n`);
  if (demo) {
    process.stdout.write(
      [
        `Demo tenant: ${demo.tenantId} (pro plan)`,
        `API key: ${demo.userKey.apiKey}`,
        `Admin key: ${demo.adminKey.apiKey}`,
        `Operator key: ${demo.operatorKey.apiKey}   (platform-wide: metrics, replay of parked messages, rebuilds, forgetting a borrower)`,
        'Try it:',
        `curl -s -X POST ${base}/scorings -H 'Authorization: Bearer ${demo.userKey.apiKey}' -H 'Content-Type: application/json' -d @examples/scoring-request.json`,
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining requests and handlers');
    engine
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
