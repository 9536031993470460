/**
 * Fuzz: fast-check derives requests for every operation of the app's own /openapi.json — valid
 * ones from the schemas, then broken: missing fields, wrong types, huge strings, unicode (lone
 * surrogates, NUL, RTL), prototype-pollution keys (__proto__, constructor.prototype), malformed
 * JSON, wrong content types, hostile headers, path params and query strings, wrong methods —
 * sent through the in-process app (inject) with the keys of a tenant (and another tenant's).
 *
 * Figures: no 5xx; the store's $all head unchanged by every rejected (4xx) request (when it
 * moved, the new events are attributed by correlation id: background work such as a projection
 * rebuild started by an earlier accepted request may append meanwhile); no
 * prototype pollution of this process; every error body is the API's { code, message }.
 *
 * The engine's handlers run once (so their subscription groups exist, as in production), then
 * stop: only requests append, so the head check is exact. `?wait` of POST /scorings above 100 ms
 * is lowered to 0 (with no handler running the wait could only time out, slowly).
 */
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ensureDemoTenant } from '../src/tenancy/demo.js';
import { startEngine, type RunningEngine } from '../src/wiring.js';
import { info, isRecord, least, stringField, tempDir, zero, type Check, type Figure, type VerifyOptions } from './common.js';
import { scoringBody } from './requests.js';
import { prng } from './common.js';

// ---------------------------------------------------------------------------------------------
// OpenAPI reading

interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly allOf?: readonly JsonSchema[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly example?: unknown;
  readonly examples?: readonly unknown[];
}

interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required: boolean;
  readonly schema: JsonSchema;
}

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly parameters: readonly Parameter[];
  readonly body: JsonSchema | undefined;
  readonly bodyExample: unknown;
  readonly isPublic: boolean;
}

function asSchema(value: unknown): JsonSchema {
  return isRecord(value) ? (value as JsonSchema) : {};
}

function operationsOf(doc: unknown): Operation[] {
  const operations: Operation[] = [];
  const paths = isRecord(doc) && isRecord(doc['paths']) ? doc['paths'] : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isRecord(item)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!isRecord(op) || !['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const parameters: Parameter[] = [];
      for (const p of Array.isArray(op['parameters']) ? op['parameters'] : []) {
        if (!isRecord(p) || typeof p['name'] !== 'string') continue;
        const where = p['in'];
        if (where !== 'path' && where !== 'query' && where !== 'header' && where !== 'cookie') continue;
        parameters.push({ name: p['name'], in: where, required: p['required'] === true, schema: asSchema(p['schema']) });
      }
      const requestBody = isRecord(op['requestBody']) ? op['requestBody'] : undefined;
      const content = requestBody && isRecord(requestBody['content']) ? requestBody['content'] : undefined;
      const json = content && isRecord(content['application/json']) ? content['application/json'] : undefined;
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters,
        body: json ? asSchema(json['schema']) : undefined,
        bodyExample: json ? json['example'] : undefined,
        isPublic: Array.isArray(op['security']) && op['security'].length === 0,
      });
    }
  }
  return operations;
}

// ---------------------------------------------------------------------------------------------
// Values

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An object whose keys may be __proto__ / constructor: own enumerable properties, so JSON.stringify writes them. */
function objectOf(entries: readonly (readonly [string, Json])[]): { [key: string]: Json } {
  const target: { [key: string]: Json } = {};
  for (const [key, value] of entries) Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

const POLLUTION: readonly Json[] = [
  objectOf([['__proto__', objectOf([['polluted', 'yes']])]]),
  objectOf([['constructor', objectOf([['prototype', objectOf([['polluted', 'yes']])]])]]),
  objectOf([['prototype', objectOf([['polluted', 'yes']])]]),
];

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  '\u202eevil',
  '\u200b',
  '🏠💸👨‍👩‍👧',
  'Ünïcödé ñ 中文 العربية',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '1e999',
  'NaN',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${jndi:ldap://x/a}',
  '%00',
  '%',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '$all',
  '\r\nX-Injected: 1',
];

const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), maxLength: 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: 300, max: 70_000 }).map((n) => 'x'.repeat(n)) },
);

