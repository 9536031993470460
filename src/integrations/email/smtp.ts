/**
 * E-mail over SMTP with nodemailer (used when SMTP_URL is set). One pooled-less transporter per
 * instance; every failure is mapped to the typed errors of errors.ts.
 *
 * Exactly-once is not available over SMTP: a crash after the server accepted the message and
 * before the caller recorded it means the message is sent again on redelivery (at-least-once).
 * The Message-ID is derived from `idempotencyKey` and the key travels as X-Idempotency-Key, so
 * downstream systems (and mail clients threading by Message-ID) can drop the duplicate.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { classifySmtpError } from './errors.js';
import { messageIdFor, type EmailMessage, type EmailProvider, type EmailTransport, type SentEmail } from './transport.js';

export interface SmtpEmailTransportOptions {
  /** smtp://user:pass@host:port or smtps://...; defaults to process.env.SMTP_URL. */
  readonly url?: string;
  /** The From address. Default `MortgageMatchPro <no-reply@mortgagematchpro.local>`. */
  readonly from?: string;
  /** Connection, greeting and socket timeouts, ms. Default 10,000. */
  readonly timeoutMs?: number;
}

function tagHeaderName(key: string): string {
  return `X-MMP-Tag-${key.replace(/[^A-Za-z0-9-]/g, '-')}`;
}

export class SmtpEmailTransport implements EmailTransport {
  readonly provider: EmailProvider = 'smtp';
  readonly #transporter: Transporter<SMTPTransport.SentMessageInfo>;
  readonly #from: string;

  constructor(options: SmtpEmailTransportOptions = {}) {
    const url = options.url ?? process.env.SMTP_URL;
    if (url === undefined || url.trim() === '') throw new TypeError('SmtpEmailTransport needs options.url or the SMTP_URL environment variable');
    const parsed = new URL(url.trim());
    if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') throw new TypeError(`SMTP URL must be smtp:// or smtps://, got '${parsed.protocol}'`);
    const timeout = options.timeoutMs ?? 10_000;
    this.#transporter = nodemailer.createTransport({
      host: parsed.hostname,
      port: parsed.port === '' ? (parsed.protocol === 'smtps:' ? 465 : 587) : Number(parsed.port),
      secure: parsed.protocol === 'smtps:',
      ...(parsed.username !== '' ? { auth: { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
    this.#from = options.from ?? 'MortgageMatchPro <no-reply@mortgagematchpro.local>';
  }

  async send(message: EmailMessage): Promise<SentEmail> {
    const headers: Record<string, string> = {};
    if (message.idempotencyKey !== undefined) headers['X-Idempotency-Key'] = message.idempotencyKey;
    if (message.correlationId !== undefined) headers['X-Correlation-Id'] = message.correlationId;
    if (message.tenantId !== undefined) headers['X-MMP-Tenant'] = message.tenantId;
    for (const [key, value] of Object.entries(message.tags ?? {})) headers[tagHeaderName(key)] = value;
    try {
      const info = await this.#transporter.sendMail({
        from: this.#from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        headers,
        ...(message.idempotencyKey !== undefined ? { messageId: messageIdFor(message.idempotencyKey) } : {}),
      });
      return { messageId: info.messageId };
    } catch (error) {
      throw classifySmtpError(error);
    }
  }

  close(): void {
    this.#transporter.close();
  }
}
