/**
 * What a forgotten (crypto-shredded) personal value reads as. Event schemas are closed, so the
 * replacement must still satisfy the field's schema: it is chosen per field from the candidates
 * below (the one matching the field's format first), and checked against the field's schema.
 *
 * Readers tell a redacted value with `isRedacted(value)`; a recorded event with redacted fields
 * also carries their JSON pointers in `metadata.redactedPaths` (stored metadata is open; the
 * codec drops unknown keys from decoded events).
 */
import type { TSchema } from 'typebox';
import type { JsonValue } from '../eventstore/port.js';
import { isValid } from '../contracts/validation.js';

export const REDACTED_TEXT = '[redacted]';
export const REDACTED_EMAIL = 'redacted@forgotten.invalid';
export const REDACTED_DATE = '1900-01-01';
export const REDACTED_DATE_TIME = '1900-01-01T00:00:00.000Z';
/** Metadata key listing the JSON pointers of the redacted fields of a recorded event. */
export const REDACTED_METADATA_KEY = 'redactedPaths';

const REDACTED_STRINGS: ReadonlySet<string> = new Set([REDACTED_TEXT, REDACTED_EMAIL, REDACTED_DATE, REDACTED_DATE_TIME]);

/** True when `value` is what a forgotten personal value reads as. */
export function isRedacted(value: unknown): boolean {
  return typeof value === 'string' && REDACTED_STRINGS.has(value);
}

/** The JSON pointers of the redacted fields of a recorded event (empty when none). */
export function redactedPathsOf(event: { readonly metadata: unknown }): string[] {
  const metadata = event.metadata;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return [];
  const paths = (metadata as Record<string, unknown>)[REDACTED_METADATA_KEY];
  return Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string') : [];
}

const BY_FORMAT: Readonly<Record<string, JsonValue>> = { email: REDACTED_EMAIL, date: REDACTED_DATE, 'date-time': REDACTED_DATE_TIME };
const CANDIDATES: readonly JsonValue[] = [REDACTED_TEXT, REDACTED_EMAIL, REDACTED_DATE, REDACTED_DATE_TIME, '', 0, false, null, [], {}];

/** The replacement of a forgotten value of a field with these schemas (all must accept it where possible). */
export function redactionFor(schemas: readonly TSchema[]): JsonValue {
  const formats = schemas.map((s) => (s as { format?: unknown }).format).filter((f): f is string => typeof f === 'string');
  const preferred = formats.map((f) => BY_FORMAT[f]).filter((v): v is JsonValue => v !== undefined);
  for (const candidate of [...preferred, ...CANDIDATES]) {
    if (schemas.every((schema) => isValid(schema, candidate))) return candidate;
  }
  return preferred[0] ?? REDACTED_TEXT;
}
