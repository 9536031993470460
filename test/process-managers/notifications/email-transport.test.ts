/**
 * The e-mail transports: SMTP (nodemailer) against a tiny real SMTP server on loopback, and the
 * outbox; plus the notifications group when the transport is down (breaker opens, parked) or
 * rejects a recipient for good (parked at once, admins told).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BusinessError, classify } from '../../../src/engine/failures.js';
import type { EventHandler } from '../../../src/engine/subscription-runner.js';
import { EmailPermanentError, EmailTransientError } from '../../../src/integrations/email/errors.js';
import { OutboxEmailTransport } from '../../../src/integrations/email/outbox.js';
import { SmtpEmailTransport } from '../../../src/integrations/email/smtp.js';
import { messageIdFor, type EmailMessage, type EmailTransport, type SentEmail } from '../../../src/integrations/email/transport.js';
import { SimulatedPaymentGateway } from '../../../src/integrations/payments/simulated.js';
import { createNotificationProcessManagers } from '../../../src/process-managers/index-notifications.js';
import { notificationIdFor, notificationStreamId } from '../../../src/process-managers/notifications.js';
import { closedPort, startSmtpServer, type SmtpTestServer } from './smtp-server.js';
import { commandContext, harness, ofType, readDecoded, SETTINGS, startRunner, until, type Harness } from './support.js';

let smtp: SmtpTestServer;
const transports: SmtpEmailTransport[] = [];
let h: Harness | undefined;

beforeEach(async () => {
  smtp = await startSmtpServer();
});
afterEach(async () => {
  for (const transport of transports.splice(0)) transport.close();
  await h?.close();
  h = undefined;
  await smtp.close();
});

function smtpTransport(url = smtp.url): SmtpEmailTransport {
  const transport = new SmtpEmailTransport({ url, timeoutMs: 2_000 });
  transports.push(transport);
  return transport;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('SmtpEmailTransport on a loopback SMTP server', () => {
  it('sends with a Message-ID derived from the idempotency key and the key as a header', async () => {
    const key = randomUUID();
    const sent = await smtpTransport().send({ to: 'officer@acme.example', subject: 'Hello', text: 'Body text', idempotencyKey: key, tenantId: 'acme', tags: { template: 'welcome' } });
    expect(sent.messageId).toBe(messageIdFor(key));
    expect(smtp.received).toHaveLength(1);
    const raw = smtp.received[0]?.raw ?? '';
    expect(smtp.received[0]?.to).toEqual(['officer@acme.example']);
    expect(raw).toContain(`Message-ID: ${messageIdFor(key)}`);
    expect(raw).toContain(`X-Idempotency-Key: ${key}`);
    expect(raw).toMatch(/^X-MMP-Tag-Template: welcome$/im); // header names are case-insensitive
    expect(raw).toContain('Body text');
  });

  it('550 for the recipient → EmailPermanentError (business: never retried)', async () => {
    const error = await failure(smtpTransport().send({ to: 'reject-me@acme.example', subject: 'x', text: 'y' }));
    expect(error).toBeInstanceOf(EmailPermanentError);
    expect(error).toMatchObject({ code: 'EMAIL_RECIPIENT_REJECTED', responseCode: 550 });
    expect(classify(error)).toBe('business');
  });

  it('451 → EmailTransientError; connection refused → EmailTransientError', async () => {
    const deferred = await failure(smtpTransport().send({ to: 'busy@acme.example', subject: 'x', text: 'y' }));
    expect(deferred).toBeInstanceOf(EmailTransientError);
    expect(deferred).toMatchObject({ responseCode: 451 });
    const refused = await failure(smtpTransport(`smtp://127.0.0.1:${await closedPort()}`).send({ to: 'a@acme.example', subject: 'x', text: 'y' }));
    expect(refused).toBeInstanceOf(EmailTransientError);
    expect(classify(refused)).toBe('transient');
  });
});

describe('OutboxEmailTransport', () => {
  it('stores once per idempotency key and lists newest first, per tenant, with a limit', async () => {
    h = await harness();
    const outbox = new OutboxEmailTransport(h.deps.readDb);
    const first = await outbox.send({ to: 'a@x.example', subject: 'one', text: '1', idempotencyKey: 'k1', tenantId: 't1', correlationId: 'c-1' });
    const again = await outbox.send({ to: 'a@x.example', subject: 'one (again)', text: '1', idempotencyKey: 'k1', tenantId: 't1' });
    expect(again).toEqual(first);
    await outbox.send({ to: 'b@x.example', subject: 'two', text: '2', tenantId: 't2' });
    await outbox.send({ to: 'c@x.example', subject: 'three', text: '3', tenantId: 't1' });
    expect(outbox.count()).toBe(3);
    expect(outbox.list().map((e) => e.subject)).toEqual(['three', 'two', 'one']);
    expect(outbox.list({ tenantId: 't1', limit: 1 }).map((e) => e.subject)).toEqual(['three']);
    expect(outbox.get('k1')).toMatchObject({ to: 'a@x.example', correlationId: 'c-1', tenantId: 't1' });
    const invalid = await failure(outbox.send({ to: 'not an address', subject: 's', text: 't' }));
    expect(classify(invalid)).toBe('business');
  });
});

/** A transport that fails with a connection error until `up` is set. */
class SwitchableTransport implements EmailTransport {
  readonly provider = 'smtp' as const;
  up = false;
  calls = 0;
  constructor(private readonly target: EmailTransport) {}
  send(message: EmailMessage): Promise<SentEmail> {
    this.calls += 1;
    if (!this.up) return Promise.reject(new EmailTransientError('connect ECONNREFUSED 127.0.0.1:25', { reason: 'network' }));
    return this.target.send(message);
  }
}