const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: fc.constantFrom(-0, -1, 0.5, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324, 1e21) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.integer(), fc.string(), fc.constant(null)), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => Array.from({ length: n }, () => 1)) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.integer(), fc.string({ maxLength: 10 })), { maxKeys: 4 }) },
  { weight: 2, arbitrary: fc.constantFrom(...POLLUTION) },
);

const EPOCH_2000 = Date.UTC(2000, 0, 1);
const EPOCH_2030 = Date.UTC(2030, 0, 1);

function safeRegex(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null');
  return typeof schema.type === 'string' ? schema.type : schema.properties ? 'object' : undefined;
}

/** Values the schema accepts (mostly: patterns and formats are approximated). */
function validOf(schema: JsonSchema, depth = 0): fc.Arbitrary<Json> {
  const examples = [...(schema.examples ?? []), ...(schema.example !== undefined ? [schema.example] : [])] as Json[];
  const fromSchema = generated(schema, depth);
  return examples.length > 0 ? fc.oneof({ weight: 3, arbitrary: fromSchema }, { weight: 1, arbitrary: fc.constantFrom(...examples) }) : fromSchema;
}

function generated(schema: JsonSchema, depth: number): fc.Arbitrary<Json> {
  if (schema.const !== undefined) return fc.constant(schema.const as Json);
  if (schema.enum && schema.enum.length > 0) return fc.constantFrom(...(schema.enum as Json[]));
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches && branches.length > 0) return fc.oneof(...branches.map((branch) => validOf(branch, depth + 1)));
  if (schema.allOf && schema.allOf.length > 0) return validOf(Object.assign({}, ...schema.allOf) as JsonSchema, depth + 1);
  switch (typeOf(schema)) {
    case 'object': {
      if (depth > 6) return fc.constant({});
      const properties = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const names = Object.keys(properties);
      if (names.length === 0) return fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean()), { maxKeys: 3 });
      const record: Record<string, fc.Arbitrary<Json>> = {};
      for (const name of names) record[name] = validOf(properties[name] ?? {}, depth + 1);
      return fc.record(record, { requiredKeys: names.filter((name) => required.has(name)) }) as fc.Arbitrary<Json>;
    }
    case 'array': {
      const min = schema.minItems ?? 0;
      return fc.array(validOf(schema.items ?? {}, depth + 1), { minLength: min, maxLength: Math.max(min, Math.min(schema.maxItems ?? 4, 4)) });
    }
    case 'integer': {
      const min = Math.max(schema.minimum ?? -1_000_000, Number.MIN_SAFE_INTEGER);
      const max = Math.min(schema.maximum ?? 1_000_000_000, Number.MAX_SAFE_INTEGER);
      return fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
    }
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string':
      return stringOf(schema);
    default:
      return fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean());
  }
}

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  const maxLength = schema.maxLength ?? 60;
  const minLength = schema.minLength ?? 0;
  const fits = (s: string): boolean => s.length >= minLength && s.length <= maxLength;
  switch (schema.format) {
    case 'uuid':
      return fc.uuid();
    case 'email':
      return fc.emailAddress().filter(fits);
    case 'date':
      return fc.integer({ min: EPOCH_2000 - 60 * 365 * 86_400_000, max: EPOCH_2030 }).map((ms) => new Date(ms).toISOString().slice(0, 10));
    case 'date-time':
      return fc.integer({ min: EPOCH_2000, max: EPOCH_2030 }).map((ms) => new Date(ms).toISOString());
    default:
      break;
  }
  const regex = schema.pattern !== undefined ? safeRegex(schema.pattern) : undefined;
  if (regex) {
    const anchored = schema.pattern?.startsWith('^') && schema.pattern.endsWith('$');
    if (anchored) return fc.stringMatching(regex).filter(fits);
    return fc.string({ minLength: Math.max(1, minLength), maxLength: Math.min(maxLength, 40) }).filter((s) => regex.test(s) && fits(s));
  }
  return fc.string({ minLength, maxLength: Math.min(maxLength, 40) });
}

// ---------------------------------------------------------------------------------------------
// Mutations of a valid body

type Path = readonly (string | number)[];

function pathsOf(value: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((item, i) => pathsOf(item, [...at, i], out));
  else if (value !== null && typeof value === 'object') for (const key of Object.keys(value)) pathsOf(value[key] ?? null, [...at, key], out);
  return out;
}

