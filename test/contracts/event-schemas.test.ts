import { describe, expect, it } from 'vitest';
import {
  CURRENT_VERSIONS,
  EVENT_TYPES,
  catalogEntry,
  currentEntry,
  eventCatalog,
  parseVersionedType,
  type CatalogEntry,
} from '../../src/contracts/events/catalog.js';
import { validateEventData } from '../../src/contracts/events/codec.js';
import { validate } from '../../src/contracts/validation.js';
import { DELETE, exampleOf, mutate, paths } from './helpers.js';

const entries = Object.values<CatalogEntry>(eventCatalog);

describe('event catalogue', () => {
  it('covers the 17 event types of the product catalogue, with versioned stored names', () => {
    expect([...EVENT_TYPES].sort()).toEqual(
      [
        'ai.scoring.requested',
        'ai.scoring.completed',
        'ai.scoring.failed',
        'ai.model.updated',
        'ai.cost.threshold_exceeded',
        'billing.subscription.created',
        'billing.subscription.updated',
        'billing.subscription.cancelled',
        'billing.payment.succeeded',
        'billing.payment.failed',
        'billing.usage.recorded',
        'analytics.event.recorded',
        'analytics.metric.updated',
        'analytics.report.generated',
        'notification.user.sent',
        'notification.admin.sent',
        'notification.email.sent',
      ].sort(),
    );
    expect(Object.keys(eventCatalog)).toContain('ai.scoring.requested.v1');
    expect(Object.keys(eventCatalog)).toContain('ai.scoring.completed.v1');
    expect(Object.keys(eventCatalog)).toContain('ai.scoring.completed.v2');
    expect(entries).toHaveLength(18);
  });

  it.each(entries.map((e) => [e.versionedType, e] as const))('%s: key, domain and versions are consistent', (key, entry) => {
    expect(entry.versionedType).toBe(key);
    expect(parseVersionedType(key)).toEqual({ type: entry.type, version: entry.version });
    expect(entry.currentVersion).toBe(CURRENT_VERSIONS[entry.type]);
    expect(entry.type.startsWith(`${entry.domain}.`)).toBe(true);
    expect(entry.version).toBeLessThanOrEqual(entry.currentVersion);
    expect(entry.description.length).toBeGreaterThan(0);
  });

  it('ai.scoring.completed is at v2; the others at v1', () => {
    expect(currentEntry('ai.scoring.completed').versionedType).toBe('ai.scoring.completed.v2');
    expect(catalogEntry('ai.scoring.completed.v1')?.currentVersion).toBe(2);
    for (const type of EVENT_TYPES) if (type !== 'ai.scoring.completed') expect(CURRENT_VERSIONS[type]).toBe(1);
  });

  it('parses only well-formed versioned names', () => {
    expect(parseVersionedType('ai.scoring.completed')).toBeUndefined();
    expect(parseVersionedType('ai.scoring.completed.v0')).toBeUndefined();
    expect(parseVersionedType('ai.v1')).toBeUndefined();
    expect(parseVersionedType('x.y.v12')).toEqual({ type: 'x.y', version: 12 });
    expect(parseVersionedType('$metadata')).toBeUndefined();
    expect(catalogEntry('ai.scoring.completed.v3')).toBeUndefined();
    expect(catalogEntry('constructor')).toBeUndefined();
  });

  it('schemas are plain JSON Schema (serialisable, closed objects)', () => {
    for (const entry of entries) {
      const json = JSON.parse(JSON.stringify(entry.schema)) as Record<string, unknown>;
      expect(json['type']).toBe('object');
      expect(json['additionalProperties']).toBe(false);
      expect(Object.keys(json).some((k) => k.startsWith('~'))).toBe(false);
    }
  });
});

describe.each(entries.map((e) => [e.versionedType, e] as const))('%s schema', (_key, entry) => {
  const example = exampleOf(entry.schema) as Record<string, unknown>;
  const required = ((entry.schema as { required?: string[] }).required ?? []).slice();

  it('accepts its example', () => {
    expect(validate(entry.schema, example)).toEqual([]);
    expect(validateEventData(entry.versionedType, example)).toEqual([]);
  });

  it('rejects non-objects at the root', () => {
    for (const garbage of [null, 'x', 42, true, [], [example]]) expect(paths(validate(entry.schema, garbage))).toContain('');
  });

  it.each(required)('requires %s', (key) => {
    expect(validate(entry.schema, mutate(example, `/${key}`, DELETE))).toContainEqual({ path: `/${key}`, message: 'is required' });
  });

  it('rejects an unknown property', () => {
    expect(validate(entry.schema, { ...example, unexpectedField: 1 })).toContainEqual({ path: '/unexpectedField', message: 'is not allowed' });
  });

  it.each(Object.keys(example))('rejects a wrongly typed %s', (key) => {
    const wrong = Array.isArray(example[key]) ? 'not-an-array' : [];
    expect(paths(validate(entry.schema, mutate(example, `/${key}`, wrong)))).toContain(`/${key}`);
  });
});

