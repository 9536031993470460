/**
 * Personal data through the whole engine (startEngine on a temp data dir, handlers running,
 * driven over HTTP): what a loan officer submits is readable through the API, absent from the
 * store's files, and after POST /admin/borrowers/forget reads redacted everywhere, including a
 * scoring_status read model rebuilt afterwards.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoringStreamId } from '../../src/aggregates/streams.js';
import { decodeEvent } from '../../src/contracts/events/codec.js';
import { EXAMPLE_SCORING_REQUEST } from '../../src/contracts/scoring-request.js';
import { rebuildProjection } from '../../src/engine/rebuild.js';
import { getScoringRequest, scoringStatusProjection } from '../../src/projections/scoring-status.js';
import { REDACTED_DATE, REDACTED_EMAIL, REDACTED_TEXT, redactedPathsOf } from '../../src/security/index.js';
import { ensureDemoTenant, type DemoTenant } from '../../src/tenancy/demo.js';
import { startEngine, type RunningEngine } from '../../src/wiring.js';

const APPLICANT = { name: 'Philippa Xanthoula-Vrettou', email: 'philippa.xv.borrower@example.org', dateOfBirth: '1979-11-23' };
const OTHER = { name: 'Quentin Ordwhistle', email: 'q.ordwhistle@example.org', dateOfBirth: '1990-06-30' };

let dataDir: string;
let engine: RunningEngine | undefined;
let demo: DemoTenant;

async function start(): Promise<RunningEngine> {
  engine = await startEngine({ dataDir, retryPolicy: { maxRetries: 2, retryDelay: 5, maxRetryDelay: 20 } });
  return engine;
}

async function stop(): Promise<void> {
  await engine?.stop();
  engine = undefined;
}

function call(method: 'GET' | 'POST', url: string, key: string, body?: unknown): Promise<LightMyRequestResponse> {
  if (!engine) throw new Error('engine not running');
  return engine.http.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

function scoring(applicant: typeof APPLICANT): Record<string, unknown> {
  return { ...(JSON.parse(JSON.stringify(EXAMPLE_SCORING_REQUEST)) as Record<string, unknown>), applicant };
}

function occurrences(haystack: Buffer, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) count += 1;
  return count;
}

function bytesOf(file: string): Buffer {
  return Buffer.concat([file, `${file}-wal`, `${file}-journal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}

let scoringId: string;
let otherId: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mmp-security-http-'));
  await start();
  const created = await ensureDemoTenant((engine as RunningEngine).deps);
  if (!created) throw new Error('expected a demo tenant');
  demo = created;
});

afterAll(async () => {
  await stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('personal data over HTTP', () => {
  it('is readable through the API and absent from the event store files', async () => {
    const submitted = await call('POST', '/scorings?wait=15000', demo.userKey.apiKey, scoring(APPLICANT));
    expect(submitted.statusCode, submitted.body).toBe(200);
    const body = JSON.parse(submitted.body) as { scoringId: string; status: string; request: { applicant: unknown } };
    scoringId = body.scoringId;
    // The AI process manager got plaintext through its persistent subscription: it completed.
    expect(body.status).toBe('completed');
    expect(body.request.applicant).toEqual(APPLICANT);
    const other = await call('POST', '/scorings?wait=15000', demo.userKey.apiKey, scoring(OTHER));
    otherId = (JSON.parse(other.body) as { scoringId: string }).scoringId;

    const read = await call('GET', `/scorings/${scoringId}`, demo.userKey.apiKey);
    expect((JSON.parse(read.body) as { request: { applicant: unknown } }).request.applicant).toEqual(APPLICANT);
    const stream = await call('GET', `/streams/${scoringStreamId(scoringId)}`, demo.userKey.apiKey);
    expect(stream.statusCode).toBe(200);
    expect(stream.body).toContain(APPLICANT.name);

    await stop();
    const events = bytesOf(join(dataDir, 'events.db'));
    expect(events.length).toBeGreaterThan(0);
    for (const secret of [APPLICANT.name, APPLICANT.email, APPLICANT.dateOfBirth, OTHER.name, OTHER.email]) {
      expect(occurrences(events, secret), `${secret} in events.db(-wal)`).toBe(0);
      expect(occurrences(bytesOf(join(dataDir, 'keys.db')), secret), `${secret} in keys.db`).toBe(0);
    }
    expect(occurrences(events, 'enc:v2:')).toBeGreaterThanOrEqual(6);
  });

  it('reads back after a restart (the development master key persists), then forget redacts the borrower', async () => {
    await start();
    const running = engine as RunningEngine;
    const before = await call('GET', `/scorings/${scoringId}`, demo.userKey.apiKey);
    expect((JSON.parse(before.body) as { request: { applicant: unknown } }).request.applicant).toEqual(APPLICANT);

    expect((await call('POST', '/admin/borrowers/forget', demo.userKey.apiKey, { email: APPLICANT.email })).statusCode).toBe(403);
    // A tenant admin may not: the borrower's key is platform-wide.
    expect((await call('POST', '/admin/borrowers/forget', demo.adminKey.apiKey, { email: APPLICANT.email })).statusCode).toBe(403);
    expect((await call('POST', '/admin/borrowers/forget', demo.operatorKey.apiKey, { email: 'not-an-email' })).statusCode).toBe(400);
    const forgot = await call('POST', '/admin/borrowers/forget', demo.operatorKey.apiKey, { email: APPLICANT.email.toUpperCase() });
    expect(forgot.statusCode, forgot.body).toBe(200);
    expect(JSON.parse(forgot.body)).toEqual({ forgotten: true, keys: 1 });
    expect(JSON.parse((await call('POST', '/admin/borrowers/forget', demo.operatorKey.apiKey, { email: APPLICANT.email })).body)).toEqual({ forgotten: false, keys: 0 });

    const after = await call('GET', `/scorings/${scoringId}`, demo.userKey.apiKey);
    expect(after.statusCode).toBe(200);
    const view = JSON.parse(after.body) as { status: string; request: { applicant: unknown; loanAmount: number } };
    expect(view.request.applicant).toEqual({ name: REDACTED_TEXT, email: REDACTED_EMAIL, dateOfBirth: REDACTED_DATE });
    expect(view.status).toBe('completed');
    expect(view.request.loanAmount).toBe(EXAMPLE_SCORING_REQUEST.loanAmount);
    const other = await call('GET', `/scorings/${otherId}`, demo.userKey.apiKey);
    expect((JSON.parse(other.body) as { request: { applicant: unknown } }).request.applicant).toEqual(OTHER);

    // Every event of the stream still decodes; the requested one says what was redacted.
    let redactedEvents = 0;
    for await (const recorded of running.deps.store.readStream(scoringStreamId(scoringId))) {
      expect(decodeEvent(recorded).ok).toBe(true);
      if (redactedPathsOf(recorded).length > 0) redactedEvents += 1;
    }
    expect(redactedEvents).toBe(1);

    // A read model rebuilt now holds no personal data of the forgotten borrower.
    const rebuilt = await rebuildProjection(running.deps, scoringStatusProjection);
    expect(rebuilt.skippedCorrupt).toBe(0);
    expect(getScoringRequest(running.deps.readDb, demo.tenantId, scoringId)?.request.applicant).toEqual({ name: REDACTED_TEXT, email: REDACTED_EMAIL, dateOfBirth: REDACTED_DATE });
    expect(getScoringRequest(running.deps.readDb, demo.tenantId, otherId)?.request.applicant).toEqual(OTHER);

    // The same person may come back later: a new key, readable again.
    const again = await call('POST', '/scorings', demo.userKey.apiKey, scoring(APPLICANT));
    expect(again.statusCode).toBe(202);
    const againId = (JSON.parse(again.body) as { scoringId: string }).scoringId;
    const readAgain = await call('GET', `/scorings/${againId}`, demo.userKey.apiKey);
    expect((JSON.parse(readAgain.body) as { request: { applicant: unknown } }).request.applicant).toEqual(APPLICANT);
  });
});
