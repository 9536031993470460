import { InvalidArgumentError } from '../errors.js';
import type { EventFilter } from '../port.js';

/**
 * EventFilter → a SQL predicate over `e.type` / `s.name` (events e JOIN streams s), evaluated by
 * SQLite while it scans, so rejected rows are never materialised in JS. Prefixes become exact
 * UTF-8 range comparisons; a regex goes through the `regexp` SQL function (JS RegExp, cached).
 */
export interface SqlFilter {
  /** Stable across filters of the same shape: the prepared-statement cache key. */
  readonly key: string;
  readonly sql: string;
  readonly params: readonly string[];
}

export const NO_FILTER: SqlFilter = { key: 'none', sql: '1', params: [] };

/** `^[^$].*` (excludeSystemEvents) is so common it gets a plain range instead of a regex call. */
const SYSTEM_EXCLUDING_REGEX = '^[^$].*';

export function compileFilter(filter: EventFilter | undefined): SqlFilter {
  if (filter === undefined) return NO_FILTER;
  if (typeof filter !== 'object' || filter === null) throw new InvalidArgumentError('filter must be an EventFilter', 'filter');
  const { on } = filter;
  if (on !== 'eventType' && on !== 'streamName') throw new InvalidArgumentError(`filter.on must be 'eventType' or 'streamName' (got ${String(on)})`, 'filter');
  const column = on === 'eventType' ? 'e.type' : 's.name';
  if ('prefixes' in filter) {
    const prefixes: unknown = filter.prefixes;
    if (!Array.isArray(prefixes) || prefixes.length === 0 || !prefixes.every((p): p is string => typeof p === 'string')) {
      throw new InvalidArgumentError('filter.prefixes must be a non-empty array of strings', 'filter');
    }
    const terms: string[] = [];
    const params: string[] = [];
    for (const prefix of prefixes) {
      if (prefix.length === 0) return { key: 'none', sql: '1', params: [] };
      const upper = prefixUpperBound(prefix);
      if (upper === undefined) {
        terms.push(`${column} >= ?`);
        params.push(prefix);
      } else {
        terms.push(`(${column} >= ? AND ${column} < ?)`);
        params.push(prefix, upper);
      }
    }
    const shape = terms.map((t) => (t.includes('AND') ? 'r' : 'l')).join('');
    return { key: `${on}:p:${shape}`, sql: `(${terms.join(' OR ')})`, params };
  }
  if ('regex' in filter) {
    const regex: unknown = filter.regex;
    if (typeof regex !== 'string') throw new InvalidArgumentError('filter.regex must be a string', 'filter');
    compileRegex(regex);
    if (on === 'eventType' && regex === SYSTEM_EXCLUDING_REGEX) {
      // '$' is U+0024 and '%' U+0025: everything not starting with '$'.
      return { key: `${on}:nosys`, sql: `(${column} < '$' OR ${column} >= '%')`, params: [] };
    }
    return { key: `${on}:re`, sql: `regexp(?, ${column})`, params: [regex] };
  }
  throw new InvalidArgumentError('filter needs prefixes or regex', 'filter');
}

/** Whether the predicate reads the stream name (then the query must join streams). */
export function filterNeedsStreamName(filter: SqlFilter): boolean {
  return filter.sql.includes('s.name');
}

/**
 * The smallest string greater than every string starting with `prefix`, in SQLite's BINARY order
 * (UTF-8 bytes = code point order): the prefix with its last code point incremented.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const codePoints = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (codePoints.length > 0 && codePoints[codePoints.length - 1] === 0x10ffff) codePoints.pop();
  const last = codePoints.pop();
  if (last === undefined) return undefined;
  let next = last + 1;
  if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
  return String.fromCodePoint(...codePoints, next);
}

const regexCache = new Map<string, RegExp>();

export function compileRegex(source: string): RegExp {
  let compiled = regexCache.get(source);
  if (compiled === undefined) {
    try {
      compiled = new RegExp(source, 'u');
    } catch {
      try {
        compiled = new RegExp(source);
      } catch (error) {
        throw new InvalidArgumentError(`filter.regex is not a valid regular expression: ${(error as Error).message}`, 'filter');
      }
    }
    if (regexCache.size > 1_000) regexCache.clear();
    regexCache.set(source, compiled);
  }
  return compiled;
}

/** The `regexp(pattern, value)` SQL function the compiled predicates call. */
export function regexpSqlFunction(pattern: unknown, value: unknown): number {
  if (typeof pattern !== 'string' || typeof value !== 'string') return 0;
  return compileRegex(pattern).test(value) ? 1 : 0;
}
