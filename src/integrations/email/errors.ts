/**
 * Typed e-mail failures, recognised by the engine's `classify`:
 * - EmailTransientError (TransientError): connection refused or reset, timeout, TLS or protocol
 *   hiccup, any 4xx SMTP reply (greylisting, mailbox busy, rate limits). Retried; counts as a
 *   failure of the 'email-transport' circuit breaker.
 * - EmailPermanentError (BusinessError): a 5xx SMTP reply (550 unknown recipient, 553 bad
 *   address, 554 rejected) or a message nodemailer refuses to send. Retrying gives the same
 *   answer: parked at once, admins told; it never trips the breaker.
 * - SystemError('smtp'): authentication failed — the configuration is wrong.
 */
import { BusinessError, SystemError, TransientError, type TransientReason } from '../../engine/failures.js';

export type EmailPermanentCode = 'EMAIL_RECIPIENT_REJECTED' | 'EMAIL_REJECTED' | 'EMAIL_INVALID_MESSAGE';

export class EmailTransientError extends TransientError {
  readonly responseCode: number | undefined;
  constructor(message: string, options: { readonly reason?: TransientReason; readonly responseCode?: number; readonly cause?: unknown } = {}) {
    super(message, { reason: options.reason ?? 'other', cause: options.cause });
    this.responseCode = options.responseCode;
  }
}

export class EmailPermanentError extends BusinessError {
  readonly responseCode: number | undefined;
  constructor(code: EmailPermanentCode, message: string, options: { readonly responseCode?: number; readonly cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.responseCode = options.responseCode;
  }
}

function property(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
/** Recipient-level 5xx replies: the address does not exist or is not acceptable. */
const RECIPIENT_REPLIES = new Set([550, 551, 553, 501]);

/** Maps a nodemailer (SMTP) error to the typed errors above. */
export function classifySmtpError(error: unknown): EmailTransientError | EmailPermanentError | SystemError {
  const message = error instanceof Error ? error.message : String(error);
  const code = property(error, 'code');
  const command = property(error, 'command');
  const responseCode = property(error, 'responseCode');
  if (code === 'EAUTH') return new SystemError('smtp', `SMTP authentication failed: ${message}`, { cause: error });
  if (typeof responseCode === 'number' && responseCode >= 400 && responseCode <= 599) {
    if (responseCode < 500) return new EmailTransientError(`SMTP server deferred the message (${responseCode}): ${message}`, { responseCode, cause: error });
    const recipient = command === 'RCPT TO' || RECIPIENT_REPLIES.has(responseCode);
    return new EmailPermanentError(recipient ? 'EMAIL_RECIPIENT_REJECTED' : 'EMAIL_REJECTED', `SMTP server rejected the message (${responseCode}): ${message}`, {
      responseCode,
      cause: error,
    });
  }
  // Refused by nodemailer before talking to the server (no recipient, bad address, empty message).
  if ((code === 'EENVELOPE' || code === 'EMESSAGE') && command === 'API') {
    return new EmailPermanentError(code === 'EENVELOPE' ? 'EMAIL_RECIPIENT_REJECTED' : 'EMAIL_INVALID_MESSAGE', message, { cause: error });
  }
  const reason: TransientReason = typeof code === 'string' && TIMEOUT_CODES.has(code) ? 'timeout' : 'network';
  return new EmailTransientError(`SMTP delivery failed${typeof code === 'string' ? ` [${code}]` : ''}: ${message}`, { reason, cause: error });
}
