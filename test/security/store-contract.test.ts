/**
 * The EncryptingEventStore keeps the EventStore contract: the whole embedded-store contract suite
 * runs against the decorator (over the embedded store, with a file key store).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import type { EventStore } from '../../src/eventstore/port.js';
import { EncryptingEventStore, KeyStore } from '../../src/security/index.js';
import { appendContract } from '../eventstore/contract/append.contract.js';
import { catchUpContract } from '../eventstore/contract/catchup.contract.js';
import { deleteContract } from '../eventstore/contract/delete.contract.js';
import { invalidInputContract } from '../eventstore/contract/invalid-input.contract.js';
import type { StoreLane } from '../eventstore/contract/lane.js';
import { persistentContract } from '../eventstore/contract/persistent.contract.js';
import { readContract } from '../eventstore/contract/read.contract.js';

function createEncryptingLane(): StoreLane {
  const dir = mkdtempSync(join(tmpdir(), 'encrypting-es-'));
  const masterKey = randomBytes(32);
  const opened = new Set<EventStore>();
  const open = async (): Promise<EventStore> => {
    const inner = await EmbeddedEventStore.open({ path: join(dir, 'events.db') });
    const store = new EncryptingEventStore(inner, { keys: KeyStore.open({ path: join(dir, 'keys.db'), masterKey }) });
    opened.add(store);
    return store;
  };
  return {
    name: 'encrypting(embedded)',
    open,
    async reopen(store) {
      await store.close();
      opened.delete(store);
      return open();
    },
    async dispose() {
      await Promise.all([...opened].map((store) => store.close()));
      opened.clear();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('EncryptingEventStore keeps the event store contract', () => {
  let lane: StoreLane | undefined;
  const current = (): StoreLane => {
    if (lane === undefined) throw new Error('lane not ready');
    return lane;
  };
  beforeAll(() => {
    lane = createEncryptingLane();
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