describe('field rules point at the offending path', () => {
  const cases: [string, string, unknown][] = [
    ['ai.scoring.requested.v1', '/request/applicant/email', 'not-an-email'],
    ['ai.scoring.requested.v1', '/request/creditScore', 900],
    ['ai.scoring.requested.v1', '/request/creditScore', 299],
    ['ai.scoring.requested.v1', '/request/annualIncome', -1],
    ['ai.scoring.requested.v1', '/request/termYears', 12],
    ['ai.scoring.requested.v1', '/request/property/state', 'XX'],
    ['ai.scoring.requested.v1', '/attempt', 0],
    ['ai.scoring.requested.v1', '/scoringId', 'abc'],
    ['ai.scoring.requested.v1', '/tenantId', 'Acme Corp'],
    ['ai.scoring.completed.v2', '/matchScore', 101],
    ['ai.scoring.completed.v2', '/matchScore', 50.5],
    ['ai.scoring.completed.v2', '/riskBand', 'meh'],
    ['ai.scoring.completed.v2', '/eligibleProducts/0/monthlyPayment', -1],
    ['ai.scoring.completed.v2', '/eligibleProducts/0/product', 'balloon'],
    ['ai.scoring.completed.v2', '/eligibleProducts/0/estimatedRate', 30],
    ['ai.scoring.completed.v2', '/reasons', []],
    ['ai.scoring.completed.v2', '/reasons/0/code', 'lower_case'],
    ['ai.scoring.completed.v2', '/costCents', 1.5],
    ['ai.scoring.completed.v2', '/modelVersion', DELETE],
    ['ai.scoring.completed.v2', '/explanation', ''],
    ['ai.scoring.completed.v1', '/modelVersion', 'mmp-1'],
    ['ai.scoring.failed.v1', '/retryable', 'yes'],
    ['ai.scoring.failed.v1', '/errorCode', 'oops'],
    ['ai.model.updated.v1', '/rolloutPercent', 101],
    ['ai.model.updated.v1', '/effectiveAt', 'yesterday'],
    ['ai.cost.threshold_exceeded.v1', '/thresholdPercent', 50],
    ['ai.cost.threshold_exceeded.v1', '/period', '2025-13'],
    ['billing.subscription.created.v1', '/plan', 'gold'],
    ['billing.subscription.created.v1', '/currentPeriod/end', 'soon'],
    ['billing.subscription.updated.v1', '/change', 'sideways'],
    ['billing.subscription.cancelled.v1', '/reason', 'bored'],
    ['billing.payment.succeeded.v1', '/amountCents', 0],
    ['billing.payment.succeeded.v1', '/amountCents', 19.99],
    ['billing.payment.succeeded.v1', '/currency', 'usd'],
    ['billing.payment.succeeded.v1', '/gatewayReference', 'has space'],
    ['billing.payment.failed.v1', '/attempt', 0],
    ['billing.usage.recorded.v1', '/quantity', 0],
    ['billing.usage.recorded.v1', '/periodTotals/usageCount', -1],
    ['billing.usage.recorded.v1', '/billing', 'free'],
    ['analytics.event.recorded.v1', '/action', 'Page View'],
    ['analytics.event.recorded.v1', '/properties/nested', { a: 1 }],
    ['analytics.event.recorded.v1', '/properties/BadKey', 1],
    ['analytics.metric.updated.v1', '/metric', 'vibes'],
    ['analytics.metric.updated.v1', '/value', 1e16],
    ['analytics.report.generated.v1', '/location', 'not a uri'],
    ['analytics.report.generated.v1', '/from', '2025-02-30'],
    ['notification.user.sent.v1', '/channel', 'fax'],
    ['notification.admin.sent.v1', '/severity', 'meh'],
    ['notification.email.sent.v1', '/to', 'nope'],
  ];

  it.each(cases)('%s %s = %j', (type, path, value) => {
    const entry = catalogEntry(type);
    if (entry === undefined) throw new Error(type);
    const problems = validate(entry.schema, mutate(exampleOf(entry.schema), path, value));
    expect(paths(problems)).toContain(path);
  });

  it('validateEventData knows current and stored names, and reports unknown ones', () => {
    const v2 = exampleOf(currentEntry('ai.scoring.completed').schema);
    expect(validateEventData('ai.scoring.completed', v2)).toEqual([]);
    expect(validateEventData('ai.scoring.completed.v1', v2)).not.toEqual([]);
    expect(validateEventData('ai.scoring.finished', v2)).toEqual([{ path: '', message: "unknown event type 'ai.scoring.finished'" }]);
  });
});
