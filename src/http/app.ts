import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CUSTOM_SCHEMA_KEYWORDS } from '../contracts/common.js';
import type { TenantDirectory } from '../tenancy/api-keys.js';
import rateLimit from '@fastify/rate-limit';
import { ApiError, toHttpError } from './errors.js';
import { correlationRequestIds, registerRequestContext } from './request-context.js';
import { registerSecurityHeaders } from './security-headers.js';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface RateLimitOptions {
  /** Requests per API key (or per client address before authentication) in each window. */
  readonly max: number;
  readonly timeWindowMs: number;
}

export interface AppOptions {
  readonly tenants: TenantDirectory;
  /** A pino logger for request logs (each request's child carries its correlation id); none: silent. */
  readonly logger?: FastifyBaseLogger;
  readonly bodyLimit?: number;
  /** Per-key rate limit; false disables it (benchmarks). */
  readonly rateLimit?: RateLimitOptions | false;
  /** Serve HTTPS with this certificate and key (PEM). */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 6_000, timeWindowMs: 60_000 };

/** The Fastify instance with docs, the request context and the one error mapping; routes are registered by the caller. */
export async function createHttpApp(options: AppOptions): Promise<App> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
    bodyLimit: options.bodyLimit ?? 1_048_576,
    ...correlationRequestIds(),
    // removeAdditional off: a misspelt field is a 400, not silently dropped.
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false, useDefaults: true, keywords: [...CUSTOM_SCHEMA_KEYWORDS] } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Bodies are JSON only: without this, a text/plain body reaches validation (400) instead of 415.
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'MortgageMatchPro engine API',
        version: '1.0.0',
        description:
          'Submit mortgage scoring requests, manage subscriptions and read events. Every route but health and docs needs an API key: `Authorization: Bearer <key>`. Send `X-Correlation-Id` to trace a request through every event it causes.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key printed by `npm start` on an empty store' },
        },
      },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true }, config: { access: 'public' } }, async () => app.swagger());

  // Helmet's headers (no CSP: the docs page needs Swagger UI's inline scripts; HSTS over HTTPS only), computed once.
  registerSecurityHeaders(app, { https: options.https !== undefined });

  registerRequestContext(app, options.tenants);

  if (options.rateLimit !== false) {
    const limit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    await app.register(rateLimit, {
      // After authentication (onRequest), so the budget is per API key rather than per address.
      hook: 'preHandler',
      max: limit.max,
      timeWindow: limit.timeWindowMs,
      keyGenerator: (request) => request.principal?.keyId ?? request.ip,
      errorResponseBuilder: (_request, context) =>
        new ApiError(429, 'RATE_LIMITED', `Rate limit of ${context.max} requests per ${Math.round(limit.timeWindowMs / 1000)} s exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`),
    });
  }

  app.setErrorHandler(async (error, request, reply) => {
    const { status, body, bug } = toHttpError(error);
    if (bug) request.log.error({ err: error, correlationId: request.correlationId }, 'unhandled error');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler(async (request, reply) =>
    reply.status(404).send({ code: 'NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}` }),
  );
  return app;
}
