import { Type } from 'typebox';
import type { App } from '../app.js';
import { AuditEntrySchema, type AuditLog } from '../audit-log.js';
import { principalOf } from '../request-context.js';
import { AUTHENTICATED_ERRORS, errorResponses } from './common.js';

const AuditQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), before: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false },
);
const AuditPage = Type.Object({ entries: Type.Array(AuditEntrySchema), nextCursor: Type.Optional(Type.Integer()) });

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Records every command (non-read request) and every admin call once answered; admins read their tenant's log. */
export function registerAudit(app: App, audit: AuditLog): void {
  app.addHook('onClose', async () => audit.close());
  app.addHook('onResponse', async (request, reply) => {
    const access = request.routeOptions.config?.access;
    if (!access || access === 'public') return;
    if (READ_METHODS.has(request.method) && access !== 'admin') return;
    const principal = request.principal;
    const status = reply.statusCode;
    audit.record({
      at: new Date().toISOString(),
      keyId: principal?.keyId ?? null,
      role: principal?.role ?? null,
      tenantId: principal?.tenantId ?? '-',
      action: `${request.method} ${request.routeOptions.url ?? request.url}`,
      target: request.url.slice(0, 512),
      correlationId: request.correlationId,
      status,
      outcome: status < 400 ? 'succeeded' : status < 500 ? 'refused' : 'failed',
    });
  });

  app.get(
    '/admin/audit',
    {
      config: { access: 'admin' },
      schema: { tags: ['admin'], summary: "The tenant's audit log, newest first", querystring: AuditQuery, response: { 200: AuditPage, ...errorResponses(...AUTHENTICATED_ERRORS) } },
    },
    async (request) => audit.list(principalOf(request).tenantId, request.query.limit ?? 100, request.query.before),
  );
}
