/**
 * The event catalogue: every event type of MortgageMatchPro, every schema version ever written,
 * and which version is current.
 *
 * - Stored event types carry their version: `ai.scoring.completed.v2`.
 * - Writers always write the current version (`CURRENT_VERSIONS`).
 * - Readers always get the current version: older stored versions are validated against their
 *   own schema and upcast step by step (upcasters.ts). Stored events are never rewritten.
 * - To evolve a payload: add the new schema version to `definitions`, bump `CURRENT_VERSIONS`,
 *   add an upcaster from the previous version. The types below follow.
 */
import type { Static, TSchema } from 'typebox';
import { sensitivePaths } from '../sensitive.js';
import { AiCostThresholdExceededV1, AiModelUpdatedV1, AiScoringCompletedV1, AiScoringCompletedV2, AiScoringFailedV1, AiScoringRequestedV1 } from './ai.js';
import { AnalyticsEventRecordedV1, AnalyticsMetricUpdatedV1, AnalyticsReportGeneratedV1 } from './analytics.js';
import {
  BillingPaymentFailedV1,
  BillingPaymentSucceededV1,
  BillingSubscriptionCancelledV1,
  BillingSubscriptionCreatedV1,
  BillingSubscriptionUpdatedV1,
  BillingUsageRecordedV1,
} from './billing.js';
import type { EventMetadata } from './metadata.js';
import { NotificationAdminSentV1, NotificationEmailSentV1, NotificationUserSentV1 } from './notification.js';

export type Domain = 'ai' | 'billing' | 'analytics' | 'notification';

/** The version writers write, per event type. */
export const CURRENT_VERSIONS = Object.freeze({
  'ai.scoring.requested': 1,
  'ai.scoring.completed': 2,
  'ai.scoring.failed': 1,
  'ai.model.updated': 1,
  'ai.cost.threshold_exceeded': 1,
  'billing.subscription.created': 1,
  'billing.subscription.updated': 1,
  'billing.subscription.cancelled': 1,
  'billing.payment.succeeded': 1,
  'billing.payment.failed': 1,
  'billing.usage.recorded': 1,
  'analytics.event.recorded': 1,
  'analytics.metric.updated': 1,
  'analytics.report.generated': 1,
  'notification.user.sent': 1,
  'notification.admin.sent': 1,
  'notification.email.sent': 1,
} as const);

/** An event type without its version, e.g. `ai.scoring.completed`. */
export type EventType = keyof typeof CURRENT_VERSIONS;
export type CurrentVersionOf<K extends EventType> = (typeof CURRENT_VERSIONS)[K];

interface Definition {
  readonly type: EventType;
  readonly version: number;
  readonly domain: Domain;
  readonly schema: TSchema;
}

const definitions = [
  { type: 'ai.scoring.requested', version: 1, domain: 'ai', schema: AiScoringRequestedV1 },
  { type: 'ai.scoring.completed', version: 1, domain: 'ai', schema: AiScoringCompletedV1 },
  { type: 'ai.scoring.completed', version: 2, domain: 'ai', schema: AiScoringCompletedV2 },
  { type: 'ai.scoring.failed', version: 1, domain: 'ai', schema: AiScoringFailedV1 },
  { type: 'ai.model.updated', version: 1, domain: 'ai', schema: AiModelUpdatedV1 },
  { type: 'ai.cost.threshold_exceeded', version: 1, domain: 'ai', schema: AiCostThresholdExceededV1 },
  { type: 'billing.subscription.created', version: 1, domain: 'billing', schema: BillingSubscriptionCreatedV1 },
  { type: 'billing.subscription.updated', version: 1, domain: 'billing', schema: BillingSubscriptionUpdatedV1 },
  { type: 'billing.subscription.cancelled', version: 1, domain: 'billing', schema: BillingSubscriptionCancelledV1 },
  { type: 'billing.payment.succeeded', version: 1, domain: 'billing', schema: BillingPaymentSucceededV1 },
  { type: 'billing.payment.failed', version: 1, domain: 'billing', schema: BillingPaymentFailedV1 },
  { type: 'billing.usage.recorded', version: 1, domain: 'billing', schema: BillingUsageRecordedV1 },
  { type: 'analytics.event.recorded', version: 1, domain: 'analytics', schema: AnalyticsEventRecordedV1 },
  { type: 'analytics.metric.updated', version: 1, domain: 'analytics', schema: AnalyticsMetricUpdatedV1 },
  { type: 'analytics.report.generated', version: 1, domain: 'analytics', schema: AnalyticsReportGeneratedV1 },
  { type: 'notification.user.sent', version: 1, domain: 'notification', schema: NotificationUserSentV1 },
  { type: 'notification.admin.sent', version: 1, domain: 'notification', schema: NotificationAdminSentV1 },
  { type: 'notification.email.sent', version: 1, domain: 'notification', schema: NotificationEmailSentV1 },
] as const satisfies readonly Definition[];

