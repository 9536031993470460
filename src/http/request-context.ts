import { LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { newId } from '../contracts/ids.js';
import { PLATFORM_TENANT_ID } from '../contracts/common.js';
import type { Principal, TenantDirectory } from '../tenancy/api-keys.js';
import { Forbidden, Unauthenticated, ValidationFailed } from './errors.js';

/**
 * public: no key; user: any key of the tenant; admin: the tenant's admin key; operator: an admin
 * key of the platform tenant, for operations that span tenants (replaying a whole subscription
 * group, rebuilding shared read models, platform metrics, forgetting a borrower everywhere).
 */
export type Access = 'public' | 'user' | 'admin' | 'operator';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; every route but health and docs needs a key. */
    access?: Access;
  }
  interface FastifyRequest {
    correlationId: string;
    principal?: Principal;
  }
}

export const CORRELATION_HEADER = 'x-correlation-id';
const CORRELATION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The X-Correlation-Id header's value when it is a valid correlation id. */
function givenCorrelationId(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && CORRELATION_ID.test(header) ? header : undefined;
}

/**
 * Fastify options that make the request id the correlation id (given and valid, or minted):
 * request logs carry it under that name, with no second id and no child logger of our own per
 * request. registerRequestContext relies on them.
 */
export function correlationRequestIds(): Pick<FastifyServerOptions, 'genReqId' | 'logController'> {
  return {
    genReqId: (raw) => givenCorrelationId(raw.headers[CORRELATION_HEADER]) ?? newId(),
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
  };
}

/** The caller's principal; only call on routes whose access is user or admin. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Unauthenticated();
  return request.principal;
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

/** Correlation ids and API-key tenancy for every request, before validation so a bad key is 401 even with a bad body. */
export function registerRequestContext(app: FastifyInstance, tenants: TenantDirectory): void {
  app.decorateRequest('correlationId', '');
  app.decorateRequest('principal', undefined);

  app.addHook('onRequest', async (request, reply) => {
    // request.id: the header's value when valid, else a new id (correlationRequestIds).
    request.correlationId = request.id;
    reply.header(CORRELATION_HEADER, request.id);
    const given = request.headers[CORRELATION_HEADER];
    if (given !== undefined && given !== request.id) {
      throw new ValidationFailed('Invalid X-Correlation-Id header', [
        { path: '/headers/x-correlation-id', message: 'must be 1-128 characters of letters, digits, ".", "_", ":" or "-"' },
      ]);
    }

    const access = request.routeOptions.config.access ?? 'public';
    if (access === 'public') return;
    const key = presentedKey(request);
    const principal = key ? tenants.authenticate(key) : undefined;
    if (!principal) throw new Unauthenticated();
    if (access === 'admin' && principal.role !== 'admin') throw new Forbidden('This route needs an admin API key');
    if (access === 'operator' && (principal.role !== 'admin' || principal.tenantId !== PLATFORM_TENANT_ID)) {
      throw new Forbidden('This route spans tenants and needs a platform operator key');
    }
    request.principal = principal;
  });
}