describe('notifications when the transport fails', () => {
  it('real SMTP port refusing connections: the email-transport breaker opens, the messages are parked, nothing recorded as sent', async () => {
    h = await harness();
    const email = smtpTransport(`smtp://127.0.0.1:${await closedPort()}`);
    const pm = createNotificationProcessManagers(h.deps, {
      email,
      gateway: new SimulatedPaymentGateway(),
      settings: SETTINGS,
      breakers: { email: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: 60_000 } },
    });
    const runner = await startRunner(h, pm.handlers, { onBusinessError: pm.onBusinessError });
    const tenantId = 'offline-lending';
    await h.deps.billing.create(commandContext(tenantId), 'pro', randomUUID());

    // welcome (subscription created) and receipt (payment succeeded) both give up.
    await until(runner, async () => (await h?.deps.store.listParkedMessages({ kind: 'all' }, 'notifications'))?.length === 2);
    const breaker = h.deps.breakers.list().find((b) => b.name === 'email-transport');
    expect(breaker?.state).toBe('open');
    expect(breaker?.stats.rejects).toBeGreaterThan(0);
    const parked = await h.deps.store.listParkedMessages({ kind: 'all' }, 'notifications');
    expect(parked.map((p) => p.reason).join('\n')).toMatch(/Transient error, gave up/);
    expect(await readDecoded(h, notificationStreamId(tenantId))).toEqual([]);
    // The saga does not depend on e-mail: the payment went through.
    expect((await h.deps.billing.state(tenantId)).status).toBe('active');
  });

  it('after the outage: the breaker half-opens and closes, replayed messages are sent once', async () => {
    h = await harness();
    const outbox = new OutboxEmailTransport(h.deps.readDb);
    const email = new SwitchableTransport(outbox);
    const pm = createNotificationProcessManagers(h.deps, {
      email,
      gateway: new SimulatedPaymentGateway(),
      settings: SETTINGS,
      breakers: { email: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: 100 } },
    });
    const runner = await startRunner(h, [pm.handlers[1] as EventHandler], { onBusinessError: pm.onBusinessError });
    const tenantId = 'flaky-lending';
    const created = await h.deps.billing.create(commandContext(tenantId), 'pro', randomUUID());
    await until(runner, async () => (await h?.deps.store.listParkedMessages({ kind: 'all' }, 'notifications'))?.length === 1);

    email.up = true;
    await new Promise((resolve) => setTimeout(resolve, 150)); // resetTimeout: the next call is the half-open trial
    await h.deps.store.replayParkedMessages({ kind: 'all' }, 'notifications');
    await until(runner, () => outbox.count() === 1);
    expect(h.deps.breakers.list().find((b) => b.name === 'email-transport')?.state).toBe('closed');
    expect(outbox.list()[0]?.id).toBe(notificationIdFor(created.eventIds[0] ?? '', 'email'));
    expect((await readDecoded(h, notificationStreamId(tenantId))).map((e) => e.type)).toEqual(['notification.email.sent']);
  });

  it('SMTP 550 for the tenant contact: parked at once (no retry, breaker untouched), admins told through onBusinessError', async () => {
    h = await harness();
    const pm = createNotificationProcessManagers(h.deps, { email: smtpTransport(), gateway: new SimulatedPaymentGateway(), settings: SETTINGS });
    const runner = await startRunner(h, [pm.handlers[1] as EventHandler], { onBusinessError: pm.onBusinessError });
    const tenantId = 'bouncy-lending';
    pm.contacts.setContactEmail(tenantId, 'reject-officers@bouncy.example');
    const created = await h.deps.billing.create(commandContext(tenantId), 'pro', randomUUID());
    const createdId = created.eventIds[0] ?? '';

    await until(runner, async () => (await h?.deps.store.listParkedMessages({ kind: 'all' }, 'notifications'))?.length === 1);
    expect(smtp.recipientsTried.filter((r) => r === 'reject-officers@bouncy.example')).toHaveLength(1);
    expect(h.deps.breakers.list().find((b) => b.name === 'email-transport')?.state).toBe('closed');
    const stream = await readDecoded(h, notificationStreamId(tenantId));
    const admin = ofType(stream, 'notification.admin.sent');
    expect(admin.map((e) => e.id)).toEqual([notificationIdFor(createdId, 'parked/notifications')]);
    expect(admin[0]?.data).toMatchObject({ template: 'event_parked', relatedEventId: createdId, channel: 'email' });
    expect(admin[0]?.data.message).toContain('EMAIL_RECIPIENT_REJECTED');
    expect(ofType(stream, 'notification.email.sent').map((e) => e.data.to)).toEqual(['ops@mortgagematchpro.local']);
    expect(smtp.received.map((m) => m.to)).toEqual([['ops@mortgagematchpro.local']]);

    // The hook running again (parking failed, message came back) writes and sends nothing new.
    const [parked] = await h.deps.store.listParkedMessages({ kind: 'all' }, 'notifications');
    await pm.onBusinessError(parked?.event ?? (undefined as never), new BusinessError('EMAIL_RECIPIENT_REJECTED', 'again'), 'notifications');
    expect(await readDecoded(h, notificationStreamId(tenantId))).toHaveLength(stream.length);
    expect(smtp.received).toHaveLength(1);
  });
});
