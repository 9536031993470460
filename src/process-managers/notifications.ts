/**
 * Notifications (group 'notifications'): who is told what, by e-mail and notification events.
 *
 *   ai.scoring.completed            → in-app notification to the submitting loan officer
 *                                     (metadata.userId) + e-mail to the TENANT's contact address
 *                                     (never the applicant's: that is the borrower's e-mail)
 *   billing.subscription.created    → welcome e-mail
 *   billing.payment.succeeded       → receipt e-mail
 *   billing.payment.failed          → in-app notification + e-mail to the tenant + admin alert
 *   billing.subscription.cancelled  → retention e-mail
 *   ai.cost.threshold_exceeded      → admin alert
 *   analytics.metric.updated        → admin alert when the value crosses its alert threshold
 *
 * Admin alerts are e-mailed to the operators (`adminEmail`) and recorded as notification.admin.sent.
 * Every e-mail goes through the 'email-transport' circuit breaker and is recorded as
 * notification.email.sent. Events go to `notification-{tenantId}` with expectedRevision 'any'.
 *
 * Exactly-once. Every notification has a DETERMINISTIC id: uuid v5 of (handled event id, kind).
 * - E-mail effect: before sending, the delivery ledger (table notification_email_deliveries,
 *   written with applyOnce keyed by the notification id) is consulted; a delivered notification
 *   is not sent again and its recorded Message-ID is reused. The send gets the notification id
 *   as idempotency key. With the outbox transport the effect itself is keyed: the outbox row id
 *   IS the notification id (INSERT OR IGNORE, one statement = one transaction), so even a crash
 *   between the send and the ledger write stores the e-mail once: exactly-once. Over SMTP that
 *   window cannot be closed (the server is not in our transaction): at-least-once, with the
 *   notification id as Message-ID and X-Idempotency-Key for downstream dedupe.
 * - Events: all notification events of one handled event go in ONE append with their deterministic ids (the store
 *   acknowledges a re-append of the same id without writing — EventStoreDB best effort with
 *   'any', the embedded store always), and marked in the ledger (applyOnce) once appended, so a
 *   redelivery after the mark appends nothing at all.
 */
import type { Statement } from 'better-sqlite3';
import { MAX_PAYMENT_ATTEMPTS } from '../aggregates/subscription.js';
import { scoringStreamId } from '../aggregates/streams.js';
import { PLATFORM_TENANT_ID, TenantId, TraceId, Uuid } from '../contracts/common.js';
import type { METRICS } from '../contracts/events/analytics.js';
import { toEventData, type DecodedEvent } from '../contracts/events/codec.js';
import type { EventDataOf } from '../contracts/events/catalog.js';
import { causedBy, type EventEnvelope } from '../contracts/events/metadata.js';
import { deterministicEventId } from '../contracts/ids.js';
import { isValid } from '../contracts/validation.js';
import type { BreakerOptions } from '../engine/breakers.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import { describeError } from '../engine/failures.js';
import { applyOnce, wasHandled } from '../engine/idempotent-projection.js';
import type { EventHandler } from '../engine/subscription-runner.js';
import { StreamNotFoundError, WrongExpectedVersionError } from '../eventstore/errors.js';
import type { EventData, PersistentSubscriptionSettings, RecordedEvent } from '../eventstore/port.js';
import { OutboxEmailTransport } from '../integrations/email/outbox.js';
import { TenantContacts } from '../integrations/email/tenant-contacts.js';
import type { EmailMessage, EmailTransport, SentEmail } from '../integrations/email/transport.js';
import { migrate, type ReadModelDatabase } from '../readmodel/database.js';
import { walSyncOf } from '../readmodel/wal-sync.js';
import { decodeForHandler } from './payment-saga.js';

