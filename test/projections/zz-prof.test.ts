import { randomUUID } from 'node:crypto';
import { it } from 'vitest';
import { decodeEvent, toEventData, type DecodedEvent } from '../../src/contracts/events/codec.js';
import { applyBatch, createProjectionTables, projectionFilter } from '../../src/projections/projection.js';
import { scoringStatusProjection } from '../../src/projections/scoring-status.js';
import type { RecordedEvent } from '../../src/eventstore/port.js';
import { REQUEST, result, testDeps } from './support.js';

it('profile', async () => {
  const { deps } = await testDeps();
  for (let i = 0; i < 5000; i++) {
    const scoringId = randomUUID();
    const tenantId = 'acme-lending';
    const env = (o: string) => ({ correlationId: scoringId, causationId: scoringId, tenantId, occurredAt: o });
    await deps.store.append(`scoring-${scoringId}`, [
      toEventData('ai.scoring.requested', { scoringId, tenantId, attempt: 1, request: REQUEST }, env('2025-01-01T00:00:00Z'), randomUUID()),
      toEventData('ai.scoring.completed', { scoringId, tenantId, attempt: 1, ...result(50, 30) }, env('2025-01-01T00:00:05Z'), randomUUID()),
    ]);
  }
  const events: RecordedEvent[] = [];
  let t = performance.now();
  for await (const e of deps.store.readAll({ filter: projectionFilter(scoringStatusProjection) })) events.push(e);
  console.log('readAll', (performance.now() - t) / events.length * 1000, 'us/event');
  t = performance.now();
  const sub = deps.store.subscribeToAll({ fromPosition: 'start', filter: projectionFilter(scoringStatusProjection) });
  let n = 0;
  for await (const _ of sub) { n++; if (n === events.length) break; }
  console.log('subscribe', (performance.now() - t) / events.length * 1000, 'us/event');
  t = performance.now();
  const decoded: DecodedEvent[] = [];
  for (const e of events) { const d = decodeEvent(e); if (d.ok) decoded.push(d.event); }
  console.log('decode', (performance.now() - t) / events.length * 1000, 'us/event');
  const tables = createProjectionTables(deps.readDb, scoringStatusProjection, 'p1');
  t = performance.now();
  for (let i = 0; i < decoded.length; i += 1000) applyBatch(deps.readDb, scoringStatusProjection, tables, 'p1', decoded.slice(i, i + 1000));
  console.log('apply+handled', (performance.now() - t) / events.length * 1000, 'us/event');
  const tables2 = createProjectionTables(deps.readDb, scoringStatusProjection, 'p2');
  t = performance.now();
  deps.readDb.transaction(() => { for (const d of decoded) scoringStatusProjection.apply(deps.readDb, d, tables2); })();
  console.log('apply only', (performance.now() - t) / events.length * 1000, 'us/event');
  const ins = deps.readDb.prepare('INSERT OR IGNORE INTO handled_events (group_name, event_id, handled_at) VALUES (?, ?, ?)');
  t = performance.now();
  deps.readDb.transaction(() => { for (const d of decoded) ins.run('zz', d.id, 'x'); })();
  console.log('handled only', (performance.now() - t) / events.length * 1000, 'us/event');
}, 120000);
