import { Type } from 'typebox';
import { sensitive } from '../contracts/common.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import type { App } from '../http/app.js';
import { principalOf } from '../http/request-context.js';
import { AUTHENTICATED_ERRORS, errorResponses } from '../http/routes/common.js';
import { forgetBorrowerIn } from './personal-data.js';

const ForgetBody = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254, description: "The borrower's (applicant's) e-mail", examples: ['jane.borrower@example.com'], ...sensitive }) },
  { additionalProperties: false },
);
const ForgetResponse = Type.Object({
  forgotten: Type.Boolean({ description: 'A personal data key was destroyed' }),
  keys: Type.Integer({ minimum: 0, description: 'Data keys destroyed' }),
});

/** POST /admin/borrowers/forget: crypto-shreds a borrower's personal data (right to erasure). */
export function registerPersonalDataRoutes(app: App, deps: Pick<EngineDeps, 'store' | 'logger'>, afterForget: () => void = () => undefined): void {
  app.post(
    '/admin/borrowers/forget',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['admin'],
        summary: "Forget a borrower: destroy the key of their personal data",
        description:
          "Destroys the data key of the borrower with this e-mail. Their name, e-mail and date of birth in every event read redacted from then on (events still replay); projections rebuilt afterwards hold no personal data. Irreversible. Recorded as an audit fact.",
        body: ForgetBody,
        response: { 200: ForgetResponse, ...errorResponses(...AUTHENTICATED_ERRORS) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const result = await forgetBorrowerIn(deps.store, request.body.email, {
        logger: deps.logger,
        actor: { via: 'http', tenantId: principal.tenantId, apiKeyId: principal.keyId, correlationId: request.correlationId },
      });
      // Read models built before the forget still hold the plaintext: rebuild them from the now-redacted events.
      if (result.forgotten) afterForget();
      return result;
    },
  );
}