export const NOTIFICATIONS_GROUP = 'notifications';
export const EMAIL_TRANSPORT_BREAKER = 'email-transport';
/** Namespace of notification ids, key `{handledEventId}/{kind}` (fixed: never change it). */
export const NOTIFICATION_ID_NAMESPACE = '503e5c5d-6ae5-4332-95fa-af47086f4c64';
export const DEFAULT_ADMIN_EMAIL = 'ops@mortgagematchpro.local';
/** applyOnce groups of the ledger. */
export const EMAIL_LEDGER = 'notifications.email';
export const EVENT_LEDGER = 'notifications.events';

export type MetricName = (typeof METRICS)[number];
export interface MetricAlertThreshold {
  /** Alert when the value rises above this. */
  readonly above?: number;
  /** Alert when the value falls below this. */
  readonly below?: number;
}
export type MetricAlertThresholds = Readonly<Partial<Record<MetricName, MetricAlertThreshold>>>;

/** Defaults; override per deployment with `metricAlerts`. */
export const DEFAULT_METRIC_ALERTS: MetricAlertThresholds = Object.freeze({
  scorings_failed: { above: 25 },
  scoring_latency_ms: { above: 10_000 },
  average_match_score: { below: 20 },
});

export function notificationStreamId(tenantId: string): string {
  return `notification-${tenantId}`;
}

