import { ScoringParamsSchema, ScoringRequestViewSchema, SubmitScoringBodySchema, SubmitScoringResponseSchema } from '../../contracts/api/scoring.js';
import { validateScoringRequestRules } from '../../contracts/scoring-request.js';
import type { EngineDeps } from '../../engine/engine-deps.js';
import type { App } from '../app.js';
import { NotFound, ValidationFailed } from '../errors.js';
import { principalOf } from '../request-context.js';
import { AUTHENTICATED_ERRORS, commandContext, errorResponses } from './common.js';

export function registerScoringRoutes(app: App, deps: Pick<EngineDeps, 'scoring' | 'clock'>): void {
  app.post(
    '/scorings',
    {
      config: { access: 'user' },
      schema: {
        tags: ['scoring'],
        summary: 'Submit a mortgage scoring request',
        description: 'Accepted for asynchronous scoring (202). Poll the Location, or send ?wait=<ms> to wait for the result.',
        body: SubmitScoringBodySchema,
        response: { 202: SubmitScoringResponseSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const problems = validateScoringRequestRules(request.body, deps.clock().toISOString().slice(0, 10));
      if (problems.length > 0) throw new ValidationFailed('The scoring request breaks a cross-field rule', problems.map((p) => ({ path: `/body${p.path}`, message: p.message })));
      const { scoringId, attempt } = await deps.scoring.submit(commandContext(request), request.body);
      const location = `/scorings/${scoringId}`;
      return reply.status(202).header('location', location).send({ scoringId, status: 'requested', attempt, location });
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
