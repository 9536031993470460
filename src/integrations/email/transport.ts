/**
 * The e-mail port: what the notification process manager hands a message to. Implementations:
 * OutboxEmailTransport (default: the read-model database is the "mail server", listed by the
 * admin API) and SmtpEmailTransport (nodemailer, when SMTP_URL is set).
 *
 * Failures are typed so the subscription runner and the circuit breaker know what to do:
 * EmailTransientError (connection, timeout, 4xx SMTP reply: retry) and EmailPermanentError (5xx
 * SMTP reply such as an invalid recipient: a BusinessError, parked at once and never retried).
 */
export type EmailProvider = 'smtp' | 'ses' | 'sendgrid';

export interface EmailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** Flat labels (template, kind...): outbox column, X-MMP-Tag-* headers over SMTP. */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Makes the send idempotent where the transport can: the outbox stores the message under this
   * key once; SMTP derives the Message-ID from it and sends it as X-Idempotency-Key (receivers
   * may dedupe on it). The notification process manager passes the notification id.
   */
  readonly idempotencyKey?: string;
  readonly tenantId?: string;
  readonly correlationId?: string;
}

export interface SentEmail {
  /** The provider's id of the message (RFC 5322 Message-ID for SMTP and the outbox). */
  readonly messageId: string;
}

export interface EmailTransport {
  /** What notification.email.sent records as `provider`. */
  readonly provider: EmailProvider;
  send(message: EmailMessage): Promise<SentEmail>;
}

/** The domain of generated Message-IDs. */
export const MESSAGE_ID_DOMAIN = 'mortgagematchpro.local';

/** A stable RFC 5322 Message-ID for an idempotency key. */
export function messageIdFor(key: string): string {
  return `<${key.replace(/[^A-Za-z0-9._-]/g, '_')}@${MESSAGE_ID_DOMAIN}>`;
}