export type EventDefinition = (typeof definitions)[number];
type VersionedName<D> = D extends { readonly type: infer T extends string; readonly version: infer V extends number } ? `${T}.v${V}` : never;
/** A stored event type, e.g. `ai.scoring.completed.v1`. */
export type VersionedEventType = VersionedName<EventDefinition>;

type CurrentDefinition<K> = K extends EventType ? Extract<EventDefinition, { readonly type: K; readonly version: CurrentVersionOf<K> }> : never;
/** Definitions of versions that are no longer written (read through upcasters). */
export type LegacyDefinition = Exclude<EventDefinition, CurrentDefinition<EventType>>;
export type LegacyEventType = VersionedName<LegacyDefinition>;
/** The definition of one stored version. */
export type DefinitionOf<V extends VersionedEventType> = DefinitionIn<EventDefinition, V>;
type DefinitionIn<D, V> = D extends EventDefinition ? (VersionedName<D> extends V ? D : never) : never;

/** The payload of the current version of `K`, typed from its schema. */
export type EventDataOf<K extends EventType> = Static<CurrentDefinition<K>['schema']>;
/** The payload of one stored version. */
export type VersionedEventDataOf<V extends VersionedEventType> = Static<DefinitionOf<V>['schema']>;

/** A domain event at its current version (what readers get), discriminated by `type`. */
export type DomainEvent = {
  [K in EventType]: { readonly type: K; readonly version: CurrentVersionOf<K>; readonly data: EventDataOf<K>; readonly metadata: EventMetadata };
}[EventType];
export type DomainEventOf<K extends EventType> = Extract<DomainEvent, { readonly type: K }>;

/** What deciders emit and evolve over: type and current payload, without metadata. */
export type EventBody = { [K in EventType]: { readonly type: K; readonly data: EventDataOf<K> } }[EventType];
export type EventBodyOf<K extends EventType> = Extract<EventBody, { readonly type: K }>;

export interface CatalogEntry {
  readonly versionedType: VersionedEventType;
  readonly type: EventType;
  readonly version: number;
  readonly currentVersion: number;
  readonly domain: Domain;
  readonly schema: TSchema;
  readonly description: string;
  /** JSON Pointers of personal data in the payload (`*` = every array item). */
  readonly sensitivePaths: readonly string[];
}

export function versionedType<K extends EventType>(type: K, version: number = CURRENT_VERSIONS[type]): string {
  return `${type}.v${version}`;
}

function entryOf(definition: EventDefinition): CatalogEntry {
  const described = (definition.schema as { description?: unknown }).description;
  return Object.freeze({
    versionedType: versionedType(definition.type, definition.version) as VersionedEventType,
    type: definition.type,
    version: definition.version,
    currentVersion: CURRENT_VERSIONS[definition.type],
    domain: definition.domain,
    schema: definition.schema,
    description: typeof described === 'string' ? described : definition.type,
    sensitivePaths: Object.freeze(sensitivePaths(definition.schema)),
  });
}

/** Every stored event type (all versions) → schema, domain, version and current version. */
export const eventCatalog: Readonly<Record<VersionedEventType, CatalogEntry>> = Object.freeze(
  Object.fromEntries(definitions.map((d) => [versionedType(d.type, d.version), entryOf(d)])) as Record<VersionedEventType, CatalogEntry>,
);

const byVersionedType = new Map<string, CatalogEntry>(Object.values<CatalogEntry>(eventCatalog).map((e) => [e.versionedType, e]));

/** Every event type (unversioned). */
export const EVENT_TYPES = Object.freeze(Object.keys(CURRENT_VERSIONS) as EventType[]);

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(CURRENT_VERSIONS, value);
}

/** The catalogue entry of a stored type (`ai.scoring.completed.v1`), or undefined. */
export function catalogEntry(storedType: string): CatalogEntry | undefined {
  return byVersionedType.get(storedType);
}

/** The catalogue entry of the current version of `type`. */
export function currentEntry(type: EventType): CatalogEntry {
  const entry = byVersionedType.get(versionedType(type));
  if (entry === undefined) throw new Error(`No current schema for ${type}`);
  return entry;
}

const VERSIONED_RE = /^([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)\.v([1-9][0-9]{0,3})$/;

/** Splits `ai.scoring.completed.v2` into its type and version; undefined if not of that form. */
export function parseVersionedType(storedType: string): { readonly type: string; readonly version: number } | undefined {
  const match = VERSIONED_RE.exec(storedType);
  if (!match || match[1] === undefined || match[2] === undefined) return undefined;
  return { type: match[1], version: Number(match[2]) };
}

// The catalogue must be complete: each type has its current version and no version above it.
for (const type of EVENT_TYPES) {
  const current = CURRENT_VERSIONS[type];
  for (let v = 1; v <= current; v++) {
    if (!byVersionedType.has(versionedType(type, v))) throw new Error(`Event catalogue: missing schema ${type}.v${v}`);
  }
}
for (const entry of byVersionedType.values()) {
  if (entry.version > entry.currentVersion) throw new Error(`Event catalogue: ${entry.versionedType} is above the current version`);
}
