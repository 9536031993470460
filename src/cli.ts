import { SingleBar } from 'cli-progress';
import pino from 'pino';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { rebuildProjection, type RebuildProgress } from './engine/rebuild.js';
import { forgetBorrowerCommand } from './security/open.js';
import { createHandlers, openOfflineEngineDeps } from './wiring.js';

const USAGE = `Usage: npm run cli -- <command>

  projections list                     the projections that can be rebuilt
  projections rebuild <name>           replay $all into fresh tables, then swap
  parked list <group>                  parked messages of a subscription group
  parked replay <group>                redeliver them (retry count 0)
  groups                               persistent subscription groups and their lag
  borrowers forget <email>             destroy a borrower's personal data key (irreversible)

With --server URL (or MMP_SERVER_URL) and --key ADMIN_KEY (or MMP_ADMIN_KEY) the command goes
through the running server's admin API: use that while the server runs, so its live handlers
and the rebuild share one process. Without them the command opens DATA_DIR itself: only while
the server is stopped (parked replay always needs the server: it hands messages to live consumers).`;

interface ServerTarget {
  readonly url: string;
  readonly key: string;
}

/** Log lines go to stderr: stdout carries the command's output only, so it can be piped. */
function logger(level: 'info' | 'warn'): pino.Logger {
  return pino({ level }, pino.destination(2));
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

async function api<T>(server: ServerTarget, method: 'GET' | 'POST', path: string): Promise<T> {
  const response = await fetch(new URL(path, server.url), { method, headers: { authorization: `Bearer ${server.key}` } });
  const body = (await response.json().catch(() => ({}))) as T & { message?: string };
  if (!response.ok) fail(`${method} ${path}: ${response.status} ${body.message ?? ''}`);
  return body;
}

function progressBar(): { update(progress: { events: number; position?: string; head?: string; eventsPerSecond: number; etaSeconds?: number }): void; stop(): void } {
  const bar = new SingleBar({ format: 'rebuild [{bar}] {percentage}% | {events} events | {rate} events/s | position {position}/{head} | ETA {eta_text}', hideCursor: true });
  let started = false;
  return {
    update(p) {
      const head = Number(p.head ?? 0);
      const position = Number(p.position ?? 0);
      const payload = { events: p.events, rate: Math.round(p.eventsPerSecond), position: p.position ?? '-', head: p.head ?? '-', eta_text: p.etaSeconds === undefined ? '?' : `${Math.ceil(p.etaSeconds)} s` };
      if (!started) {
        bar.start(Math.max(head, 1), position, payload);
        started = true;
      }
      bar.setTotal(Math.max(head, position, 1));
      bar.update(position, payload);
    },
    stop: () => bar.stop(),
  };
}

async function offlineDeps() {
  const config = loadConfig();
  const { deps, close } = await openOfflineEngineDeps({ ...config, logger: logger('warn') });
  return { deps, config, close };
}

async function rebuild(name: string, server: ServerTarget | undefined): Promise<void> {
  const bar = progressBar();
  if (server) {
    type Status = { id: string; state: string; progress: { events: number; position?: string; headPosition?: string; eventsPerSecond: number; etaSeconds?: number }; error?: string };
    let status = await api<Status>(server, 'POST', `/admin/projections/${encodeURIComponent(name)}/rebuild`);
    while (status.state === 'running') {
      bar.update({ ...status.progress, ...(status.progress.headPosition ? { head: status.progress.headPosition } : {}) });
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await api<Status>(server, 'GET', `/admin/rebuilds/${status.id}`);
    }
    bar.stop();
    if (status.state !== 'completed') fail(`rebuild ${status.state}: ${status.error ?? ''}`);
    process.stdout.write(`${name} rebuilt from ${status.progress.events} events\n`);
    return;
  }
  const { deps, config, close } = await offlineDeps();
  try {
    const { projections } = createHandlers(deps, config);
    const projection = projections.find((p) => p.name === name) ?? fail(`Unknown projection '${name}'; known: ${projections.map((p) => p.name).join(', ')}`);
    const show = (p: RebuildProgress) =>
      bar.update({
        events: p.events,
        eventsPerSecond: p.eventsPerSecond,
        ...(p.position ? { position: p.position.commit.toString() } : {}),
        ...(p.headPosition ? { head: p.headPosition.commit.toString() } : {}),
        ...(p.etaSeconds !== undefined ? { etaSeconds: p.etaSeconds } : {}),
      });
    const result = await rebuildProjection(deps, projection, { onProgress: show });
    bar.stop();
    process.stdout.write(`${name} rebuilt: ${result.events} events in ${Math.round(result.durationMs)} ms (${Math.round(result.eventsPerSecond)} events/s), generation ${result.generation}\n`);
  } finally {
    await close();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { server: { type: 'string' }, key: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const url = values.server ?? process.env.MMP_SERVER_URL;
  const key = values.key ?? process.env.MMP_ADMIN_KEY;
  const server = url && key ? { url, key } : undefined;
  const [area, action, name] = positionals;

  if (area === 'projections' && action === 'list') {
    const { deps, config, close } = await offlineDeps();
    process.stdout.write(`${createHandlers(deps, config).projections.map((p) => p.name).join('\n')}\n`);
    await close();
    return;
  }
  if (area === 'projections' && action === 'rebuild' && name) return rebuild(name, server);
  if (area === 'parked' && (action === 'list' || action === 'replay') && name) {
    if (!server) fail('parked commands go through the running server: pass --server and --key (or MMP_SERVER_URL and MMP_ADMIN_KEY)');
    const path = `/admin/groups/${encodeURIComponent(name)}/parked${action === 'replay' ? '/replay' : ''}`;
    const result = await api<unknown>(server, action === 'replay' ? 'POST' : 'GET', path);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  if (area === 'borrowers' && action === 'forget' && name) {
    if (server) {
      const response = await fetch(new URL('/admin/borrowers/forget', server.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: name }),
      });
      process.stdout.write(`${await response.text()}\n`);
      if (!response.ok) process.exit(1);
      return;
    }
    const config = loadConfig();
    const result = await forgetBorrowerCommand(config.dataDir, name, { logger: logger('info') });
    process.stdout.write(`${JSON.stringify(result)}\nRebuild the projections that hold personal data: npm run cli -- projections rebuild scoring_status\n`);
    return;
  }
  if (area === 'groups') {
    if (!server) fail('groups goes through the running server: pass --server and --key');
    process.stdout.write(`${JSON.stringify(await api<unknown>(server, 'GET', '/admin/groups'), null, 2)}\n`);
    return;
  }
  fail(USAGE);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) fail(error.message);
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
