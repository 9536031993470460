import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { CUSTOM_SCHEMA_KEYWORDS, sensitive } from '../../src/contracts/common.js';
import { eventCatalog, type CatalogEntry } from '../../src/contracts/events/catalog.js';
import { EventEnvelopeSchema } from '../../src/contracts/events/metadata.js';
import { ScoringRequestSchema } from '../../src/contracts/scoring-request.js';
import { sensitivePaths } from '../../src/contracts/sensitive.js';
import { ScoringRequestViewSchema, SubmitScoringBodySchema } from '../../src/contracts/api/scoring.js';

describe('sensitive paths', () => {
  it('lists the personal fields of the scoring request', () => {
    expect(sensitivePaths(ScoringRequestSchema)).toEqual(['/applicant/dateOfBirth', '/applicant/email', '/applicant/name']);
    expect(sensitivePaths(SubmitScoringBodySchema)).toEqual(sensitivePaths(ScoringRequestSchema));
  });

  it('finds them nested in events and views', () => {
    expect(eventCatalog['ai.scoring.requested.v1'].sensitivePaths).toEqual(['/request/applicant/dateOfBirth', '/request/applicant/email', '/request/applicant/name']);
    expect(eventCatalog['notification.email.sent.v1'].sensitivePaths).toEqual(['/to']);
    expect(sensitivePaths(ScoringRequestViewSchema)).toEqual(['/request/applicant/dateOfBirth', '/request/applicant/email', '/request/applicant/name']);
  });

  it('only the events carrying personal data have sensitive paths', () => {
    const withPii = Object.values<CatalogEntry>(eventCatalog)
      .filter((e) => e.sensitivePaths.length > 0)
      .map((e) => e.versionedType)
      .sort();
    expect(withPii).toEqual(['ai.scoring.requested.v1', 'notification.email.sent.v1']);
    expect(sensitivePaths(EventEnvelopeSchema)).toEqual([]);
  });

  it('walks arrays, records, optional and union members; marks in the schema JSON', () => {
    const schema = Type.Object({
      people: Type.Array(Type.Object({ ssn: Type.String({ ...sensitive }), age: Type.Integer() })),
      notes: Type.Record(Type.String(), Type.String({ ...sensitive })),
      maybe: Type.Optional(Type.Union([Type.String({ ...sensitive }), Type.Null()])),
      'a/b': Type.String({ ...sensitive }),
      whole: Type.Object({ x: Type.String() }, { ...sensitive }),
    });
    expect(sensitivePaths(schema)).toEqual(['/a~1b', '/maybe', '/notes/*', '/people/*/ssn', '/whole']);
    expect(JSON.stringify(ScoringRequestSchema)).toContain('"x-sensitive":true');
    expect(CUSTOM_SCHEMA_KEYWORDS).toEqual(['x-sensitive']);
  });
});
