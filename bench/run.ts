import { performance } from 'node:perf_hooks';
import { describeTarget, type Figure, formatNumber, formatTable, writeResults } from './figures.js';
import { SUITES } from './suites.js';

/**
 * `npm run bench [-- <suite>...] [--quick]`: runs the named suites (all of them when none is
 * named), prints each one's figures, writes bench/results/<suite>.json. A missed target is
 * reported (MISSED) but is not a failure: the exit code is 0 unless a suite crashed or the
 * arguments were wrong.
 */

const USAGE = `usage: npm run bench -- [suite ...] [--quick]\nsuites: ${Object.keys(SUITES).join(', ')}`;

interface Args {
  readonly suites: readonly string[];
  readonly quick: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const suites: string[] = [];
  let quick = false;
  for (const arg of argv) {
    if (arg === '--quick' || arg === '-q') quick = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else if (!Object.hasOwn(SUITES, arg)) throw new Error(`unknown suite '${arg}'\n${USAGE}`);
    else if (!suites.includes(arg)) suites.push(arg);
  }
  return { suites: suites.length > 0 ? suites : Object.keys(SUITES), quick };
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const log = (line: string): void => {
    process.stderr.write(`  ${line}\n`);
  };
  const missed: { suite: string; figure: Figure }[] = [];
  const crashed: string[] = [];
  for (const name of args.suites) {
    const load = SUITES[name];
    if (load === undefined) continue;
    console.log(`\n== ${name}${args.quick ? ' (--quick)' : ''}`);
    const started = performance.now();
    try {
      const suite = await load();
      const figures = await suite.run({ quick: args.quick, log });
      const file = writeResults(name, figures, args.quick);
      console.log(formatTable(figures));
      console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s; written to ${file})`);
      for (const figure of figures) if (figure.ok === false) missed.push({ suite: name, figure });
    } catch (error) {
      crashed.push(name);
      console.error(`suite ${name} failed: ${(error as Error).stack ?? String(error)}`);
    }
  }
  console.log('');
  for (const { suite, figure } of missed) {
    const measured = figure.target?.of === 'ratio' ? `ratio ${figure.ratio?.toFixed(2) ?? '-'}x` : `${formatNumber(figure.value)} ${figure.unit}`;
    console.log(`MISSED  ${suite}: ${figure.name}: ${measured}, target ${describeTarget(figure.target, figure.unit)}`);
  }
  for (const suite of crashed) console.log(`CRASHED ${suite}`);
  if (missed.length === 0 && crashed.length === 0) console.log('All targets met.');
  return crashed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
