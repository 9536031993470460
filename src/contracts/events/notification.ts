/** Payloads of the notification domain events. */
import { Type } from 'typebox';
import { Obj, StringEnum, TenantId, UserId, Uuid, sensitive } from '../common.js';

export const TemplateName = Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,63}$', maxLength: 64, examples: ['scoring_completed'] });

export const NotificationUserSentV1 = Obj(
  {
    notificationId: Uuid(),
    tenantId: TenantId,
    recipientUserId: UserId,
    channel: StringEnum(['in_app', 'email', 'sms', 'push']),
    template: TemplateName,
    subject: Type.Optional(Type.String({ maxLength: 200 })),
    relatedEventId: Type.Optional(Uuid({ description: 'The event this notification is about' })),
  },
  {
    description: 'A notification was delivered to a user.',
    examples: [
      {
        notificationId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
        tenantId: 'acme-lending',
        recipientUserId: 'auth0|65f0c0ffee',
        channel: 'in_app',
        template: 'scoring_completed',
        subject: 'Your scoring is ready',
        relatedEventId: '0b8e4a8e-7f43-4c8f-9a53-2f6b1c0de001',
      },
    ],
  },
);

export const NotificationAdminSentV1 = Obj(
  {
    notificationId: Uuid(),
    tenantId: TenantId,
    severity: StringEnum(['info', 'warning', 'critical']),
    channel: StringEnum(['email', 'slack', 'pagerduty']),
    template: TemplateName,
    message: Type.String({ minLength: 1, maxLength: 2000 }),
    relatedEventId: Type.Optional(Uuid()),
  },
  {
    description: 'Operators were notified (escalations, budget alerts, payment failures).',
    examples: [
      {
        notificationId: '2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e',
        tenantId: 'acme-lending',
        severity: 'warning',
        channel: 'slack',
        template: 'ai_cost_threshold',
        message: 'acme-lending reached 80% of its AI budget for 2025-03',
      },
    ],
  },
);

export const NotificationEmailSentV1 = Obj(
  {
    notificationId: Uuid(),
    tenantId: TenantId,
    to: Type.String({ format: 'email', maxLength: 254, ...sensitive }),
    template: TemplateName,
    subject: Type.String({ minLength: 1, maxLength: 200 }),
    provider: StringEnum(['smtp', 'ses', 'sendgrid']),
    providerMessageId: Type.String({ minLength: 1, maxLength: 255 }),
  },
  {
    description: 'An email left through the mail provider (delivery and bounces are tracked by its id).',
    examples: [
      {
        notificationId: '3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f',
        tenantId: 'acme-lending',
        to: 'jane.borrower@example.com',
        template: 'payment_receipt',
        subject: 'Your MortgageMatchPro receipt',
        provider: 'smtp',
        providerMessageId: '<20250314092710.1234@mail.mortgagematch.pro>',
      },
    ],
  },
);
