import { randomUUID } from 'node:crypto';
import { it } from 'vitest';
import { toEventData } from '../../src/contracts/events/codec.js';
import { AiScoringRequestedV1, AiScoringCompletedV2 } from '../../src/contracts/events/ai.js';
import { StoredEventMetadataSchema } from '../../src/contracts/events/metadata.js';
import { isValid } from '../../src/contracts/validation.js';
import { REQUEST, result } from './support.js';

it('profile decode', () => {
  const scoringId = randomUUID();
  const tenantId = 'acme-lending';
  const env = { correlationId: scoringId, causationId: scoringId, tenantId, occurredAt: '2025-01-01T00:00:00Z' };
  const req = toEventData('ai.scoring.requested', { scoringId, tenantId, attempt: 1, request: REQUEST }, env, randomUUID());
  const comp = toEventData('ai.scoring.completed', { scoringId, tenantId, attempt: 1, ...result(50, 30) }, env, randomUUID());
  const N = 20000;
  for (const [name, schema, value] of [['requested', AiScoringRequestedV1, req.data], ['completed', AiScoringCompletedV2, comp.data], ['metadata', StoredEventMetadataSchema, req.metadata]] as const) {
    isValid(schema, value);
    const t = performance.now();
    for (let i = 0; i < N; i++) isValid(schema, value);
    console.log(name, ((performance.now() - t) / N) * 1000, 'us');
  }
  let t = performance.now();
  for (let i = 0; i < N; i++) JSON.parse(JSON.stringify(req.data));
  console.log('json roundtrip request', ((performance.now() - t) / N) * 1000, 'us');
  t = performance.now();
  for (let i = 0; i < N; i++) new Date(Date.parse('2025-01-01T00:00:00Z')).toISOString();
  console.log('normalize', ((performance.now() - t) / N) * 1000, 'us');
});
import { decodeEvent } from '../../src/contracts/events/codec.js';
it('decode warmed', () => {
  const scoringId = randomUUID();
  const tenantId = 'acme-lending';
  const env = { correlationId: scoringId, causationId: scoringId, tenantId, occurredAt: '2025-01-01T00:00:00Z' };
  const req = toEventData('ai.scoring.requested', { scoringId, tenantId, attempt: 1, request: REQUEST }, env, randomUUID());
  const comp = toEventData('ai.scoring.completed', { scoringId, tenantId, attempt: 1, ...result(50, 30) }, env, randomUUID());
  const mk = (e: typeof req) => ({ id: e.id, type: e.type, streamId: 's', revision: 0n, position: { commit: 1n, prepare: 1n }, data: e.data, metadata: e.metadata ?? {}, created: new Date() });
  const rs = [mk(req), mk(comp)];
  const N = 50000;
  for (let i = 0; i < N; i++) decodeEvent(rs[i % 2]!);
  const t = performance.now();
  for (let i = 0; i < N; i++) decodeEvent(rs[i % 2]!);
  console.log('decodeEvent', ((performance.now() - t) / N) * 1000, 'us');
});
