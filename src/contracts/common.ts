/**
 * Schema building blocks shared by the event, command and HTTP contracts.
 *
 * Every schema here is plain JSON Schema (TypeBox 1.x keeps its own bookkeeping in non-enumerable
 * keys), so the same objects serve validation on write and read, Fastify request validation and
 * the OpenAPI document. Conventions:
 * - money is an integer number of cents (USD unless a `currency` says otherwise);
 * - times are RFC 3339 date-times, calendar days are `YYYY-MM-DD`, billing periods `YYYY-MM` (UTC);
 * - objects are closed (`additionalProperties: false`): a typo is an error, and any change to an
 *   event payload is a new version with an upcaster (see events/upcasters.ts);
 * - paths in errors are JSON Pointers into the validated value (`/applicant/email`, `''` = root).
 */
import { Type, type Static, type TEnum, type TObject, type TProperties, type TSchemaOptions } from 'typebox';

/** Custom schema keyword marking personal data (see sensitive.ts). */
export const SENSITIVE_KEYWORD = 'x-sensitive';
/** Spread into a schema's options to mark it as personal data: `Type.String({ ...sensitive })`. */
export const sensitive = { [SENSITIVE_KEYWORD]: true } as const;
/**
 * Non-standard keywords used by these schemas. Ajv (Fastify's default validator) runs in strict
 * mode and rejects unknown keywords: register these, e.g.
 * `Fastify({ ajv: { customOptions: { keywords: [...CUSTOM_SCHEMA_KEYWORDS] } } })`, or use the
 * TypeBox validator compiler, which ignores them.
 */
export const CUSTOM_SCHEMA_KEYWORDS = [SENSITIVE_KEYWORD] as const;

/** A closed object: `additionalProperties: false`. */
export function Obj<P extends TProperties>(properties: P, options: TSchemaOptions = {}): TObject<P> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A string enum rendered as `{ type: 'string', enum: [...] }` (one clear error, good OpenAPI). */
export function StringEnum<const V extends string[]>(values: readonly [...V], options: TSchemaOptions = {}): TEnum<V> {
  return Type.Enum(values, { ...options, type: 'string' });
}

/** An integer enum rendered as `{ type: 'integer', enum: [...] }`. */
export function IntegerEnum<const V extends number[]>(values: readonly [...V], options: TSchemaOptions = {}): TEnum<V> {
  return Type.Enum(values, { ...options, type: 'integer' });
}

/** Largest amount any money field accepts: $10 billion. */
export const MAX_CENTS = 1_000_000_000_000;

/** Integer cents, 0..MAX_CENTS unless narrowed by `options`. */
export function Cents(options: TSchemaOptions = {}) {
  return Type.Integer({ minimum: 0, maximum: MAX_CENTS, ...options });
}

export function Uuid(options: TSchemaOptions = {}) {
  return Type.String({ format: 'uuid', maxLength: 36, examples: ['0b8e4a8e-7f43-4c8f-9a53-2f6b1c0de001'], ...options });
}

export function DateTime(options: TSchemaOptions = {}) {
  return Type.String({ format: 'date-time', maxLength: 40, examples: ['2025-03-14T09:26:53Z'], ...options });
}

export function IsoDate(options: TSchemaOptions = {}) {
  return Type.String({ format: 'date', maxLength: 10, ...options });
}

/**
 * Tenant id: lower-case slug (a uuid also matches). It is embedded in stream names
 * (`subscription-{tenantId}`, `usage-{tenantId}-{yyyy-mm}`), hence the narrow alphabet.
 */
export const TenantId = Type.String({
  pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$',
  maxLength: 64,
  description: 'Tenant (lender organisation) id: lower-case letters, digits and hyphens',
  examples: ['acme-lending'],
});
export type TenantId = Static<typeof TenantId>;

/** Tenant id used by platform-wide events that belong to no customer (e.g. ai.model.updated). */
export const PLATFORM_TENANT_ID = 'platform';

/** Id of a person as given by the identity provider (e.g. `auth0|65f...`). */
export const UserId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[\\x21-\\x7e]+$',
  description: 'User id from the identity provider (printable ASCII, no spaces)',
  examples: ['auth0|65f0c0ffee'],
});

/** Correlation / causation ids: uuids in practice, request ids from proxies are accepted too. */
export function TraceIdOf(options: TSchemaOptions = {}) {
  return Type.String({
    minLength: 1,
    maxLength: 128,
    pattern: '^[A-Za-z0-9._:-]+$',
    examples: ['5d0c9a9e-8d3b-4c38-b8f0-6b2f7b1f2a10'],
    ...options,
  });
}
export const TraceId = TraceIdOf();

export const ScoringId = Uuid({ description: 'Scoring request id' });

export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code', examples: ['USD'] });

export const BillingPeriod = Type.String({
  pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$',
  description: 'Billing period: a UTC calendar month, YYYY-MM',
  examples: ['2025-03'],
});
export type BillingPeriod = Static<typeof BillingPeriod>;

export const PlanId = StringEnum(['starter', 'pro', 'enterprise'], { description: 'Subscription plan' });
export type PlanId = Static<typeof PlanId>;

/** One problem with one value: the `details` items of the API error and the event validation errors. */
export const FieldErrorSchema = Obj(
  {
    path: Type.String({ maxLength: 512, description: "JSON Pointer to the offending value ('' = the whole value)", examples: ['/applicant/email'] }),
    message: Type.String({ maxLength: 1000, examples: ['must match format "email"'] }),
  },
  { description: 'A validation problem at a JSON path' },
);
export type FieldError = Static<typeof FieldErrorSchema>;

/** The UTC calendar month (YYYY-MM) of an RFC 3339 date-time. Pure: no clock. Throws on an invalid date. */
export function billingPeriodOf(dateTime: string): BillingPeriod {
  const ms = Date.parse(dateTime);
  if (Number.isNaN(ms)) throw new RangeError(`Not a date-time: ${dateTime}`);
  return new Date(ms).toISOString().slice(0, 7);
}

/** The start of the UTC calendar month after the given date-time, as an ISO string. */
export function startOfNextPeriod(dateTime: string): string {
  const d = new Date(Date.parse(dateTime));
  if (Number.isNaN(d.getTime())) throw new RangeError(`Not a date-time: ${dateTime}`);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString();
}
