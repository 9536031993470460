/**
 * The engine as its own process, exactly as `npm start` runs it: `node --import tsx src/main.ts`
 * with DATA_DIR and PORT (0: the system picks a free port, read back from the startup line).
 * kill9() is a real SIGKILL: no shutdown hook runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './common.js';

export interface DemoKeys {
  readonly user: string;
  readonly admin: string;
  /** The platform operator's key (cross-tenant admin routes). */
  readonly operator: string;
  readonly tenantId: string;
}

export interface ChildServer {
  readonly url: string;
  readonly pid: number;
  /** Printed on the first start only (empty store). */
  readonly keys: DemoKeys | undefined;
  /** Last lines of output, for diagnostics. */
  tail(): string;
  kill9(): Promise<void>;
  /** SIGTERM (graceful drain), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface ChildServerOptions {
  readonly dataDir: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly readyTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let hooked = false;

/** Kills the children this suite started (by pid) when the suite exits or is interrupted. */
function hookCleanup(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

const ENGINE_ENV_PREFIXES = ['MMP_', 'SCORING_', 'EVENTSTORE_', 'SMTP_', 'TLS_', 'PAYMENT_'];
const ENGINE_ENV_NAMES = new Set(['PORT', 'HOST', 'DATA_DIR', 'LOG_LEVEL', 'NODE_ENV']);

function childEnv(options: ChildServerOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (ENGINE_ENV_NAMES.has(name) || ENGINE_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    env[name] = value;
  }
  return {
    ...env,
    DATA_DIR: options.dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // The suite's own clients would trip the per-key limit; it is not what is verified here.
    MMP_RATE_LIMIT_PER_MINUTE: '0',
    ...options.env,
  };
}

export async function startChildServer(options: ChildServerOptions): Promise<ChildServer> {
  hookCleanup();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: REPO_ROOT, env: childEnv(options), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const remember = (line: string): void => {
    lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    if (lines.length > 40) lines.shift();
  };
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  let url: string | undefined;
  let user: string | undefined;
  let admin: string | undefined;
  let operator: string | undefined;
  let tenantId: string | undefined;
  let sawDemoBlock = false;

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the engine did not start within ${options.readyTimeoutMs ?? 60_000} ms:\n${lines.join('\n')}`)), options.readyTimeoutMs ?? 60_000);
    const settle = (): void => {
      // Ready once listening and, when the demo block is printed, once both keys are read.
      if (url !== undefined && (!sawDemoBlock || (user !== undefined && admin !== undefined && operator !== undefined))) {
        clearTimeout(timer);
        resolve();
      }
    };
    const out = createInterface({ input: child.stdout! });
    out.on('line', (line) => {
      remember(line);
      const listening = /listening on (https?:\/\/\S+)/.exec(line);
      if (listening?.[1]) url = listening[1].replace('localhost', '127.0.0.1');
      const demo = /^Demo tenant: (\S+)/.exec(line);
      if (demo?.[1]) {
        sawDemoBlock = true;
        tenantId = demo[1];
      }
      const userKey = /^API key: (\S+)/.exec(line);
      if (userKey?.[1]) user = userKey[1];
      const adminKey = /^Admin key: (\S+)/.exec(line);
      if (adminKey?.[1]) admin = adminKey[1];
      const operatorKey = /^Operator key: (\S+)/.exec(line);
      if (operatorKey?.[1]) operator = operatorKey[1];
      // The demo block follows the listening line in a separate write: give it a moment.
      if (url !== undefined && !sawDemoBlock) setTimeout(settle, 300);
      else settle();
    });
    createInterface({ input: child.stderr! }).on('line', remember);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the engine exited during startup (code ${code}, signal ${signal}):\n${lines.join('\n')}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
  const pid = child.pid ?? -1;
  return {
    url: url!,
    pid,
    keys: user !== undefined && admin !== undefined && operator !== undefined && tenantId !== undefined ? { user, admin, operator, tenantId } : undefined,
    tail: () => lines.join('\n'),
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
