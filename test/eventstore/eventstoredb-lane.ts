import type { StartedTestContainer } from 'testcontainers';
import { EventStoreDbStore } from '../../src/eventstore/eventstoredb/index.js';
import type { EventStore } from '../../src/eventstore/port.js';
import type { StoreLane } from './contract/lane.js';

/**
 * The EventStoreDB lane: a server at EVENTSTORE_CONNECTION_STRING, else a throw-away
 * eventstore/eventstore:24.10 container via testcontainers (only if a Docker engine answers).
 */

export const EVENTSTORE_IMAGE = 'eventstore/eventstore:24.10';
export const EVENTSTORE_ENVIRONMENT: Readonly<Record<string, string>> = {
  EVENTSTORE_CLUSTER_SIZE: '1',
  EVENTSTORE_RUN_PROJECTIONS: 'All',
  EVENTSTORE_START_STANDARD_PROJECTIONS: 'true',
  EVENTSTORE_INSECURE: 'true',
  EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP: 'true',
};
const PORT = 2113;
const DOCKER_PROBE_TIMEOUT_MS = 5_000;
const STARTUP_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 30_000;

export type EventStoreDbAvailability =
  | { readonly available: true; readonly via: 'connection-string'; readonly connectionString: string }
  | { readonly available: true; readonly via: 'docker' }
  | { readonly available: false; readonly reason: string };

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Decide, quickly, whether this lane can run here. */
export async function detectEventStoreDb(env: NodeJS.ProcessEnv = process.env): Promise<EventStoreDbAvailability> {
  const connectionString = env['EVENTSTORE_CONNECTION_STRING'];
  if (connectionString !== undefined && connectionString.trim() !== '') {
    return { available: true, via: 'connection-string', connectionString: connectionString.trim() };
  }
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await withTimeout(getContainerRuntimeClient(), DOCKER_PROBE_TIMEOUT_MS, 'Docker');
    return { available: true, via: 'docker' };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { available: false, reason: `EVENTSTORE_CONNECTION_STRING is not set and no Docker engine is reachable (${detail})` };
  }
}

async function startContainer(): Promise<{ container: StartedTestContainer; connectionString: string }> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(EVENTSTORE_IMAGE)
    .withEnvironment({ ...EVENTSTORE_ENVIRONMENT })
    .withExposedPorts(PORT)
    .withWaitStrategy(Wait.forHttp('/health/live', PORT).forStatusCodeMatching((status) => status >= 200 && status < 300))
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start();
  return { container, connectionString: `esdb://${container.getHost()}:${container.getMappedPort(PORT)}?tls=false` };
}

/** /health/live answers before gRPC reads do (leader election): poll a cheap read. */
async function waitUntilReady(store: EventStore): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const health = await store.health();
    if (health.ok) return;
    if (Date.now() > deadline) throw new Error(`EventStoreDB did not become ready within ${READY_TIMEOUT_MS} ms: ${health.detail ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export function eventStoreDbLane(availability: Extract<EventStoreDbAvailability, { available: true }>): StoreLane {
  let container: StartedTestContainer | undefined;
  let connectionString: Promise<string> | undefined;
  let ready = false;
  const open = new Set<EventStore>();

  const resolveConnectionString = (): Promise<string> => {
    connectionString ??=
      availability.via === 'connection-string'
        ? Promise.resolve(availability.connectionString)
        : startContainer().then((started) => {
            container = started.container;
            return started.connectionString;
          });
    return connectionString;
  };

  const lane: StoreLane = {
    name: 'eventstoredb',
    async open() {
      const store = EventStoreDbStore.connect(await resolveConnectionString());
      open.add(store);
      if (!ready) {
        await waitUntilReady(store);
        ready = true;
      }
      return store;
    },
    async reopen(store) {
      await store.close();
      open.delete(store);
      return lane.open();
    },
    async dispose() {
      await Promise.allSettled([...open].map((store) => store.close()));
      open.clear();
      if (container !== undefined) await container.stop();
      container = undefined;
      connectionString = undefined;
      ready = false;
    },
  };
  return lane;
}
