/** GET /events: query the event log (support, debugging, replay checks). */
import { Type, type Static } from 'typebox';
import { DateTime, Obj, TraceId, Uuid, type FieldError } from '../common.js';

export const EVENT_QUERY_MAX_LIMIT = 1000;
export const EVENT_QUERY_DEFAULT_LIMIT = 100;

/** Querystring. Every filter is optional; results are in commit order, `cursor` continues a page. */
export const EventQuerySchema = Obj({
  from: Type.Optional(DateTime({ description: 'Inclusive lower bound on metadata.occurredAt' })),
  to: Type.Optional(DateTime({ description: 'Exclusive upper bound on metadata.occurredAt' })),
  type: Type.Optional(
    Type.String({
      pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$',
      maxLength: 128,
      description: 'Event type, unversioned (all versions) or versioned (ai.scoring.completed.v1)',
      examples: ['ai.scoring.completed'],
    }),
  ),
  stream: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^$\\s][^\\s]*$', description: 'Stream id', examples: ['scoring-3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b'] })),
  correlationId: Type.Optional(TraceId),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$', description: 'Opaque cursor from the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: EVENT_QUERY_MAX_LIMIT, default: EVENT_QUERY_DEFAULT_LIMIT })),
});
export type EventQuery = Static<typeof EventQuerySchema>;

export function validateEventQueryRules(query: EventQuery): FieldError[] {
  if (query.from !== undefined && query.to !== undefined && Date.parse(query.from) >= Date.parse(query.to)) {
    return [{ path: '/to', message: 'must be after from' }];
  }
  return [];
}

const Bigint = Type.String({ pattern: '^[0-9]{1,20}$', description: 'A 64-bit unsigned integer as a decimal string' });

export const EventViewSchema = Obj({
  id: Uuid(),
  streamId: Type.String({ maxLength: 256 }),
  revision: Bigint,
  position: Obj({ commit: Bigint, prepare: Bigint }),
  type: Type.String({ maxLength: 128, description: 'Type as stored, with its version', examples: ['ai.scoring.completed.v2'] }),
  eventType: Type.String({ maxLength: 128, description: 'Type without version', examples: ['ai.scoring.completed'] }),
  version: Type.Integer({ minimum: 1, description: 'Version of `data` (current, after upcasting)' }),
  storedVersion: Type.Integer({ minimum: 1, description: 'Version the event was written with' }),
  created: DateTime(),
  data: Type.Unknown({ description: 'Payload at `version` (personal data may be redacted)' }),
  metadata: Type.Unknown(),
});
export type EventView = Static<typeof EventViewSchema>;

export const EventPageSchema = Obj({
  events: Type.Array(EventViewSchema, { maxItems: EVENT_QUERY_MAX_LIMIT }),
  nextCursor: Type.Optional(Type.String({ maxLength: 512, description: 'Absent on the last page' })),
});
export type EventPage = Static<typeof EventPageSchema>;

/** The API view of a decoded event (bigints as decimal strings). */
export function toEventView(event: {
  readonly id: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly position: { readonly commit: bigint; readonly prepare: bigint };
  readonly storedType: string;
  readonly type: string;
  readonly version: number;
  readonly storedVersion: number;
  readonly created: Date;
  readonly data: unknown;
  readonly metadata: unknown;
}): EventView {
  return {
    id: event.id,
    streamId: event.streamId,
    revision: event.revision.toString(),
    position: { commit: event.position.commit.toString(), prepare: event.position.prepare.toString() },
    type: event.storedType,
    eventType: event.type,
    version: event.version,
    storedVersion: event.storedVersion,
    created: event.created.toISOString(),
    data: event.data,
    metadata: event.metadata,
  };
}
