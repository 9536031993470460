/** Shared helpers of the contract tests. */
import type { TSchema } from 'typebox';

export const DELETE = Symbol('delete');

/** A deep copy of `value` with the JSON Pointer `path` set to `replacement` (or deleted). */
export function mutate<T>(value: T, path: string, replacement: unknown): T {
  const copy = structuredClone(value) as unknown;
  const segments = path.split('/').slice(1);
  const last = segments.pop();
  if (last === undefined) throw new Error('path must not be the root');
  let node = copy as Record<string, unknown>;
  for (const segment of segments) node = node[segment] as Record<string, unknown>;
  if (replacement === DELETE) delete node[last];
  else node[last] = replacement;
  return copy as T;
}

/** The first example of a schema (every contract schema has one). */
export function exampleOf(schema: TSchema): unknown {
  const examples = (schema as { examples?: unknown }).examples;
  if (!Array.isArray(examples) || examples.length === 0) throw new Error('schema has no example');
  return structuredClone(examples[0]) as unknown;
}

export function paths(problems: readonly { path: string }[]): string[] {
  return problems.map((p) => p.path);
}
