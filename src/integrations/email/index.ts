/** Public surface of the e-mail integration. */
import type { ReadModelDatabase } from '../../readmodel/database.js';
import { OutboxEmailTransport } from './outbox.js';
import { SmtpEmailTransport } from './smtp.js';
import type { EmailTransport } from './transport.js';

export { EmailPermanentError, EmailTransientError, classifySmtpError, type EmailPermanentCode } from './errors.js';
export { OutboxEmailTransport, EMAIL_OUTBOX_MODULE, type OutboxEmail, type OutboxListOptions } from './outbox.js';
export { SmtpEmailTransport, type SmtpEmailTransportOptions } from './smtp.js';
export { TenantContacts, fallbackContactEmail, FALLBACK_CONTACT_DOMAIN } from './tenant-contacts.js';
export { messageIdFor, MESSAGE_ID_DOMAIN, type EmailMessage, type EmailProvider, type EmailTransport, type SentEmail } from './transport.js';

/** SMTP when `smtpUrl` (or SMTP_URL) is set, else the outbox in the read-model database. */
export function createEmailTransport(readDb: ReadModelDatabase, options: { readonly smtpUrl?: string; readonly from?: string } = {}): EmailTransport {
  const url = options.smtpUrl ?? process.env.SMTP_URL;
  if (url !== undefined && url.trim() !== '') return new SmtpEmailTransport({ url, ...(options.from !== undefined ? { from: options.from } : {}) });
  return new OutboxEmailTransport(readDb);
}
