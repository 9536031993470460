import { Type } from 'typebox';
import type { ScoringWaiter } from '../../engine/scoring-waiter.js';
import { ScoringParamsSchema, ScoringRequestViewSchema, SubmitScoringBodySchema, SubmitScoringResponseSchema } from '../../contracts/api/scoring.js';
import { validateScoringRequestRules } from '../../contracts/scoring-request.js';
import type { EngineDeps } from '../../engine/engine-deps.js';
import type { App } from '../app.js';
import { NotFound, ValidationFailed } from '../errors.js';
import { principalOf } from '../request-context.js';
import { AUTHENTICATED_ERRORS, commandContext, errorResponses } from './common.js';
import { newId } from '../../contracts/ids.js';

const SubmitQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 30_000, description: 'Wait up to this many ms for the outcome: 200 with the result if it comes in time, else 202' }),
    ),
  },
  { additionalProperties: false },
);

export function registerScoringRoutes(app: App, deps: Pick<EngineDeps, 'scoring' | 'clock'>, waiter: ScoringWaiter): void {
  app.post(
    '/scorings',
    {
      config: { access: 'user' },
      schema: {
        tags: ['scoring'],
        summary: 'Submit a mortgage scoring request',
        description: 'Accepted for asynchronous scoring (202). Poll the Location, or send ?wait=<ms> to wait for the result.',
        body: SubmitScoringBodySchema,
        querystring: SubmitQuery,
        response: { 200: ScoringRequestViewSchema, 202: SubmitScoringResponseSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const problems = validateScoringRequestRules(request.body, deps.clock().toISOString().slice(0, 10));
      if (problems.length > 0) throw new ValidationFailed('The scoring request breaks a cross-field rule', problems.map((p) => ({ path: `/body${p.path}`, message: p.message })));
      const waitMs = request.query.wait ?? 0;
      const scoringId = newId();
      // Registered before the append: the outcome cannot slip between the append and the wait.
      const wait = waitMs > 0 ? waiter.wait(scoringId) : undefined;
      try {
        const { attempt } = await deps.scoring.submit(commandContext(request), request.body, scoringId);
        const location = `/scorings/${scoringId}`;
        reply.header('location', location);
        if (wait && (await wait.promise(waitMs)) !== 'timeout') {
          const view = await deps.scoring.view(principalOf(request).tenantId, scoringId);
          if (view && view.status !== 'requested') return reply.status(200).send(view);
        }
        return reply.status(202).send({ scoringId, status: 'requested', attempt, location });
      } finally {
        wait?.cancel();
      }
    },
  );

  app.get(
    '/scorings/:scoringId',
    {
      config: { access: 'user' },
      schema: {
        tags: ['scoring'],
        summary: 'Read one scoring request and its outcome',
        params: ScoringParamsSchema,
        response: { 200: ScoringRequestViewSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
    },
    async (request) => {
      const view = await deps.scoring.view(principalOf(request).tenantId, request.params.scoringId);
      if (!view) throw new NotFound(`Scoring request ${request.params.scoringId}`);
      return view;
    },
  );

  app.post(
    '/scorings/:scoringId/retry',
    {
      config: { access: 'user' },
      schema: {
        tags: ['scoring'],
        summary: 'Retry a failed scoring (bounded attempts)',
        params: ScoringParamsSchema,
        response: { 202: SubmitScoringResponseSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const { scoringId } = request.params;
      const { attempt } = await deps.scoring.retry(commandContext(request), scoringId);
      const location = `/scorings/${scoringId}`;
      return reply.status(202).header('location', location).send({ scoringId, status: 'requested', attempt, location });
    },
  );
}
