/**
 * `npm run verify [-- --quick] [--only crash,load,...] [--seed N]`: the verification suite.
 * Prints one figure per line (`name value [unit] (ok|WRONG ...)`), writes
 * bench/results/verify.json in the bench shape, and exits 1 when any figure is wrong or a check
 * could not run. --quick is the CI size (the whole suite in about three minutes on two cores).
 */
import { performance } from 'node:perf_hooks';
import { writeResults } from '../bench/figures.js';
import { zero, type Check, type Figure } from './common.js';
import { crashCheck } from './crash.js';
import { fuzzCheck } from './fuzz.js';
import { loadCheck } from './load.js';
import { outageCheck } from './outage.js';
import { storeCheck } from './store.js';

const CHECKS: readonly Check[] = [crashCheck, loadCheck, fuzzCheck, outageCheck, storeCheck];
const USAGE = `usage: npm run verify -- [--quick] [--only ${CHECKS.map((c) => c.name).join(',')}] [--seed N]`;

interface Args {
  readonly quick: boolean;
  readonly only: readonly string[];
  readonly seed: number;
}

function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let only: string[] = CHECKS.map((c) => c.name);
  let seed = Math.floor(Math.random() * 2 ** 31);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick' || arg === '-q') quick = true;
    else if (arg === '--only') {
      only = (argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = only.filter((name) => !CHECKS.some((c) => c.name === name));
      if (unknown.length > 0 || only.length === 0) throw new Error(`unknown check(s) ${unknown.join(', ')}\n${USAGE}`);
    } else if (arg === '--seed') {
      seed = Number(argv[++i]);
      if (!Number.isSafeInteger(seed)) throw new Error(`--seed needs an integer\n${USAGE}`);
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return { quick, only, seed };
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function line(figure: Figure): string {
  const unit = figure.unit === 'count' ? '' : ` ${figure.unit}`;
  const want = figure.target ? `${figure.target.op} ${figure.target.threshold}` : '';
  const verdict = figure.ok === null ? '' : figure.ok ? ' (ok)' : ` (WRONG: want ${want})`;
  return `${figure.name} ${formatValue(figure.value)}${unit}${verdict}`;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const log = (text: string): void => {
    process.stderr.write(`  ${text}\n`);
  };
  let unhandled = 0;
  process.on('unhandledRejection', (reason) => {
    unhandled += 1;
    log(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  });
  process.stderr.write(`verify${args.quick ? ' --quick' : ''} --seed ${args.seed}\n`);
  const figures: Figure[] = [];
  const failedChecks: string[] = [];
  const started = performance.now();
  for (const check of CHECKS.filter((c) => args.only.includes(c.name))) {
    const checkStarted = performance.now();
    process.stderr.write(`== ${check.name}\n`);
    try {
      const result = await check.run({ quick: args.quick, log, seed: args.seed });
      for (const figure of result) {
        console.log(line(figure));
        figures.push(figure);
      }
    } catch (error) {
      failedChecks.push(check.name);
      log(`check ${check.name} failed to run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      const failed = zero(`${check.name}.check_failed`, 1);
      console.log(line(failed));
      figures.push(failed);
    }
    log(`(${check.name}: ${((performance.now() - checkStarted) / 1000).toFixed(1)} s)`);
  }
  const process_ = zero('verify.unhandled_rejections', unhandled);
  console.log(line(process_));
  figures.push(process_);
  const file = writeResults('verify', figures, args.quick);
  const wrong = figures.filter((f) => f.ok === false);
  process.stderr.write(`${wrong.length === 0 ? 'all figures ok' : `${wrong.length} figure(s) wrong: ${wrong.map((f) => f.name).join(', ')}`} (${((performance.now() - started) / 1000).toFixed(1)} s; ${file})\n`);
  return wrong.length > 0 || failedChecks.length > 0 ? 1 : 0;
}

process.exitCode = await main();
// Timers of closed engines (breakers, pollers) must not keep a finished run alive.
setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
