/**
 * The notification and payment process managers, ready for a SubscriptionRunner:
 *
 *   const pm = createNotificationProcessManagers(deps, { email, gateway });
 *   createSubscriptionRunner({ store: deps.store, handlers: [...pm.handlers], onBusinessError: pm.onBusinessError });
 *
 * Creates the 'email-transport' and 'payment-gateway' circuit breakers in deps.breakers: call it
 * once per EngineDeps.
 */
import type { BreakerOptions } from '../engine/breakers.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import type { EventHandler } from '../engine/subscription-runner.js';
import type { PersistentSubscriptionSettings } from '../eventstore/port.js';
import { TenantContacts } from '../integrations/email/tenant-contacts.js';
import type { EmailTransport } from '../integrations/email/transport.js';
import type { PaymentGateway } from '../integrations/payments/gateway.js';
import { createNotificationsHandler, notifyAdminOfBusinessError, Notifier, type BusinessErrorHook, type MetricAlertThresholds } from './notifications.js';
import { createPaymentSaga, type PaymentSagaOptions } from './payment-saga.js';

export interface NotificationProcessManagerOptions {
  readonly email: EmailTransport;
  readonly gateway: PaymentGateway;
  /** Operators' address for admin alerts. */
  readonly adminEmail?: string;
  readonly metricAlerts?: MetricAlertThresholds;
  readonly breakers?: { readonly email?: BreakerOptions; readonly gateway?: BreakerOptions };
  /** Persistent subscription settings for both groups (e.g. startFrom). */
  readonly settings?: Partial<PersistentSubscriptionSettings>;
  readonly paymentSaga?: Pick<PaymentSagaOptions, 'maxGatewayCalls' | 'onGatewayUnavailable'>;
}

export interface NotificationProcessManagers {
  /** [payment-saga, notifications]. */
  readonly handlers: readonly EventHandler[];
  /** For SubscriptionRunnerOptions.onBusinessError: admins hear about every parked message. */
  readonly onBusinessError: BusinessErrorHook;
  readonly notifier: Notifier;
  /** Per-tenant notification addresses (table tenant_contacts). */
  readonly contacts: TenantContacts;
}

export function createNotificationProcessManagers(deps: EngineDeps, options: NotificationProcessManagerOptions): NotificationProcessManagers {
  const notifier = new Notifier(deps, {
    email: options.email,
    ...(options.adminEmail !== undefined ? { adminEmail: options.adminEmail } : {}),
    ...(options.breakers?.email !== undefined ? { breaker: options.breakers.email } : {}),
  });
  const contacts = new TenantContacts(deps.readDb);
  const saga = createPaymentSaga(deps, {
    gateway: options.gateway,
    ...options.paymentSaga,
    ...(options.breakers?.gateway !== undefined ? { breaker: options.breakers.gateway } : {}),
    ...(options.settings !== undefined ? { settings: options.settings } : {}),
  });
  const notifications = createNotificationsHandler(deps, notifier, {
    contacts,
    ...(options.metricAlerts !== undefined ? { metricAlerts: options.metricAlerts } : {}),
    ...(options.settings !== undefined ? { settings: options.settings } : {}),
  });
  return { handlers: [saga, notifications], onBusinessError: notifyAdminOfBusinessError(deps, notifier), notifier, contacts };
}
