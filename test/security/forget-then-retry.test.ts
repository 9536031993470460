/**
 * A forgotten borrower stays forgotten through a retry: RetryScoring re-emits the request of the
 * failed attempt, and that request must come from the store (now redacted), never from a copy of
 * the plaintext the process kept in memory since the submission.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scoringStreamId } from '../../src/aggregates/streams.js';
import { decodeEvent } from '../../src/contracts/events/codec.js';
import { EXAMPLE_SCORING_REQUEST } from '../../src/contracts/scoring-request.js';
import type { EngineDeps } from '../../src/engine/engine-deps.js';
import type { CommandContext } from '../../src/engine/request-context.js';
import { REDACTED_EMAIL, REDACTED_TEXT } from '../../src/security/index.js';
import { forgetBorrowerIn } from '../../src/security/personal-data.js';
import { openOfflineEngineDeps, type OfflineEngineDeps } from '../../src/wiring.js';

const APPLICANT = { name: 'Rosalind Quibbleworth', email: 'rosalind.q.borrower@example.org', dateOfBirth: '1982-02-14' };

describe('retry after forget', () => {
  let dir: string;
  let engine: OfflineEngineDeps;
  let deps: EngineDeps;
  const tenantId = 'acme-lending';
  const context = (): CommandContext => {
    const id = randomUUID();
    return { tenantId, correlationId: id, causationId: id };
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mmp-forget-retry-'));
    engine = await openOfflineEngineDeps({ dataDir: dir });
    deps = engine.deps;
    await deps.billing.create(context(), 'pro');
  });
  afterEach(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-emits the redacted request, not the plaintext submitted before the forget', async () => {
    const { scoringId } = await deps.scoring.submit(context(), { ...EXAMPLE_SCORING_REQUEST, applicant: APPLICANT });
    await deps.scoring.execute(context(), { type: 'FailScoring', scoringId, attempt: 1, errorCode: 'model_timeout', reason: 'timed out', retryable: true, costCents: 0 });
    expect(forgetBorrowerIn(deps.store, APPLICANT.email).keys).toBeGreaterThan(0);

    expect(await deps.scoring.retry(context(), scoringId)).toMatchObject({ attempt: 2 });

    const requested = [];
    for await (const recorded of deps.store.readStream(scoringStreamId(scoringId))) {
      const decoded = decodeEvent(recorded);
      if (!decoded.ok) throw new Error(`undecodable ${recorded.type}`);
      if (decoded.event.type === 'ai.scoring.requested') requested.push(decoded.event.data.request.applicant);
    }
    expect(requested).toHaveLength(2);
    for (const applicant of requested) expect(applicant).toMatchObject({ name: REDACTED_TEXT, email: REDACTED_EMAIL });
  });
});
