import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoTenant, type DemoTenant } from '../../src/tenancy/demo.js';
import { startEngine, type RunningEngine } from '../../src/wiring.js';
import { scoringRequest } from './support.js';

describe('access: rate limits, security headers, audit log', () => {
  let dir: string;
  let engine: RunningEngine;
  let demo: DemoTenant;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mmp-access-'));
    engine = await startEngine({ dataDir: dir, runHandlers: false, http: { rateLimit: { max: 5, timeWindowMs: 60_000 } } });
    const created = await ensureDemoTenant(engine.deps);
    if (!created) throw new Error('expected a demo tenant');
    demo = created;
  });
  afterAll(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  it('limits each API key separately with 429 RATE_LIMITED in the shared error shape', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await engine.http.inject({ method: 'GET', url: '/subscription', headers: auth(demo.userKey.apiKey) })).statusCode);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const limited = await engine.http.inject({ method: 'GET', url: '/subscription', headers: auth(demo.userKey.apiKey) });
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
    // The admin key has its own budget.
    expect((await engine.http.inject({ method: 'GET', url: '/subscription', headers: auth(demo.adminKey.apiKey) })).statusCode).toBe(200);
  });

  it('sends security headers', async () => {
    const response = await engine.http.inject({ method: 'GET', url: '/health/live' });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBeDefined();
  });

  it('records commands and admin actions with who, what, correlation id and outcome; admins read their tenant only', async () => {
    const correlationId = 'audit-check-1';
    const submit = await engine.http.inject({ method: 'POST', url: '/scorings', headers: { ...auth(demo.adminKey.apiKey), 'x-correlation-id': correlationId }, payload: scoringRequest() });
    expect(submit.statusCode).toBe(202);
    const refused = await engine.http.inject({ method: 'POST', url: '/subscription', headers: { ...auth(demo.adminKey.apiKey), 'x-correlation-id': 'audit-check-2' }, payload: { plan: 'pro' } });
    expect(refused.statusCode).toBe(422);
    const page = await engine.http.inject({ method: 'GET', url: '/admin/audit?limit=50', headers: auth(demo.adminKey.apiKey) });
    expect(page.statusCode).toBe(200);
    const entries = (page.json() as { entries: { correlationId: string; action: string; outcome: string; keyId: string; role: string; tenantId: string; status: number }[] }).entries;
    expect(entries.find((e) => e.correlationId === correlationId)).toMatchObject({ action: 'POST /scorings', outcome: 'succeeded', keyId: demo.adminKey.keyId, role: 'admin', tenantId: demo.tenantId, status: 202 });
    expect(entries.find((e) => e.correlationId === 'audit-check-2')).toMatchObject({ action: 'POST /subscription', outcome: 'refused', status: 422 });

    const other = engine.deps.tenants.createTenant('Other', 'other-lender');
    const otherAdmin = engine.deps.tenants.issueKey(other.tenantId, 'admin');
    const otherPage = await engine.http.inject({ method: 'GET', url: '/admin/audit', headers: auth(otherAdmin.apiKey) });
    const otherEntries = (otherPage.json() as { entries: { correlationId: string }[] }).entries;
    expect(otherEntries.some((e) => e.correlationId === correlationId)).toBe(false);
  });
});
