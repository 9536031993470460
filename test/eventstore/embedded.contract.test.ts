import { afterAll, beforeAll, describe } from 'vitest';
import { appendContract } from './contract/append.contract.js';
import { catchUpContract } from './contract/catchup.contract.js';
import { deleteContract } from './contract/delete.contract.js';
import { invalidInputContract } from './contract/invalid-input.contract.js';
import type { StoreLane } from './contract/lane.js';
import { readContract } from './contract/read.contract.js';
import { createEmbeddedLane } from './embedded-lane.js';
import { persistentContract } from './contract/persistent.contract.js';

describe('embedded event store contract', () => {
  let lane: StoreLane | undefined;
  const current = (): StoreLane => {
    if (lane === undefined) throw new Error('lane not ready');
    return lane;
  };
  beforeAll(() => {
    lane = createEmbeddedLane();
  });
  afterAll(async () => {
    await lane?.dispose();
  });

  appendContract(current);
  readContract(current);
  deleteContract(current);
  catchUpContract(current);
  invalidInputContract(current);
  persistentContract(current);
});

describe('embedded event store contract, commits on a worker thread (commitThread, as the engine runs it)', () => {
  let lane: StoreLane | undefined;
  const current = (): StoreLane => {
    if (lane === undefined) throw new Error('lane not ready');
    return lane;
  };
  beforeAll(() => {
    lane = createEmbeddedLane({ commitThread: true });
  });
  afterAll(async () => {
    await lane?.dispose();
  });

  appendContract(current);
  readContract(current);
  deleteContract(current);
  catchUpContract(current);
  invalidInputContract(current);
  persistentContract(current);
});
