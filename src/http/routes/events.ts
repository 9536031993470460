import { Type } from 'typebox';
import { EventPageSchema, EventQuerySchema, validateEventQueryRules } from '../../contracts/api/events.js';
import { EventLog } from '../../engine/event-log.js';
import type { EngineDeps } from '../../engine/engine-deps.js';
import type { App } from '../app.js';
import { NotFound, ValidationFailed } from '../errors.js';
import { principalOf } from '../request-context.js';
import { AUTHENTICATED_ERRORS, errorResponses } from './common.js';

const StreamParams = Type.Object(
  { stream: Type.String({ minLength: 1, maxLength: 256, pattern: '^[^$\\s][^\\s]*$', description: 'Stream id (system streams are not readable here)' }) },
  { additionalProperties: false },
);
const StreamQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

export function registerEventRoutes(app: App, deps: Pick<EngineDeps, 'store' | 'logger'>): void {
  const log = new EventLog(deps.store, deps.logger);

  app.get(
    '/events',
    {
      config: { access: 'user' },
      schema: {
        tags: ['events'],
        summary: "Query the tenant's events by time range, type, stream and correlation id",
        description: 'Commit order. A page may hold fewer events than `limit` while `nextCursor` is present: the scan of one page is bounded.',
        querystring: EventQuerySchema,
        response: { 200: EventPageSchema, ...errorResponses(...AUTHENTICATED_ERRORS) },
      },
    },
    async (request) => {
      const problems = validateEventQueryRules(request.query);
      if (problems.length > 0) throw new ValidationFailed('Invalid event query', problems.map((p) => ({ path: `/querystring${p.path}`, message: p.message })));
      return log.query(principalOf(request).tenantId, request.query);
    },
  );

  app.get(
    '/streams/:stream',
    {
      config: { access: 'user' },
      schema: {
        tags: ['events'],
        summary: "Read one of the tenant's streams, oldest first",
        params: StreamParams,
        querystring: StreamQuery,
        response: { 200: EventPageSchema, ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
    },
    async (request) => {
      const page = await log.query(principalOf(request).tenantId, { stream: request.params.stream, ...request.query });
      // Another tenant's stream reads as missing: stream names do not leak across tenants.
      if (page.events.length === 0 && request.query.cursor === undefined) throw new NotFound(`Stream ${request.params.stream}`);
      return page;
    },
  );
}