/** The id of the notification `kind` caused by the handled event: the same on every redelivery. */
export function notificationIdFor(handledEventId: string, kind: string): string {
  return deterministicEventId(NOTIFICATION_ID_NAMESPACE, `${handledEventId}/${kind}`);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function money(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

// ---------------------------------------------------------------------------------------------
// The Notifier: delivery ledger, e-mails behind the breaker, idempotent event appends.

const LEDGER_MODULE = 'process_managers.notifications';

interface DeliveryRow {
  provider_message_id: string;
}

export interface NotifierOptions {
  readonly email: EmailTransport;
  /** Operators' address for admin alerts. Default ops@mortgagematchpro.local. */
  readonly adminEmail?: string;
  /** Options of the 'email-transport' breaker; false sends without a breaker (only for a local outbox). */
  readonly breaker?: BreakerOptions | false;
}

export interface EmailNotification {
  /** The notification id (deterministic): ledger key, idempotency key, event id of notification.email.sent. */
  readonly id: string;
  readonly tenantId: string;
  readonly template: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Sends e-mails and appends notification events, each at most once per notification id (see the header). */
export class Notifier {
  readonly adminEmail: string;
  readonly #deps: EngineDeps;
  readonly #db: ReadModelDatabase;
  readonly #markAppended: (events: readonly EventData[]) => void;
  readonly #transport: EmailTransport;
  readonly #send: (message: EmailMessage) => Promise<SentEmail>;
  readonly #findDelivery: Statement<[string], DeliveryRow>;
  readonly #insertDelivery: Statement<[string, string, string, string, string, string]>;

  constructor(deps: EngineDeps, options: NotifierOptions) {
    this.#deps = deps;
    this.#db = deps.readDb;
    this.#transport = options.email;
    this.adminEmail = options.adminEmail ?? DEFAULT_ADMIN_EMAIL;
    const transport = options.email;
    if (options.breaker === false) {
      this.#send = (message) => transport.send(message);
    } else {
      const breaker = deps.breakers.create(EMAIL_TRANSPORT_BREAKER, (message: EmailMessage) => transport.send(message), options.breaker);
      this.#send = (message) => breaker.fire(message);
    }
    migrate(this.#db, LEDGER_MODULE, [
      {
        version: 1,
        sql: `CREATE TABLE IF NOT EXISTS notification_email_deliveries (
          notification_id TEXT PRIMARY KEY,
          tenant_id TEXT NOT NULL,
          provider TEXT NOT NULL,
          provider_message_id TEXT NOT NULL,
          to_address TEXT NOT NULL,
          sent_at TEXT NOT NULL
        )`,
      },
    ]);
    // One commit for all the marks of one append.
    this.#markAppended = this.#db.transaction((events: readonly EventData[]) => {
      for (const event of events) applyOnce(this.#db, EVENT_LEDGER, event.id, () => undefined);
    });
    this.#findDelivery = this.#db.prepare<[string], DeliveryRow>('SELECT provider_message_id FROM notification_email_deliveries WHERE notification_id = ?');
    this.#insertDelivery = this.#db.prepare<[string, string, string, string, string, string]>(
      'INSERT OR IGNORE INTO notification_email_deliveries (notification_id, tenant_id, provider, provider_message_id, to_address, sent_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  /** Sends the e-mail unless the ledger has it; returns the notification.email.sent event to append. */
  async email(notification: EmailNotification, envelope: EventEnvelope): Promise<EventData> {
    const { id } = notification;
    let messageId = this.#findDelivery.get(id)?.provider_message_id;
    if (messageId === undefined) {
      const sent = await this.#send({
        to: notification.to,
        subject: notification.subject,
        text: notification.text,
        tags: { template: notification.template, notification: id },
        idempotencyKey: id,
        tenantId: notification.tenantId,
        correlationId: envelope.correlationId,
      });
      messageId = sent.messageId;
      const recordedId = messageId;
      applyOnce(this.#db, EMAIL_LEDGER, id, () => {
        this.#insertDelivery.run(id, notification.tenantId, this.#transport.provider, recordedId, notification.to, this.#deps.clock().toISOString());
      });
    }
    return toEventData(
      'notification.email.sent',
      {
        notificationId: id,
        tenantId: notification.tenantId,
        to: notification.to,
        template: notification.template,
        subject: notification.subject,
        provider: this.#transport.provider,
        providerMessageId: clip(messageId, 255),
      },
      envelope,
      id,
    );
  }

  /**
   * Appends the events (deterministic ids) to notification-{tenantId} with 'any' in ONE append
   * (one durable write, all or nothing), skipping those the ledger marks as appended, then marks
   * them. A redelivery before the mark re-appends the same ids: the store acknowledges a batch
   * whose ids all exist without writing. Only a partial overlap (events appended one by one by an
   * earlier version, crash in between) is refused; then each goes on its own, each idempotent.
   */
  async append(tenantId: string, events: readonly EventData[]): Promise<number> {
    const missing = events.filter((event) => !wasHandled(this.#db, EVENT_LEDGER, event.id));
    if (missing.length === 0) return 0;
    const stream = notificationStreamId(tenantId);
    try {
      await this.#deps.store.append(stream, missing, { expectedRevision: 'any' });
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || missing.length === 1) throw error;
      for (const event of missing) await this.#deps.store.append(stream, [event], { expectedRevision: 'any' });
    }
    walSyncOf(this.#db).commit(() => this.#markAppended(missing));
    return missing.length;
  }
}

// ---------------------------------------------------------------------------------------------
// What each event asks for.

interface EmailIntent {
  readonly kind: string;
  readonly template: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}
interface UserIntent {
  readonly kind: string;
  readonly template: string;
  readonly recipientUserId: string;
  readonly subject: string;
}
interface AdminIntent {
  readonly kind: string;
  readonly template: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly subject: string;
  readonly message: string;
}
interface Plan {
  readonly tenantId: string;
  readonly emails: readonly EmailIntent[];
  readonly users: readonly UserIntent[];
  readonly admins: readonly AdminIntent[];
}

export interface NotificationsHandlerOptions {
  readonly contacts?: TenantContacts;
  readonly metricAlerts?: MetricAlertThresholds;
  /** Persistent subscription settings of the group. */
  readonly settings?: Partial<PersistentSubscriptionSettings>;
}

const TRIGGERS = [
  'ai.scoring.completed',
  'billing.subscription.created',
  'billing.payment.succeeded',
  'billing.payment.failed',
  'billing.subscription.cancelled',
  'ai.cost.threshold_exceeded',
  'analytics.metric.updated',
] as const;

/** A user id for notifications that concern the tenant as a whole (no acting user is known). */
export function tenantRecipient(tenantId: string): string {
  return `tenant:${tenantId}`;
}

function isPast(value: number, threshold: MetricAlertThreshold): boolean {
  return (threshold.above !== undefined && value > threshold.above) || (threshold.below !== undefined && value < threshold.below);
}

export function createNotificationsHandler(deps: EngineDeps, notifier: Notifier, options: NotificationsHandlerOptions = {}): EventHandler {
  const contacts = options.contacts ?? new TenantContacts(deps.readDb);
  const metricAlerts = options.metricAlerts ?? DEFAULT_METRIC_ALERTS;

  /** The loan officer who submitted the scoring: the completion's user, else the request's. */
  async function submitter(event: DecodedEvent & { readonly type: 'ai.scoring.completed' }): Promise<string | undefined> {
    if (event.metadata.userId !== undefined) return event.metadata.userId;
    try {
      for await (const recorded of deps.store.readStream(scoringStreamId(event.data.scoringId), { maxCount: 1 })) {
        const userId = recorded.metadata['userId'];
        return typeof userId === 'string' && userId !== '' ? userId : undefined;
      }
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    return undefined;
  }

  async function plan(event: DecodedEvent): Promise<Plan | undefined> {
    switch (event.type) {
      case 'ai.scoring.completed': {
        const { tenantId, scoringId, matchScore, riskBand, explanation, eligibleProducts } = event.data;
        const recipientUserId = (await submitter(event)) ?? tenantRecipient(tenantId);
        const subject = `Scoring ${scoringId.slice(0, 8)} completed: ${matchScore}/100 (${riskBand.replace('_', ' ')} risk)`;
        return {
          tenantId,
          users: [{ kind: 'user', template: 'scoring_completed', recipientUserId, subject }],
          emails: [
            {
              kind: 'email',
              template: 'scoring_completed',
              to: contacts.contactEmail(tenantId),
              subject,
              text: `The scoring ${scoringId} is complete.\n\nMatch score: ${matchScore}/100\nRisk band: ${riskBand}\nEligible products: ${eligibleProducts.length}\n\n${explanation}\n`,
            },
          ],
          admins: [],
        };
      }
      case 'billing.subscription.created': {
        const { tenantId, plan: planId, monthlyPriceCents, currency, includedScorings } = event.data;
        return {
          tenantId,
          users: [],
          admins: [],
          emails: [
            {
              kind: 'email',
              template: 'subscription_welcome',
              to: contacts.contactEmail(tenantId),
              subject: `Welcome to MortgageMatchPro ${planId}`,
              text: `Your ${planId} subscription is active: ${includedScorings} scorings a month for ${money(monthlyPriceCents, currency)}.\n`,
            },
          ],
        };
      }
      case 'billing.payment.succeeded': {
        const { tenantId, paymentId, amountCents, currency, billingPeriod, gatewayReference, paidAt } = event.data;
        return {
          tenantId,
          users: [],
          admins: [],
          emails: [
            {
              kind: 'email',
              template: 'payment_receipt',
              to: contacts.contactEmail(tenantId),
              subject: `Your MortgageMatchPro receipt for ${billingPeriod}`,
              text: `We received ${money(amountCents, currency)} for ${billingPeriod} on ${paidAt}.\nPayment: ${paymentId}\nReference: ${gatewayReference}\n`,
            },
          ],
        };
      }
      case 'billing.payment.failed': {
        const { tenantId, paymentId, amountCents, currency, billingPeriod, attempt, failureCode, failureMessage } = event.data;
        const final = attempt >= MAX_PAYMENT_ATTEMPTS;
        const subject = `Payment for ${billingPeriod} failed (attempt ${attempt} of ${MAX_PAYMENT_ATTEMPTS})`;
        return {
          tenantId,
          users: [{ kind: 'user', template: 'payment_failed', recipientUserId: event.metadata.userId ?? tenantRecipient(tenantId), subject }],
          emails: [
            {
              kind: 'email',
              template: 'payment_failed',
              to: contacts.contactEmail(tenantId),
              subject,
              text: `We could not collect ${money(amountCents, currency)} for ${billingPeriod}: ${failureMessage || failureCode}.\n${
                final ? 'This was the last attempt: the subscription is cancelled.' : 'We will try again.'
              }\n`,
            },
          ],
          admins: [
            {
              kind: 'admin',
              template: 'payment_failed',
              severity: final ? 'critical' : 'warning',
              subject,
              message: `Payment ${paymentId} of tenant ${tenantId} (${money(amountCents, currency)}, ${billingPeriod}) failed, attempt ${attempt}/${MAX_PAYMENT_ATTEMPTS}: ${failureCode} ${failureMessage}`,
            },
          ],
        };
      }
      case 'billing.subscription.cancelled': {
        const { tenantId, plan: planId, reason } = event.data;
        const text =
          reason === 'payment_failed'
            ? `We could not collect the payment for your ${planId} subscription, so it has been cancelled. Update your payment method and subscribe again to keep scoring.\n`
            : `Your ${planId} subscription is cancelled. We are sorry to see you go; reply to this e-mail to tell us what we could do better.\n`;
        return {
          tenantId,
          users: [],
          admins: [],
          emails: [{ kind: 'email', template: 'subscription_retention', to: contacts.contactEmail(tenantId), subject: 'Your MortgageMatchPro subscription is cancelled', text }],
        };
      }
      case 'ai.cost.threshold_exceeded': {
        const { tenantId, period, thresholdPercent, spentCents, budgetCents, action } = event.data;
        return {
          tenantId,
          users: [],
          emails: [],
          admins: [
            {
              kind: 'admin',
              template: 'ai_cost_threshold',
              severity: action === 'throttle' ? 'critical' : 'warning',
              subject: `${tenantId} reached ${thresholdPercent}% of its AI budget for ${period}`,
              message: `${tenantId} reached ${thresholdPercent}% of its AI budget for ${period}: ${money(spentCents, 'USD')} of ${money(budgetCents, 'USD')} (${action}).`,
            },
          ],
        };
      }
      case 'analytics.metric.updated': {
        const { tenantId, metric, value, previousValue, unit, window, windowStart } = event.data;
        const threshold = metricAlerts[metric];
        if (!threshold || !isPast(value, threshold)) return undefined;
        if (previousValue !== undefined && isPast(previousValue, threshold)) return undefined; // alerted when it crossed
        const bound = threshold.above !== undefined && value > threshold.above ? `above ${threshold.above}` : `below ${threshold.below ?? ''}`;
        return {
          tenantId,
          users: [],
          emails: [],
          admins: [
            {
              kind: 'admin',
              template: 'metric_threshold',
              severity: 'warning',
              subject: `${tenantId}: ${metric} is ${bound}`,
              message: `${tenantId}: ${metric} is ${value} ${unit} for the ${window} from ${windowStart}, ${bound}${previousValue !== undefined ? ` (was ${previousValue})` : ''}.`,
            },
          ],
        };
      }
      default:
        return undefined;
    }
  }

  return {
    name: NOTIFICATIONS_GROUP,
    source: { kind: 'all', filter: { on: 'eventType', prefixes: TRIGGERS.map((type) => `${type}.`) } },
    ...(options.settings !== undefined ? { settings: options.settings } : {}),
    async handle(recorded) {
      const event = decodeForHandler(recorded);
      const wanted = await plan(event);
      if (!wanted) return;
      const envelope = causedBy(event, deps.clock().toISOString(), { tenantId: wanted.tenantId });
      const events: EventData[] = [];
      for (const intent of wanted.emails) {
        const id = notificationIdFor(event.id, intent.kind);
        events.push(await notifier.email({ id, tenantId: wanted.tenantId, template: intent.template, to: intent.to, subject: clip(intent.subject, 200), text: intent.text }, envelope));
      }
      for (const intent of wanted.users) {
        const id = notificationIdFor(event.id, intent.kind);
        const data: EventDataOf<'notification.user.sent'> = {
          notificationId: id,
          tenantId: wanted.tenantId,
          recipientUserId: intent.recipientUserId,
          channel: 'in_app',
          template: intent.template,
          subject: clip(intent.subject, 200),
          relatedEventId: event.id,
        };
        events.push(toEventData('notification.user.sent', data, envelope, id));
      }
      for (const intent of wanted.admins) {
        events.push(...(await adminNotification(notifier, { handledId: event.id, tenantId: wanted.tenantId, ...intent, relatedEventId: event.id }, envelope)));
      }
      await notifier.append(wanted.tenantId, events);
    },
  };
}

interface AdminAlert {
  readonly handledId: string;
  readonly kind: string;
  readonly tenantId: string;
  readonly template: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly subject: string;
  readonly message: string;
  readonly relatedEventId?: string;
}

/** E-mails the operators and returns [notification.email.sent, notification.admin.sent]. */
async function adminNotification(notifier: Notifier, alert: AdminAlert, envelope: EventEnvelope): Promise<EventData[]> {
  const id = notificationIdFor(alert.handledId, alert.kind);
  const message = clip(alert.message, 2000);
  const email = await notifier.email(
    {
      id: notificationIdFor(alert.handledId, `${alert.kind}.email`),
      tenantId: alert.tenantId,
      template: alert.template,
      to: notifier.adminEmail,
      subject: clip(`[${alert.severity}] ${alert.subject}`, 200),
      text: `${message}\n`,
    },
    envelope,
  );
  const data: EventDataOf<'notification.admin.sent'> = {
    notificationId: id,
    tenantId: alert.tenantId,
    severity: alert.severity,
    channel: 'email',
    template: alert.template,
    message,
    ...(alert.relatedEventId !== undefined && isValid(Uuid(), alert.relatedEventId) ? { relatedEventId: alert.relatedEventId } : {}),
  };
  return [email, toEventData('notification.admin.sent', data, envelope, id)];
}

// ---------------------------------------------------------------------------------------------
// Parked messages → admins.

export type BusinessErrorHook = (event: RecordedEvent, error: unknown, group: string) => Promise<void>;

/**
 * The runner's onBusinessError hook: e-mails the operators and appends notification.admin.sent
 * (plus notification.email.sent) about the parked event. Ids derive from (parked event id,
 * group), so the hook running again for the same message writes and sends nothing twice. Works
 * on undecodable events too (they are a usual cause of business errors): the tenant falls back
 * to 'platform'. Without a notifier the e-mail goes to an unbreakered outbox in deps.readDb.
 */
export function notifyAdminOfBusinessError(deps: EngineDeps, notifier?: Notifier): BusinessErrorHook {
  let resolved = notifier;
  return async (event, error, group) => {
    resolved ??= new Notifier(deps, { email: new OutboxEmailTransport(deps.readDb), breaker: false });
    const metadata = typeof event.metadata === 'object' && event.metadata !== null ? event.metadata : {};
    const tenantValue = metadata['tenantId'];
    const tenantId = typeof tenantValue === 'string' && isValid(TenantId, tenantValue) ? tenantValue : PLATFORM_TENANT_ID;
    const alertId = notificationIdFor(event.id, `parked/${group}`);
    const trace = (value: unknown): string | undefined => (typeof value === 'string' && isValid(TraceId, value) ? value : undefined);
    const envelope: EventEnvelope = {
      correlationId: trace(metadata['correlationId']) ?? trace(event.id) ?? alertId,
      causationId: trace(event.id) ?? alertId,
      tenantId,
      occurredAt: deps.clock().toISOString(),
    };
    const events = await adminNotification(
      resolved,
      {
        handledId: event.id,
        kind: `parked/${group}`,
        tenantId,
        template: 'event_parked',
        severity: 'warning',
        subject: `${group} parked ${String(event.type)}`,
        message: `Group '${group}' parked event ${event.id} (${String(event.type)}) of stream ${event.streamId}: ${describeError(error)}`,
        relatedEventId: event.id,
      },
      envelope,
    );
    await resolved.append(tenantId, events);
  };
}