function clone(value: Json): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

type Mutation = { readonly kind: 'delete' } | { readonly kind: 'replace'; readonly value: Json } | { readonly kind: 'add'; readonly key: string; readonly value: Json };

function mutate(value: Json, path: Path, mutation: Mutation): Json {
  const root = clone(value);
  if (path.length === 0) {
    if (mutation.kind === 'replace') return mutation.value;
    if (mutation.kind === 'add' && root !== null && typeof root === 'object' && !Array.isArray(root)) {
      Object.defineProperty(root, mutation.key, { value: mutation.value, enumerable: true, writable: true, configurable: true });
    }
    return root;
  }
  let parent: Json = root;
  for (const step of path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return root;
    parent = (Array.isArray(parent) ? parent[step as number] : parent[step as string]) ?? null;
  }
  const last = path[path.length - 1] ?? '';
  if (parent === null || typeof parent !== 'object') return root;
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (mutation.kind === 'delete') parent.splice(i, 1);
    else parent[i] = mutation.value;
    return root;
  }
  const key = String(last);
  if (mutation.kind === 'delete') delete parent[key];
  else if (mutation.kind === 'replace') parent[key] = mutation.value;
  else {
    const target = parent[key];
    if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
      Object.defineProperty(target, mutation.key, { value: mutation.value, enumerable: true, writable: true, configurable: true });
    } else Object.defineProperty(parent, mutation.key, { value: mutation.value, enumerable: true, writable: true, configurable: true });
  }
  return root;
}

const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'extra', '', '$where', 'a'.repeat(300), '😀'];

function mutated(valid: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  return valid.chain((value) => {
    const paths = pathsOf(value);
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.constant<Mutation>({ kind: 'delete' }),
      hostileValue.map((v): Mutation => ({ kind: 'replace', value: v })),
      fc.tuple(fc.constantFrom(...EXTRA_KEYS), hostileValue).map(([key, v]): Mutation => ({ kind: 'add', key, value: v })),
    );
    return fc.tuple(fc.constantFrom(...paths), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([path, mutations]) => mutations.reduce((acc, m) => mutate(acc, path, m), value));
  });
}

const MALFORMED_JSON = [
  '{',
  '{"a":',
  '[1,2',
  '{"a":1}}',
  "{'a':1}",
  '{"a":NaN}',
  '{"a":1,}',
  '\ufeff{}',
  '',
  ' ',
  'null',
  '[]',
  '"text"',
  '0',
  '{"a":1e999}',
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '{"a":1,"a":2}',
  '{"a" 1}',
  '\u0000',
  `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
  `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
];

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/xml',
  'application/octet-stream',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/jsonx',
  'application/vnd.api+json',
  'application/json;;;',
  '*/*',
  '',
];

// ---------------------------------------------------------------------------------------------
// Cases

interface FuzzCase {
  readonly operation: string;
  readonly kind: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly payload: string | undefined;
}

interface Keys {
  readonly user: string;
  readonly admin: string;
  readonly otherUser: string;
  readonly otherAdmin: string;
}

interface Pools {
  /** Real ids of this tenant (a scoring, its stream), so valid-looking params also hit existing data. */
  readonly pathValues: Readonly<Record<string, readonly string[]>>;
}

function pathParam(parameter: Parameter, pools: Pools): fc.Arbitrary<string> {
  const known = pools.pathValues[parameter.name] ?? [];
  const valid = validOf(parameter.schema).map((v) => encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v)));
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: known.length > 0 ? 4 : 0, arbitrary: known.length > 0 ? fc.constantFrom(...known) : fc.constant('x') },
    { weight: 3, arbitrary: nastyString.map((s) => encodeURIComponent(s.length > 5000 ? s.slice(0, 5000) : s.replace(/[\ud800-\udfff]/g, '?'))) },
    { weight: 1, arbitrary: fc.constantFrom('..', '%2e%2e', '%2F', '%00', '%zz', '%', '%E0%A4%A', '__proto__', 'constructor', '%24all', 'a'.repeat(5000), '%20', '.', '~') },
  );
}

