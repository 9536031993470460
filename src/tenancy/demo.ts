import { BusinessRuleError } from '../aggregates/errors.js';
import { PLATFORM_TENANT_ID } from '../contracts/common.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import type { IssuedKey } from './api-keys.js';
import { newId } from '../contracts/ids.js';

export interface DemoTenant {
  readonly tenantId: string;
  readonly userKey: IssuedKey;
  readonly adminKey: IssuedKey;
  /** Admin key of the platform tenant: cross-tenant operations (replay, rebuild, metrics, forget). */
  readonly operatorKey: IssuedKey;
}

export const DEMO_TENANT_ID = 'demo-lender';

/** On an empty store: a demo tenant on the pro plan with a user and an admin key. Undefined when tenants exist. */
export async function ensureDemoTenant(deps: Pick<EngineDeps, 'tenants' | 'billing'>): Promise<DemoTenant | undefined> {
  if (deps.tenants.hasTenants()) return undefined;
  const tenant = deps.tenants.createTenant('Demo Lender', DEMO_TENANT_ID);
  const userKey = deps.tenants.issueKey(tenant.tenantId, 'user');
  const adminKey = deps.tenants.issueKey(tenant.tenantId, 'admin');
  const platform = deps.tenants.tenant(PLATFORM_TENANT_ID) ?? deps.tenants.createTenant('MortgageMatchPro operations', PLATFORM_TENANT_ID);
  const operatorKey = deps.tenants.issueKey(platform.tenantId, 'admin');
  const correlationId = newId();
  try {
    await deps.billing.create({ tenantId: tenant.tenantId, correlationId, causationId: correlationId, userId: 'system:bootstrap' }, 'pro');
  } catch (error) {
    // The event store may outlive a deleted read-model database: the subscription is already there.
    if (!(error instanceof BusinessRuleError && error.code === 'SUBSCRIPTION_ALREADY_ACTIVE')) throw error;
  }
  return { tenantId: tenant.tenantId, userKey, adminKey, operatorKey };
}
