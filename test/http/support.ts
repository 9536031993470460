/**
 * HTTP test harness: the whole engine (startEngine) on a temporary embedded store in a temp dir,
 * driven over HTTP with `app.inject`. Every harness owns its folder and removes it on stop.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { EXAMPLE_SCORING_REQUEST } from '../../src/contracts/scoring-request.js';
import type { App } from '../../src/http/app.js';
import { ensureDemoTenant, type DemoTenant } from '../../src/tenancy/demo.js';
import { startEngine, type RunningEngine } from '../../src/wiring.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

export interface CallOptions {
  /** API key, sent as `Authorization: Bearer`. */
  readonly key?: string;
  /** JSON body (serialised); use `payload` for a raw one. */
  readonly body?: unknown;
  readonly payload?: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
}

export interface TenantKeys {
  readonly tenantId: string;
  readonly userKey: string;
  readonly adminKey: string;
}

export interface Harness {
  readonly engine: RunningEngine;
  readonly app: App;
  readonly dataDir: string;
  /** The demo tenant: pro plan, active subscription. */
  readonly demo: TenantKeys;
  /** The platform operator's key (cross-tenant routes). */
  readonly operatorKey: string;
  call(method: Method, url: string, options?: CallOptions): Promise<LightMyRequestResponse>;
  /** The store's head commit position as a string ('0' on an empty store). */
  head(): Promise<string>;
  /** A new tenant with a user and an admin key; with `plan`, an active subscription created over HTTP. */
  tenant(name: string, plan?: 'starter' | 'pro' | 'enterprise'): Promise<TenantKeys>;
  /** Stops the engine (idempotent) but keeps the data folder. */
  stopEngine(): Promise<void>;
  /** Stops the engine and removes the data folder. */
  stop(): Promise<void>;
}

function keysOf(demo: DemoTenant): TenantKeys {
  return { tenantId: demo.tenantId, userKey: demo.userKey.apiKey, adminKey: demo.adminKey.apiKey };
}

export async function startHarness(): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mmp-http-'));
  const engine = await startEngine({ dataDir, runHandlers: false });
  const demo = await ensureDemoTenant(engine.deps);
  if (!demo) throw new Error('expected an empty store to get a demo tenant');
  const app = engine.http;
  let stopping: Promise<void> | undefined;
  const stopEngine = (): Promise<void> => (stopping ??= engine.stop());

  const call: Harness['call'] = (method, url, options = {}) => {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.key !== undefined) headers['authorization'] = `Bearer ${options.key}`;
    let payload: string | undefined = options.payload;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    return app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}), ...(options.query ? { query: options.query } : {}) });
  };

  return {
    engine,
    app,
    dataDir,
    demo: keysOf(demo),
    operatorKey: demo.operatorKey.apiKey,
    call,
    async head() {
      const head = await engine.deps.store.headPosition();
      return head ? head.commit.toString() : '0';
    },
    async tenant(name, plan) {
      const tenant = engine.deps.tenants.createTenant(name);
      const userKey = engine.deps.tenants.issueKey(tenant.tenantId, 'user').apiKey;
      const adminKey = engine.deps.tenants.issueKey(tenant.tenantId, 'admin').apiKey;
      if (plan) {
        const created = await call('POST', '/subscription', { key: adminKey, body: { plan } });
        if (created.statusCode !== 201) throw new Error(`creating the subscription of ${name}: ${created.statusCode} ${created.body}`);
      }
      return { tenantId: tenant.tenantId, userKey, adminKey };
    },
    stopEngine,
    async stop() {
      try {
        await stopEngine();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** A valid scoring request (a fresh copy, safe to mutate). */
export function scoringRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(JSON.parse(JSON.stringify(EXAMPLE_SCORING_REQUEST)) as Record<string, unknown>), ...overrides };
}

/** The parsed JSON body of a response. */
export function json<T = Record<string, unknown>>(response: LightMyRequestResponse): T {
  return JSON.parse(response.body) as T;
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: readonly { readonly path: string; readonly message: string }[];
}

export interface EventViewBody {
  readonly id: string;
  readonly streamId: string;
  readonly revision: string;
  readonly position: { readonly commit: string; readonly prepare: string };
  readonly type: string;
  readonly eventType: string;
  readonly created: string;
  readonly data: Record<string, unknown>;
  readonly metadata: Record<string, unknown>;
}

export interface EventPageBody {
  readonly events: readonly EventViewBody[];
  readonly nextCursor?: string;
}

/** A payment webhook body for the tenant's current subscription. */
export function paymentWebhook(tenantId: string, subscriptionId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    gatewayEventId: `evt_${randomUUID().replaceAll('-', '')}`,
    gateway: 'stripe',
    outcome: 'succeeded',
    paymentId: randomUUID(),
    tenantId,
    subscriptionId,
    amountCents: 19_900,
    currency: 'USD',
    gatewayReference: `ch_${randomUUID().replaceAll('-', '')}`,
    billingPeriod: new Date().toISOString().slice(0, 7),
    occurredAt: new Date().toISOString(),
    ...overrides,
  };
}