function encodePair(key: string, value: string, raw: boolean): string {
  return raw ? `${key}=${value}` : `${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
}

function queryOf(op: Operation): fc.Arbitrary<string> {
  const params = op.parameters.filter((p) => p.in === 'query');
  const safe = (s: string): string => s.replace(/[\ud800-\udfff]/g, '?').slice(0, 5000);
  const valid: fc.Arbitrary<string> =
    params.length === 0
      ? fc.constant('')
      : fc
          .tuple(...params.map((p) => fc.option(validOf(p.schema), { nil: undefined, freq: 2 })))
          .map((values) => values.map((v, i) => (v === undefined ? undefined : encodePair(params[i]?.name ?? 'x', typeof v === 'string' ? v : JSON.stringify(v), false))).filter((s): s is string => s !== undefined).join('&'));
  const names = [...params.map((p) => p.name), '__proto__', '__proto__[polluted]', 'constructor[prototype][polluted]', 'limit[]', 'x', ''];
  const hostile = fc
    .array(fc.tuple(fc.constantFrom(...names), nastyString.map(safe), fc.boolean()), { minLength: 1, maxLength: 4 })
    .map((pairs) => pairs.map(([k, v, raw]) => encodePair(k, raw ? encodeURI(v) : v, raw)).join('&'));
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: hostile }, { weight: 1, arbitrary: fc.constant('') });
}

function bodyOf(op: Operation): fc.Arbitrary<{ kind: string; payload: string | undefined; contentType: string | undefined }> {
  const json = (kind: string) => (value: Json) => ({ kind, payload: JSON.stringify(value), contentType: 'application/json' as string | undefined });
  const schema = op.body;
  const malformed = fc.constantFrom(...MALFORMED_JSON).map((payload) => ({ kind: 'malformed-json', payload, contentType: 'application/json' as string | undefined }));
  const hostileWhole = hostileValue.map(json('hostile-body'));
  const huge = fc.constant({ kind: 'huge-body', payload: `{"a":"${'x'.repeat(1_100_000)}"}`, contentType: 'application/json' as string | undefined });
  const none = fc.constant({ kind: 'no-body', payload: undefined, contentType: undefined as string | undefined });
  if (!schema) return fc.oneof({ weight: 6, arbitrary: none }, { weight: 2, arbitrary: hostileWhole }, { weight: 1, arbitrary: malformed });
  const example = op.bodyExample !== undefined ? [op.bodyExample as Json] : [];
  const valid = example.length > 0 ? fc.oneof(validOf(schema), fc.constantFrom(...example)) : validOf(schema);
  const wrongType = fc.tuple(valid, fc.constantFrom(...CONTENT_TYPES)).map(([v, contentType]) => ({ kind: 'content-type', payload: JSON.stringify(v), contentType: contentType === '' ? undefined : contentType }));
  return fc.oneof(
    { weight: 3, arbitrary: valid.map(json('valid-body')) },
    { weight: 6, arbitrary: mutated(valid).map(json('mutated-body')) },
    { weight: 2, arbitrary: malformed },
    { weight: 1, arbitrary: hostileWhole },
    { weight: 2, arbitrary: wrongType },
    { weight: 1, arbitrary: none },
    { weight: 1, arbitrary: fc.nat(99).filter((n) => n === 0).chain(() => huge) },
  );
}

function caseOf(op: Operation, keys: Keys, pools: Pools): fc.Arbitrary<FuzzCase> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const path = fc.tuple(...pathParams.map((p) => pathParam(p, pools))).map((values) => {
    let url = op.path;
    pathParams.forEach((p, i) => {
      url = url.replace(`{${p.name}}`, values[i] ?? '');
    });
    return url;
  });
  const method = fc.oneof({ weight: 12, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') });
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Record<string, string>>({ authorization: `Bearer ${keys.admin}` }) },
    { weight: 4, arbitrary: fc.constant<Record<string, string>>({ authorization: `Bearer ${keys.user}` }) },
    { weight: 1, arbitrary: fc.constant<Record<string, string>>({ authorization: `Bearer ${keys.otherAdmin}` }) },
    { weight: 1, arbitrary: fc.constant<Record<string, string>>({ 'x-api-key': keys.otherUser }) },
    { weight: 1, arbitrary: fc.constant<Record<string, string>>({}) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(`Bearer ${keys.admin}x`, 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `bearer ${keys.user.toUpperCase()}`, 'Bearer mmp_', `Bearer mmp_${'a'.repeat(16)}_${'b'.repeat(43)}`, 'Bearer mmp___proto___x', `Bearer ${'k'.repeat(8000)}`)
        .map((value) => ({ authorization: value })),
    },
  );
  const extraHeaders = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Record<string, string>>({}) },
    { weight: 1, arbitrary: nastyString.map((s) => ({ 'x-correlation-id': s.replace(/[^\x20-\x7e]/g, '?').slice(0, 2000) })) },
    { weight: 1, arbitrary: fc.constantFrom('*/*', 'text/html', 'application/xml', '', 'application/json;q=0') .map((accept) => ({ accept })) },
    { weight: 1, arbitrary: fc.constantFrom('gzip', 'br', 'identity', 'x'.repeat(1000)).map((encoding) => ({ 'accept-encoding': encoding })) },
    { weight: 1, arbitrary: fc.constant<Record<string, string>>({ 'x-forwarded-for': '999.1.1.1, ::ffff:1', 'x-real-ip': 'not-an-ip' }) },
  );
  return fc.tuple(method, path, queryOf(op), auth, extraHeaders, bodyOf(op)).map(([m, p, query, authHeaders, extra, body]) => {
    let q = query;
    // POST /scorings?wait=<long>: no handler runs, so the wait could only time out (slowly).
    if (op.path === '/scorings' && q.includes('wait')) q = q.replace(/(^|&)wait=([^&]*)/g, (all, lead: string, value: string) => (Number(decodeURIComponent(value)) > 100 ? `${lead}wait=0` : all));
    const headers: Record<string, string> = { ...authHeaders, ...extra };
    if (body.contentType !== undefined) headers['content-type'] = body.contentType;
    return { operation: `${op.method} ${op.path}`, kind: body.kind, method: m, url: q.length > 0 ? `${p}?${q}` : p, headers, payload: body.payload };
  });
}

// ---------------------------------------------------------------------------------------------
// The check

function prototypeSignature(): string {
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype].map((proto) => Object.getOwnPropertyNames(proto).sort().join(',')).join('|');
}

async function setUp(dataDir: string): Promise<{ engine: RunningEngine; keys: Keys; pools: Pools }> {
  const engine = await startEngine({ dataDir, http: { rateLimit: false } });
  const demo = await ensureDemoTenant(engine.deps);
  if (!demo) throw new Error('no demo tenant');
  const other = engine.deps.tenants.createTenant('Other Lender', 'other-lender');
  const keys: Keys = {
    user: demo.userKey.apiKey,
    admin: demo.adminKey.apiKey,
    otherUser: engine.deps.tenants.issueKey(other.tenantId, 'user').apiKey,
    otherAdmin: engine.deps.tenants.issueKey(other.tenantId, 'admin').apiKey,
  };
  const submitted = await engine.http.inject({ method: 'POST', url: '/scorings', headers: { authorization: `Bearer ${keys.user}`, 'content-type': 'application/json' }, payload: JSON.stringify(scoringBody(prng(7))) });
  const scoringId = stringField(submitted.json(), 'scoringId') ?? randomUUID();
  await engine.runner.waitForIdle(undefined, { timeout: 30_000 });
  // From here on only requests append: the head check is exact.
  await engine.runner.stop();
  return {
    engine,
    keys,
    pools: {
      pathValues: {
        scoringId: [scoringId],
        stream: [`scoring-${scoringId}`, `subscription-${demo.tenantId}`, `subscription-${other.tenantId}`],
        group: ['ai-scoring', 'usage-metering', 'ai-quotas'],
      },
    },
  };
}

export const fuzzCheck: Check = {
  name: 'fuzz',
  async run(options: VerifyOptions): Promise<Figure[]> {
    const cases = options.quick ? 2_000 : 10_000;
    const dir = tempDir('fuzz');
    const { engine, keys, pools } = await setUp(join(dir.path, 'data'));
    const prototypesBefore = prototypeSignature();
    let sent = 0;
    let fiveXx = 0;
    let rejectedAppends = 0;
    let accepted = 0;
    let clientErrors = 0;
    let badErrorBodies = 0;
    let backgroundAppends = 0;
    const samples: string[] = [];
    const operationsHit = new Set<string>();
    const statuses = new Map<number, number>();
    try {
      const doc = (await engine.http.inject({ method: 'GET', url: '/openapi.json' })).json() as unknown;
      const operations = operationsOf(doc);
      if (operations.length === 0) throw new Error('no operations in /openapi.json');
      options.log(`fuzz: ${operations.length} operations from /openapi.json, ${cases} cases, seed ${options.seed}`);
      const arbitrary = fc.oneof(...operations.map((op) => caseOf(op, keys, pools)));
      const store = engine.deps.store;
      await fc.assert(
        fc.asyncProperty(arbitrary, async (fuzz) => {
          const before = (await store.headPosition())?.commit ?? -1n;
          let response;
          try {
            response = await engine.http.inject({ method: fuzz.method as 'GET', url: fuzz.url, headers: fuzz.headers, ...(fuzz.payload !== undefined ? { payload: fuzz.payload } : {}) });
          } catch (error) {
            // The test client refused to build the request (e.g. an invalid header): not the server's doing.
            clientErrors += 1;
            if (clientErrors <= 3) options.log(`fuzz: inject refused ${fuzz.method} ${fuzz.url.slice(0, 100)}: ${(error as Error).message}`);
            return true;
          }
          sent += 1;
          operationsHit.add(fuzz.operation);
          const status = response.statusCode;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          const after = (await store.headPosition())?.commit ?? -1n;
          const describe = (): string => `${fuzz.method} ${fuzz.url.slice(0, 160)} [${fuzz.kind}] ${JSON.stringify(fuzz.headers).slice(0, 160)} ${fuzz.payload?.slice(0, 200) ?? ''} → ${status} ${response.body.slice(0, 300)}`;
          if (status >= 500) {
            fiveXx += 1;
            if (samples.length < 8) samples.push(`5xx: ${describe()}`);
          }
          if (status >= 200 && status < 300) accepted += 1;
          if (status >= 400 && status < 500 && after !== before) {
            // Attributed by correlation id: a rebuild or report started by an earlier (accepted)
            // request may append in the background meanwhile.
            const correlationId = response.headers['x-correlation-id'];
            let own = 0;
            for await (const event of store.readAll({ fromPosition: { commit: before + 1n, prepare: before + 1n } })) {
              if (event.position.commit > after) break;
              if (stringField(event.metadata, 'correlationId') === correlationId || stringField(event.metadata, 'causationId') === correlationId) own += 1;
            }
            if (own > 0) {
              rejectedAppends += 1;
              if (samples.length < 8) samples.push(`${own} event(s) appended on ${status}: ${describe()}`);
            } else backgroundAppends += 1;
          }
          if (status >= 400 && fuzz.method !== 'HEAD') {
            let body: unknown;
            try {
              body = JSON.parse(response.body);
            } catch {
              body = undefined;
            }
            if (stringField(body, 'code') === undefined || stringField(body, 'message') === undefined) {
              badErrorBodies += 1;
              if (samples.length < 8) samples.push(`error body: ${describe()}`);
            }
          }
          return true;
        }),
        { numRuns: cases, seed: options.seed, endOnFailure: true },
      );
      const polluted = prototypeSignature() !== prototypesBefore || ({} as Record<string, unknown>)['polluted'] !== undefined ? 1 : 0;
      for (const sample of samples) options.log(`fuzz: ${sample}`);
      options.log(`fuzz: statuses ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(', ')}; operations hit ${operationsHit.size}/${operations.length}`);
      return [
        least('fuzz.cases', sent, cases - clientErrors),
        info('fuzz.operations', operationsHit.size),
        info('fuzz.accepted_2xx', accepted),
        info('fuzz.client_refused', clientErrors),
        info('fuzz.background_appends_during_4xx', backgroundAppends),
        zero('fuzz.responses_5xx', fiveXx),
        zero('fuzz.rejected_requests_that_appended', rejectedAppends),
        zero('fuzz.prototype_polluted', polluted),
        zero('fuzz.error_bodies_malformed', badErrorBodies),
      ];
    } finally {
      await engine.stop().catch(() => undefined);
      dir.remove();
    }
  },
};
