import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedEventStore, type EmbeddedEventStoreOptions } from '../../src/eventstore/embedded/sqlite-event-store.js';
import type { EventStore } from '../../src/eventstore/port.js';
import type { StoreLane } from './contract/lane.js';

export interface EmbeddedLane extends StoreLane {
  /** The SQLite file every open() of this lane uses. */
  readonly path: string;
}

/** The embedded store on a fresh temp file; reopen = close + open the same file (a process restart). */
export function createEmbeddedLane(options: Omit<EmbeddedEventStoreOptions, 'path'> = {}): EmbeddedLane {
  const dir = mkdtempSync(join(tmpdir(), 'embedded-es-'));
  const path = join(dir, 'data', 'events.db');
  const opened = new Set<EventStore>();
  const open = async (): Promise<EventStore> => {
    const store = await EmbeddedEventStore.open({ ...options, path });
    if (store.diagnostics().commitThread !== (options.commitThread === true)) throw new Error('the lane did not get the commit mode it asked for');
    opened.add(store);
    return store;
  };
  return {
    name: 'embedded',
    path,
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
