/**
 * The CLI's offline commands, run as a user runs them (`tsx src/cli.ts`, DATA_DIR set) against a
 * stopped engine's data dir; the commands that need the server refuse clearly without one.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXAMPLE_SCORING_REQUEST } from '../../src/contracts/scoring-request.js';
import { openOfflineEngineDeps } from '../../src/wiring.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let dataDir: string;

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot, 'src', 'cli.ts'), ...args], {
    cwd: projectRoot,
    env: { ...process.env, DATA_DIR: dataDir, MMP_SERVER_URL: '', MMP_ADMIN_KEY: '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mmp-cli-'));
  const { deps, close } = await openOfflineEngineDeps({ dataDir });
  try {
    const tenant = deps.tenants.createTenant('CLI Lending', 'cli-lending');
    const context = { tenantId: tenant.tenantId, correlationId: randomUUID(), causationId: randomUUID() };
    await deps.billing.create(context, 'starter');
    for (let i = 0; i < 3; i++) await deps.scoring.submit({ ...context, correlationId: randomUUID() }, EXAMPLE_SCORING_REQUEST);
  } finally {
    await close();
  }
}, 60_000);

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

it('lists the projections that can be rebuilt', () => {
  const run = cli('projections', 'list');
  expect(run.status).toBe(0);
  expect(run.stdout.trim().split('\n')).toEqual(['scoring_status', 'usage_invoices', 'analytics']);
});

it('rebuilds a projection offline from the stored events, a new generation each time', () => {
  const first = cli('projections', 'rebuild', 'scoring_status');
  expect(first.status, first.stderr).toBe(0);
  const done = /scoring_status rebuilt: (\d+) events in \d+ ms \(\d+ events\/s\), generation (\d+)/.exec(first.stdout);
  expect(done).not.toBeNull();
  expect(Number(done?.[1])).toBe(3); // the three ai.scoring.requested
  const again = /generation (\d+)/.exec(cli('projections', 'rebuild', 'scoring_status').stdout);
  expect(Number(again?.[1])).toBe(Number(done?.[2]) + 1);
}, 120_000);

it('refuses an unknown projection, and the server-only commands without a server, with exit code 2', () => {
  const unknown = cli('projections', 'rebuild', 'nope');
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toContain("Unknown projection 'nope'; known: scoring_status, usage_invoices, analytics");
  const parked = cli('parked', 'list', 'ai-scoring');
  expect(parked.status).toBe(2);
  expect(parked.stderr).toContain('parked commands go through the running server');
  const usage = cli('nothing');
  expect(usage.status).toBe(2);
  expect(usage.stderr).toContain('Usage: npm run cli');
}, 120_000);

it('forgets a borrower offline: the key is destroyed once', () => {
  const first = cli('borrowers', 'forget', EXAMPLE_SCORING_REQUEST.applicant.email);
  expect(first.status, first.stderr).toBe(0);
  expect(JSON.parse(first.stdout.split('\n')[0] ?? '')).toEqual({ forgotten: true, keys: 1 });
  const second = cli('borrowers', 'forget', EXAMPLE_SCORING_REQUEST.applicant.email);
  expect(JSON.parse(second.stdout.split('\n')[0] ?? '')).toEqual({ forgotten: false, keys: 0 });
}, 120_000);
