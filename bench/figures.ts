import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shape every benchmark suite reports: bench/results/<suite>.json is
 * `{ "figures": [ { name, value, unit, baseline, ratio, target, ok } ] }` (plus run metadata next
 * to "figures"). A suite builds its figures with `figure()`, which works out ratio and ok.
 */

/** A pass/fail bound on the figure's value or on its ratio to the baseline. */
export interface Target {
  readonly of: 'value' | 'ratio';
  readonly op: '>=' | '<=';
  readonly threshold: number;
}

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The same work done the plainest way (for example raw better-sqlite3 statements), in `unit`; null when there is none. */
  readonly baseline: number | null;
  /** value / baseline; null without a baseline. */
  readonly ratio: number | null;
  readonly target: Target | null;
  /** Whether the target is met; null without a target. */
  readonly ok: boolean | null;
}

export interface FigureInput {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: number;
  readonly target?: Target;
}

export interface SuiteOptions {
  /** A smaller run (well under a minute per suite); figure names say where sizes differ. */
  readonly quick: boolean;
  /** Progress lines (stderr), so that stdout stays the table. */
  readonly log: (line: string) => void;
}

/** What bench/suites.ts maps a suite name to. */
export interface SuiteModule {
  run(options: SuiteOptions): Promise<Figure[]>;
}

export const atLeast = (threshold: number): Target => ({ of: 'value', op: '>=', threshold });
export const atMost = (threshold: number): Target => ({ of: 'value', op: '<=', threshold });
export const ratioAtLeast = (threshold: number): Target => ({ of: 'ratio', op: '>=', threshold });

export function figure(input: FigureInput): Figure {
  const baseline = input.baseline ?? null;
  const ratio = baseline === null || baseline === 0 ? null : input.value / baseline;
  const target = input.target ?? null;
  return { name: input.name, value: input.value, unit: input.unit, baseline, ratio, target, ok: target === null ? null : meets(target, input.value, ratio) };
}

function meets(target: Target, value: number, ratio: number | null): boolean {
  const measured = target.of === 'value' ? value : ratio;
  if (measured === null || !Number.isFinite(measured)) return false;
  return target.op === '>=' ? measured >= target.threshold : measured <= target.threshold;
}

export function describeTarget(target: Target | null, unit: string): string {
  if (target === null) return '';
  if (target.of === 'ratio') return `ratio ${target.op} ${target.threshold}x`;
  return `${target.op} ${formatNumber(target.threshold)} ${unit}`;
}

// ---- statistics -----------------------------------------------------------------------------

export interface Stats {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
}

/** Nearest-rank percentile (p in [0, 100]) of ascending-sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  let sum = 0;
  for (const sample of sorted) sum += sample;
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

export function median(samples: readonly number[]): number {
  return stats(samples).p50;
}

// ---- output ---------------------------------------------------------------------------------

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

export interface ResultsFile {
  readonly suite: string;
  readonly quick: boolean;
  readonly finishedAt: string;
  readonly node: string;
  readonly figures: readonly Figure[];
}

/** Writes bench/results/<suite>.json (via a .tmp file and a rename, so a reader never sees half a file). Returns the path. */
export function writeResults(suite: string, figures: readonly Figure[], quick: boolean, dir = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}.json`);
  const body: ResultsFile = { suite, quick, finishedAt: new Date().toISOString(), node: process.version, figures };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(temporary, file);
  return file;
}

export function formatNumber(value: number | null): string {
  if (value === null || Number.isNaN(value)) return '-';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A plain-text table; a missed target shows as MISSED. */
export function formatTable(figures: readonly Figure[]): string {
  const header = ['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'ok'];
  const rows = figures.map((f) => [
    f.name,
    formatNumber(f.value),
    f.unit,
    formatNumber(f.baseline),
    f.ratio === null ? '-' : `${f.ratio.toFixed(2)}x`,
    describeTarget(f.target, f.unit),
    f.ok === null ? '' : f.ok ? 'ok' : 'MISSED',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const numeric = new Set([1, 3, 4]);
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}
