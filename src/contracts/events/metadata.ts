/**
 * The metadata envelope on every event, and its stored form.
 *
 * Stored metadata = the envelope + `schemaVersion` + EventStoreDB's own `$correlationId` and
 * `$causationId` (same values), which the server's `$by_correlation_id` projection indexes.
 * `buildStoredMetadata` is the only place that shape is produced.
 */
import { Type, type Static } from 'typebox';
import type { JsonObject } from '../../eventstore/port.js';
import { DateTime, Obj, TenantId, TraceId, TraceIdOf, UserId } from '../common.js';

const envelopeProperties = {
  correlationId: TraceIdOf({ description: 'Id shared by everything caused by one request or trigger' }),
  causationId: TraceIdOf({ description: 'Id of the command or event that directly caused this one' }),
  tenantId: TenantId,
  userId: Type.Optional(UserId),
  occurredAt: DateTime({ description: 'When it happened (from the command, not the store clock)' }),
};

/** What a writer supplies with every event (schemaVersion comes from the catalogue). */
export const EventEnvelopeSchema = Obj(envelopeProperties, {
  description: 'Tracing and tenancy context of an event',
  examples: [
    {
      correlationId: '5d0c9a9e-8d3b-4c38-b8f0-6b2f7b1f2a10',
      causationId: '5d0c9a9e-8d3b-4c38-b8f0-6b2f7b1f2a10',
      tenantId: 'acme-lending',
      userId: 'auth0|65f0c0ffee',
      occurredAt: '2025-03-14T09:26:53Z',
    },
  ],
});
export type EventEnvelope = Static<typeof EventEnvelopeSchema>;

const SchemaVersion = Type.Integer({ minimum: 1, maximum: 1000, description: 'Version of the data schema the event was written with' });

/** The metadata readers get: the envelope + the version the payload was written with. */
export const EventMetadataSchema = Obj({ ...envelopeProperties, schemaVersion: SchemaVersion });
export type EventMetadata = Static<typeof EventMetadataSchema>;

/**
 * Stored metadata as read back: the known keys are checked, others (EventStoreDB `$` keys, keys
 * added by tools or later versions) are tolerated and dropped from the decoded event.
 */
export const StoredEventMetadataSchema = Type.Object(
  {
    ...envelopeProperties,
    schemaVersion: SchemaVersion,
    $correlationId: Type.Optional(TraceId),
    $causationId: Type.Optional(TraceId),
  },
  { additionalProperties: true },
);

/** The metadata object to store with an event. Assumes `envelope` was validated. */
export function buildStoredMetadata(envelope: EventEnvelope, schemaVersion: number): JsonObject {
  const metadata: JsonObject = {
    correlationId: envelope.correlationId,
    causationId: envelope.causationId,
    tenantId: envelope.tenantId,
    occurredAt: envelope.occurredAt,
    schemaVersion,
    $correlationId: envelope.correlationId,
    $causationId: envelope.causationId,
  };
  if (envelope.userId !== undefined) metadata['userId'] = envelope.userId;
  return metadata;
}

/**
 * The envelope of an event caused by `cause` (a decoded event or a command's envelope): same
 * correlation, causation = the cause's id. `occurredAt` comes from the caller's clock.
 */
export function causedBy(
  cause: { readonly id: string; readonly metadata: Pick<EventEnvelope, 'correlationId' | 'tenantId' | 'userId'> },
  occurredAt: string,
  overrides: Partial<Pick<EventEnvelope, 'tenantId' | 'userId'>> = {},
): EventEnvelope {
  const envelope: EventEnvelope = {
    correlationId: cause.metadata.correlationId,
    causationId: cause.id,
    tenantId: overrides.tenantId ?? cause.metadata.tenantId,
    occurredAt,
  };
  const userId = 'userId' in overrides ? overrides.userId : cause.metadata.userId;
  if (userId !== undefined) envelope.userId = userId;
  return envelope;
}
