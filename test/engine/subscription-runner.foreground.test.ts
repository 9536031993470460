/**
 * The runner's `foregroundGroups` option: groups not listed yield to the event loop before each
 * message, so a foreground group woken by the same commit handles its message first even when
 * it wakes second; background groups still handle every message, exactly once.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { EventHandler, SubscriptionRunner } from '../../src/engine/subscription-runner.js';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import { startTestRunner } from './runner-support.js';

const IDLE = { timeout: 20_000 };

let store: EmbeddedEventStore;
const runners: SubscriptionRunner[] = [];

beforeEach(async () => {
  store = await EmbeddedEventStore.open({ path: ':memory:' });
});

afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop({ timeout: 2_000 })));
  await store.close();
});

/** A handler that records `<name>:<n>` when it starts handling event n. */
function recorder(name: string, starts: string[]): EventHandler {
  return {
    name,
    source: { kind: 'all', filter: { on: 'eventType', prefixes: ['test.'] } },
    settings: { startFrom: 'start' },
    async handle(event) {
      starts.push(`${name}:${String((event.data as { n: number }).n)}`);
    },
  };
}

async function appendOne(n: number): Promise<void> {
  await store.append(`test-${randomUUID()}`, [{ id: randomUUID(), type: 'test.happened', data: { n } }]);
}

/** Appends `count` events one commit at a time, each after the runner went idle (live delivery, both groups woken by the same commit). */
async function run(foregroundGroups: readonly string[] | undefined, count: number): Promise<string[]> {
  const starts: string[] = [];
  const runner = await startTestRunner(runners, {
    store,
    // 'background' is listed (and so woken) first.
    handlers: [recorder('background', starts), recorder('foreground', starts)],
    ...(foregroundGroups ? { foregroundGroups } : {}),
  });
  await runner.waitForIdle(undefined, IDLE);
  for (let n = 1; n <= count; n++) {
    await appendOne(n);
    await runner.waitForIdle(undefined, IDLE);
  }
  return starts;
}

it('without foreground groups, groups woken by one commit handle it in the order they wake', async () => {
  const starts = await run(undefined, 3);
  expect(starts).toEqual(['background:1', 'foreground:1', 'background:2', 'foreground:2', 'background:3', 'foreground:3']);
});

it('a foreground group handles first though it wakes second; the background group still handles every message once', async () => {
  const starts = await run(['foreground'], 3);
  expect(starts).toEqual(['foreground:1', 'background:1', 'foreground:2', 'background:2', 'foreground:3', 'background:3']);
  const status = runners[0]?.status() ?? [];
  expect(status.map((group) => [group.group, group.inFlight, group.paused])).toEqual([
    ['background', 0, false],
    ['foreground', 0, false],
  ]);
});
