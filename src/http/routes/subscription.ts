import { ChangePlanBodySchema, CancelSubscriptionBodySchema, CreateSubscriptionBodySchema, PaymentWebhookBodySchema, SubscriptionViewSchema, WebhookAckSchema, validatePaymentWebhookRules } from '../../contracts/api/billing.js';
import { subscriptionView } from '../../engine/billing-service.js';
import type { EngineDeps } from '../../engine/engine-deps.js';
import type { App } from '../app.js';
import { Forbidden, NotFound, ValidationFailed } from '../errors.js';
import { principalOf } from '../request-context.js';
import { AUTHENTICATED_ERRORS, commandContext, errorResponses } from './common.js';

function viewOrThrow(state: Parameters<typeof subscriptionView>[0]) {
  const view = subscriptionView(state);
  if (!view) throw new NotFound('The subscription');
  return view;
}

export function registerSubscriptionRoutes(app: App, deps: Pick<EngineDeps, 'billing'>): void {
  app.get(
    '/subscription',
    {
      config: { access: 'user' },
      schema: { tags: ['billing'], summary: "The tenant's subscription", response: { 200: SubscriptionViewSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404) } },
    },
    async (request) => viewOrThrow(await deps.billing.state(principalOf(request).tenantId)),
  );

  app.post(
    '/subscription',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['billing'],
        summary: 'Create the tenant subscription (one active per tenant)',
        body: CreateSubscriptionBodySchema,
        response: { 201: SubscriptionViewSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 409, 422) },
      },
    },
    async (request, reply) => {
      const outcome = await deps.billing.create(commandContext(request), request.body.plan);
      return reply.status(201).send(viewOrThrow(outcome.state));
    },
  );

  app.put(
    '/subscription/plan',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['billing'],
        summary: 'Change the plan (upgrade or downgrade)',
        body: ChangePlanBodySchema,
        response: { 200: SubscriptionViewSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, 422) },
      },
    },
    async (request) => viewOrThrow((await deps.billing.changePlan(commandContext(request), request.body.plan)).state),
  );

  app.post(
    '/subscription/cancel',
    {
      config: { access: 'admin' },
      // The body is optional (reason defaults to customer_request): no body validates as {}.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['billing'],
        summary: 'Cancel the subscription',
        body: CancelSubscriptionBodySchema,
        response: { 200: SubscriptionViewSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, 422) },
      },
    },
    async (request) => viewOrThrow((await deps.billing.cancel(commandContext(request), request.body ?? {})).state),
  );

  app.post(
    '/webhooks/payments',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['billing'],
        summary: 'Record a payment outcome, as the payment gateway reports it',
        description: 'Idempotent by paymentId and attempt: a redelivered notification changes nothing. Needs an admin key of the tenant named in the body.',
        body: PaymentWebhookBodySchema,
        response: { 200: WebhookAckSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, 422) },
      },
    },
    async (request) => {
      if (request.body.tenantId !== principalOf(request).tenantId) throw new Forbidden('The payment belongs to another tenant');
      const problems = validatePaymentWebhookRules(request.body);
      if (problems.length > 0) throw new ValidationFailed('Invalid payment notification', problems.map((p) => ({ path: `/body${p.path}`, message: p.message })));
      await deps.billing.recordPayment(commandContext(request), request.body);
      return { received: true };
    },
  );
}
