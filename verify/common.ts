/**
 * Shared pieces of the verification suite (`npm run verify`): options, figures, small helpers.
 * Figures use the bench shape (bench/figures.ts) so results land next to the benchmarks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atLeast, atMost, figure, type Figure } from '../bench/figures.js';

export { atLeast, atMost, figure, type Figure };

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface VerifyOptions {
  /** CI size. */
  readonly quick: boolean;
  /** Progress lines (stderr): stdout is one figure per line. */
  readonly log: (line: string) => void;
  /** Seed of every random choice of the run (printed, so a run can be repeated). */
  readonly seed: number;
}

export interface Check {
  readonly name: string;
  run(options: VerifyOptions): Promise<Figure[]>;
}

/** A count that must be 0. */
export function zero(name: string, value: number): Figure {
  return figure({ name, value, unit: 'count', target: atMost(0) });
}

/** A count that must be at least `min`. */
export function least(name: string, value: number, min: number, unit = 'count'): Figure {
  return figure({ name, value, unit, target: atLeast(min) });
}

/** A figure without a target (printed, never wrong). */
export function info(name: string, value: number, unit = 'count'): Figure {
  return figure({ name, value, unit });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A temporary folder, removed by the returned function. */
export function tempDir(label: string): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `mmp-verify-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** mulberry32: a small seeded PRNG, [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Polls `probe` until it returns a value other than undefined, or the deadline passes (then undefined). */
export async function pollUntil<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 250): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}

/** `ai.scoring.completed.v2` → `ai.scoring.completed`. */
export function unversioned(type: string): string {
  return type.replace(/\.v\d+$/, '');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function stringField(value: unknown, key: string): string | undefined {
  if (!isRecord(value)) return undefined;
  const field = value[key];
  return typeof field === 'string' ? field : undefined;
}

export function numberField(value: unknown, key: string): number | undefined {
  if (!isRecord(value)) return undefined;
  const field = value[key];
  return typeof field === 'number' ? field : undefined;
}
