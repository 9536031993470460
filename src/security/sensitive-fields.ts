/**
 * Where personal data sits in each stored event type, from the catalogue's `sensitivePaths`
 * (JSON Pointers, `*` = every array item or record value), with each field's redaction and the
 * pointer of the data subject's e-mail (the first non-wildcard sensitive field of format
 * `email`: `/request/applicant/email` in ai.scoring.requested, `/to` in notification.email.sent).
 */
import type { TSchema } from 'typebox';
import { catalogEntry } from '../contracts/events/catalog.js';
import { pointerSegment } from '../contracts/validation.js';
import type { JsonObject, JsonValue } from '../eventstore/port.js';
import { redactionFor } from './redaction.js';

export interface SensitiveField {
  /** The catalogue's pointer (with `*`). */
  readonly path: string;
  readonly segments: readonly string[];
  /** Per segment: the property name (unescaped) and its pointer suffix (`/segment`), or null for `*`; precomputed for the rewrites. */
  readonly steps: readonly FieldStep[];
  readonly redaction: JsonValue;
  readonly isEmail: boolean;
}

export interface FieldStep {
  readonly key: string | null;
  readonly pointer: string;
}

export interface SensitivePlan {
  readonly fields: readonly SensitiveField[];
  /** Segments of the subject's e-mail, when the type carries one. */
  readonly subject?: readonly string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unescapeSegment(segment: string): string {
  return segment.includes('~') ? segment.replace(/~1/g, '/').replace(/~0/g, '~') : segment;
}

/** The sub-schemas of `node` at `segments` (several through anyOf/oneOf/allOf). */
export function schemasAt(node: unknown, segments: readonly string[], depth = 0): TSchema[] {
  if (!isRecord(node) || depth > 64) return [];
  if (segments.length === 0) return [node as TSchema];
  const out: TSchema[] = [];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = node[key];
    if (Array.isArray(list)) for (const child of list) out.push(...schemasAt(child, segments, depth + 1));
  }
  const [head, ...rest] = segments as [string, ...string[]];
  const children: unknown[] = [];
  if (head === '*') {
    const items = node['items'];
    if (Array.isArray(items)) children.push(...items);
    else if (items !== undefined) children.push(items);
    const patterns = node['patternProperties'];
    if (isRecord(patterns)) children.push(...Object.values(patterns));
    if (isRecord(node['additionalProperties'])) children.push(node['additionalProperties']);
  } else {
    const properties = node['properties'];
    if (isRecord(properties)) children.push(properties[unescapeSegment(head)]);
  }
  for (const child of children) out.push(...schemasAt(child, rest, depth + 1));
  return out;
}

const plans = new Map<string, SensitivePlan | null>();

/** The plan of a stored event type, or undefined when it holds no personal data (or is not in the catalogue). */
export function sensitivePlan(type: string): SensitivePlan | undefined {
  const cached = plans.get(type);
  if (cached !== undefined) return cached ?? undefined;
  const entry = catalogEntry(type);
  let plan: SensitivePlan | null = null;
  if (entry !== undefined && entry.sensitivePaths.length > 0) {
    const fields = entry.sensitivePaths.map((path): SensitiveField => {
      const segments = path.split('/').slice(1);
      const schemas = schemasAt(entry.schema, segments);
      const steps = segments.map((segment): FieldStep => (segment === '*' ? { key: null, pointer: '' } : { key: unescapeSegment(segment), pointer: `/${segment}` }));
      return { path, segments, steps, redaction: redactionFor(schemas), isEmail: schemas.some((s) => (s as { format?: unknown }).format === 'email') };
    });
    const subject = fields.find((f) => f.isEmail && !f.segments.includes('*'));
    plan = subject ? { fields, subject: subject.segments } : { fields };
  }
  plans.set(type, plan);
  return plan ?? undefined;
}

/** The value at `segments` (no wildcards), or undefined. */
export function valueAt(data: JsonValue, segments: readonly string[]): JsonValue | undefined {
  let node: JsonValue | undefined = data;
  for (const segment of segments) {
    if (isRecord(node)) {
      const key = unescapeSegment(segment);
      node = Object.hasOwn(node, key) ? (node as JsonObject)[key] : undefined;
    } else if (Array.isArray(node) && /^\d+$/.test(segment)) node = node[Number(segment)];
    else return undefined;
  }
  return node;
}

/** Replaces a leaf: return the new value, or undefined to keep it. */
export type LeafRewrite = (value: JsonValue, pointer: string) => JsonValue | undefined;

/** LeafRewrite as an object (a method on a prototype rather than a closure per event: the hot path). */
export interface LeafRewriter {
  rewrite(value: JsonValue, pointer: string): JsonValue | undefined;
}

/** Sets `key` on `node`, copying it first unless this rewrite already owns (copied) it. */
function withKey(node: JsonObject, key: string, value: JsonValue, owned: WeakSet<object>): JsonObject {
  const target: JsonObject = owned.has(node) ? node : { ...node };
  owned.add(target);
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
  return target;
}

/**
 * `data` with every leaf at `segments` rewritten. Copy-on-write: the input is never mutated;
 * nodes copied by this rewrite are recorded in `owned`, so several rewrites of one event (one per
 * sensitive path, sharing `owned`) copy each node at most once.
 */
export function rewriteAt(data: JsonValue, segments: readonly string[], rewrite: LeafRewrite, owned: WeakSet<object> = new WeakSet()): JsonValue {
  const steps = segments.map((segment): FieldStep => (segment === '*' ? { key: null, pointer: '' } : { key: unescapeSegment(segment), pointer: `/${segment}` }));
  return rewriteSteps(data, steps, { rewrite }, owned);
}

/** rewriteAt with the segments of a plan's field, already unescaped (the hot path of the encryption decorator). */
export function rewriteField(data: JsonValue, field: SensitiveField, rewriter: LeafRewriter, owned: WeakSet<object>): JsonValue {
  return rewriteSteps(data, field.steps, rewriter, owned);
}

function rewriteSteps(data: JsonValue, steps: readonly FieldStep[], rewriter: LeafRewriter, owned: WeakSet<object>, index = 0, pointer = ''): JsonValue {
  if (index === steps.length) return rewriter.rewrite(data, pointer) ?? data;
  const step = steps[index] as FieldStep;
  if (Array.isArray(data)) {
    if (step.key !== null) return data;
    let out: JsonValue[] = data;
    for (let i = 0; i < data.length; i++) {
      const item = data[i] as JsonValue;
      const next = rewriteSteps(item, steps, rewriter, owned, index + 1, `${pointer}/${i}`);
      if (next === item) continue;
      if (!owned.has(out)) {
        out = [...data];
        owned.add(out);
      }
      out[i] = next;
    }
    return out;
  }
  if (!isRecord(data)) return data;
  const object = data as JsonObject;
  if (step.key === null) {
    let out: JsonObject = object;
    for (const [key, item] of Object.entries(object)) {
      const next = rewriteSteps(item, steps, rewriter, owned, index + 1, `${pointer}/${pointerSegment(key)}`);
      if (next !== item) out = withKey(out, key, next, owned);
    }
    return out;
  }
  const key = step.key;
  if (!Object.hasOwn(object, key)) return data;
  const item = object[key] as JsonValue;
  const next = rewriteSteps(item, steps, rewriter, owned, index + 1, pointer + step.pointer);
  return next === item ? data : withKey(object, key, next, owned);
}
