/**
 * The `npm start` contract: `node --import tsx src/main.ts` on an empty DATA_DIR prints the demo
 * tenant's API and admin keys and a curl line that works; a restart on the same DATA_DIR prints
 * no keys, and the keys printed before still work.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** tsx compiles on the fly: a cold start takes seconds on a small machine. */
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;

interface Launched {
  readonly child: ChildProcess;
  stdout(): string;
  /** Resolves with stdout once `done(stdout)` holds; rejects if the process exits first or on timeout. */
  waitFor(done: (stdout: string) => boolean, what: string): Promise<string>;
  /** SIGTERM, then the exit code (SIGKILL if it does not stop in time). */
  stop(): Promise<number | null>;
}

const running = new Set<Launched>();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function engineEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Settings with the engine's prefixes from the outer environment would change (or break) the run.
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(MMP_|EVENTSTORE_|SCORING_|SMTP_)/.test(name)) env[name] = value;
  }
  return { ...env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'development' };
}

function launch(dataDir: string, port: number): Launched {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: engineEnv(dataDir, port), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
    for (const listener of listeners) listener();
  });

  const launched: Launched = {
    child,
    stdout: () => out,
    waitFor(done, what) {
      return new Promise<string>((resolveWait, reject) => {
        const check = (): void => {
          if (done(out)) finish(() => resolveWait(out));
          else if (exitCode !== undefined) finish(() => reject(new Error(`exited (${exitCode}) before ${what}\nstdout:\n${out}\nstderr:\n${err}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${what}\nstdout:\n${out}\nstderr:\n${err}`))), START_TIMEOUT_MS);
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
        running.delete(launched);
      }
    },
  };
  running.add(launched);
  return launched;
}

function lineStarting(stdout: string, prefix: string): string | undefined {
  return stdout.split('\n').find((line) => line.startsWith(prefix));
}

function listeningBase(stdout: string): string | undefined {
  return /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
}

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mmp-npm-start-'));
});

afterAll(async () => {
  await Promise.all([...running].map((launched) => launched.stop()));
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('prints working keys and a curl line on an empty DATA_DIR, and no keys on a restart', { timeout: 240_000 }, async () => {
    // First start: empty store → demo tenant.
    const port = await freePort();
    const first = launch(dataDir, port);
    const stdout = await first.waitFor((out) => /^curl .*$/m.test(out) && lineStarting(out, 'Admin key:') !== undefined, 'the key and curl lines');
    const base = listeningBase(stdout);
    expect(base).toBe(`http://127.0.0.1:${port}`);
    const apiKey = lineStarting(stdout, 'API key:')?.slice('API key:'.length).trim() ?? '';
    const adminKey = lineStarting(stdout, 'Admin key:')?.slice('Admin key:'.length).trim() ?? '';
    const curl = lineStarting(stdout, 'curl ') ?? '';
    expect(apiKey).toMatch(/^mmp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(adminKey).toMatch(/^mmp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(adminKey).not.toBe(apiKey);
    expect(curl).toContain(`${base}/scorings`);
    expect(curl).toContain(apiKey);

    const subscription = await fetch(`${base}/subscription`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(subscription.status).toBe(200);
    expect(await subscription.json()).toMatchObject({ plan: 'pro', status: 'active' });
    // The user key is not an admin key; the admin key is.
    expect((await fetch(`${base}/subscription`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: '{"plan":"pro"}' })).status).toBe(403);
    const asAdmin = await fetch(`${base}/subscription`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: '{"plan":"pro"}' });
    expect(asAdmin.status).toBe(422);
    expect(await asAdmin.json()).toMatchObject({ code: 'SUBSCRIPTION_ALREADY_ACTIVE' });

    // The printed curl line, run as printed (from the repository root, for @examples/...).
    const { stdout: curlOut } = await promisify(execFile)('sh', ['-c', `${curl} -w '\\n%{http_code}'`], { cwd: ROOT, timeout: 30_000 });
    const [curlBody, curlStatus] = [curlOut.slice(0, curlOut.lastIndexOf('\n')), curlOut.slice(curlOut.lastIndexOf('\n') + 1)];
    expect(curlStatus).toBe('202');
    const accepted = JSON.parse(curlBody) as { scoringId: string; location: string };
    const scoring = await fetch(`${base}${accepted.location}`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(scoring.status).toBe(200);

    expect(await first.stop()).toBe(0);

    // Second start on the same DATA_DIR: tenants exist, so no keys are printed.
    const secondPort = await freePort();
    const second = launch(dataDir, secondPort);
    const secondOut = await second.waitFor((out) => listeningBase(out) !== undefined, 'the listening line');
    const secondBase = listeningBase(secondOut);
    // The keys printed by the first run still work, and the data is still there.
    const again = await fetch(`${secondBase}${accepted.location}`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ scoringId: accepted.scoringId });
    expect(await second.stop()).toBe(0);
    // Read after exit: everything the process printed.
    const all = second.stdout();
    expect(lineStarting(all, 'API key:')).toBeUndefined();
    expect(lineStarting(all, 'Admin key:')).toBeUndefined();
    expect(lineStarting(all, 'curl ')).toBeUndefined();
    expect(all).not.toContain(apiKey);
  });
});
