/**
 * Personal data in the contracts is marked with the `x-sensitive: true` schema keyword (see
 * `sensitive` in common.ts). `sensitivePaths(schema)` lists where such values sit in an instance
 * of the schema, so that a later step can encrypt them (crypto-shredding) or redact them in logs
 * without a second, hand-maintained list.
 *
 * Paths are JSON Pointers; `*` stands for every item of an array (or every value of a record).
 */
import type { TSchema } from 'typebox';
import { SENSITIVE_KEYWORD } from './common.js';
import { pointerSegment } from './validation.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function walk(node: unknown, path: string, out: Set<string>, depth: number): void {
  if (!isRecord(node) || depth > 64) return;
  if (node[SENSITIVE_KEYWORD] === true) {
    out.add(path);
    return;
  }
  const properties = node['properties'];
  if (isRecord(properties)) {
    for (const [key, child] of Object.entries(properties)) walk(child, `${path}/${pointerSegment(key)}`, out, depth + 1);
  }
  const items = node['items'];
  if (Array.isArray(items)) for (const child of items) walk(child, `${path}/*`, out, depth + 1);
  else walk(items, `${path}/*`, out, depth + 1);
  for (const key of ['patternProperties'] as const) {
    const map = node[key];
    if (isRecord(map)) for (const child of Object.values(map)) walk(child, `${path}/*`, out, depth + 1);
  }
  if (isRecord(node['additionalProperties'])) walk(node['additionalProperties'], `${path}/*`, out, depth + 1);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = node[key];
    if (Array.isArray(list)) for (const child of list) walk(child, path, out, depth + 1);
  }
}

/** JSON Pointers (with `*` for array items) of every value marked `x-sensitive` in `schema`, sorted. */
export function sensitivePaths(schema: TSchema): string[] {
  const out = new Set<string>();
  walk(schema, '', out, 0);
  return [...out].sort();
}
