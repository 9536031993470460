import { afterAll, describe, it } from 'vitest';
import { appendContract } from './contract/append.contract.js';
import { catchUpContract } from './contract/catchup.contract.js';
import { deleteContract } from './contract/delete.contract.js';
import { invalidInputContract } from './contract/invalid-input.contract.js';
import type { StoreLane } from './contract/lane.js';
import { persistentContract } from './contract/persistent.contract.js';
import { readContract } from './contract/read.contract.js';
import { detectEventStoreDb, eventStoreDbLane } from './eventstoredb-lane.js';

/**
 * The contract suite against a real EventStoreDB: EVENTSTORE_CONNECTION_STRING, else a
 * testcontainers-managed eventstore/eventstore:24.10. With neither, every test is reported as
 * skipped (never passed) and one line says why.
 */
const availability = await detectEventStoreDb();

let lane: StoreLane | undefined;
const currentLane = (): StoreLane => {
  if (lane === undefined) throw new Error('EventStoreDB lane is not available');
  return lane;
};

if (availability.available) {
  lane = eventStoreDbLane(availability);
  afterAll(async () => {
    await lane?.dispose();
  }, 60_000);
} else {
  console.log(`[contract] EventStoreDB lane skipped: ${availability.reason.replace(/\s+/g, ' ')}`);
}

const suite = availability.available ? describe : describe.skip;

suite('EventStoreDB store contract', () => {
  appendContract(currentLane);
  readContract(currentLane);
  deleteContract(currentLane);
  catchUpContract(currentLane);
  invalidInputContract(currentLane);
  persistentContract(currentLane);
});

if (!availability.available) {
  // Visible in the report even if a contract module registers nothing.
  it.skip('EventStoreDB lane (needs EVENTSTORE_CONNECTION_STRING or a Docker engine)', () => undefined);
}
