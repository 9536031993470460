/**
 * Notifier.append: all the notification events of one handled event go to notification-{tenantId}
 * in ONE append (expectedRevision 'any'), idempotent on redelivery because every id is
 * deterministic; a partial overlap (left by an older version that appended one by one and
 * crashed in between) falls back to one append per event; the ledger is marked after the append.
 * The deliveries are explicit handle() calls (no runner); the store's append is wrapped to record
 * each call to the notification stream and, where a test asks, to "crash" around it.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { scoringStreamId } from '../../../src/aggregates/streams.js';
import { EXAMPLE_SCORING_REQUEST } from '../../../src/contracts/scoring-request.js';
import { wasHandled } from '../../../src/engine/idempotent-projection.js';
import type { EventHandler } from '../../../src/engine/subscription-runner.js';
import type { AppendOptions, EventData, RecordedEvent } from '../../../src/eventstore/port.js';
import { OutboxEmailTransport } from '../../../src/integrations/email/outbox.js';
import { SimulatedPaymentGateway } from '../../../src/integrations/payments/simulated.js';
import { createNotificationProcessManagers } from '../../../src/process-managers/index-notifications.js';
import { EVENT_LEDGER, notificationIdFor, notificationStreamId } from '../../../src/process-managers/notifications.js';
import { appendEvent, envelope, handlerContext, harness, OFFICER, readRecorded, type Harness , CountingTransport } from './support.js';


interface AppendCall {
  readonly ids: readonly string[];
  readonly expectedRevision: AppendOptions['expectedRevision'];
  outcome?: string;
}

let h: Harness;
let transport: CountingTransport;
let notifications: EventHandler;
/** Appends to notification streams, in order, with how they ended ('ok' or the error's name). */
let appends: AppendCall[];
/** Replaces the next append to a notification stream (then back to the store's own). */
let nextNotificationAppend: ((original: (events: readonly EventData[]) => Promise<unknown>, events: readonly EventData[]) => Promise<unknown>) | undefined;

beforeEach(async () => {
  h = await harness();
  transport = new CountingTransport(new OutboxEmailTransport(h.deps.readDb));
  const pm = createNotificationProcessManagers(h.deps, { email: transport, gateway: new SimulatedPaymentGateway() });
  notifications = pm.handlers[1] as EventHandler;
  expect(notifications.name).toBe('notifications');
  appends = [];
  nextNotificationAppend = undefined;
  const store = h.deps.store;
  const append = store.append.bind(store);
  vi.spyOn(store, 'append').mockImplementation(async (stream, events, options) => {
    if (!stream.startsWith('notification-')) return append(stream, events, options);
    const call: AppendCall = { ids: events.map((event) => event.id), expectedRevision: options?.expectedRevision };
    appends.push(call);
    const replace = nextNotificationAppend;
    nextNotificationAppend = undefined;
    try {
      const result = await (replace ? replace((some) => append(stream, some, options), events) : append(stream, events, options));
      call.outcome = 'ok';
      return result as Awaited<ReturnType<typeof append>>;
    } catch (error) {
      call.outcome = (error as Error).name;
      throw error;
    }
  });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await h.close();
});

/** An ai.scoring.completed, as the scoring worker appends it (the request by the loan officer first). */
async function completedScoring(tenantId: string): Promise<RecordedEvent> {
  const scoringId = randomUUID();
  await appendEvent(h, scoringStreamId(scoringId), 'ai.scoring.requested', { scoringId, tenantId, attempt: 1, request: EXAMPLE_SCORING_REQUEST }, envelope(tenantId, OFFICER));
  return appendEvent(
    h,
    scoringStreamId(scoringId),
    'ai.scoring.completed',
    {
      scoringId,
      tenantId,
      attempt: 1,
      matchScore: 81,
      riskBand: 'low',
      eligibleProducts: [],
      reasons: [{ code: 'DTI_BELOW_36', detail: 'Debt-to-income ratio is 8.2%' }],
      costCents: 42,
      modelVersion: 'mmp-score-2025.03.1',
      explanation: 'Score 81/100, low risk.',
    },
    envelope(tenantId),
  );
}

function deliver(event: RecordedEvent, retryCount = 0): Promise<void> {
  return notifications.handle(event, { ...handlerContext('notifications'), retryCount });
}

function idsOf(event: RecordedEvent): { readonly email: string; readonly user: string } {
  return { email: notificationIdFor(event.id, 'email'), user: notificationIdFor(event.id, 'user') };
}

function marked(id: string): boolean {
  return wasHandled(h.deps.readDb, EVENT_LEDGER, id);
}

describe('Notifier.append: one append per handled event', () => {
  it("a completed scoring's notification.email.sent and notification.user.sent are written by ONE append, at consecutive revisions", async () => {
    const tenantId = 'one-append-lending';
    const completed = await completedScoring(tenantId);
    const { email, user } = idsOf(completed);

    await deliver(completed);

    expect(appends).toEqual([{ ids: [email, user], expectedRevision: 'any', outcome: 'ok' }]);
    const stream = await readRecorded(h, notificationStreamId(tenantId));
    expect(stream.map((e) => [e.id, e.type.replace(/\.v\d+$/, ''), e.revision])).toEqual([
      [email, 'notification.email.sent', 0n],
      [user, 'notification.user.sent', 1n],
    ]);
    const [first, second] = stream as [RecordedEvent, RecordedEvent];
    expect(second.created.getTime()).toBe(first.created.getTime());
    // Nothing else in $all between them.
    const around: string[] = [];
    for await (const event of h.deps.store.readAll({ fromPosition: first.position, maxCount: 2 })) around.push(event.id);
    expect(around).toEqual([email, user]);
    expect(marked(email) && marked(user)).toBe(true);
    expect(transport.sends).toBe(1);
  });

  it('a redelivery after the append but before the ledger mark writes nothing twice; once marked, nothing is appended at all', async () => {
    const tenantId = 'crash-after-append-lending';
    const completed = await completedScoring(tenantId);
    const { email, user } = idsOf(completed);

    // First delivery: the append is written, then the process "dies" before the ledger mark.
    nextNotificationAppend = async (original, events) => {
      await original(events);
      throw new Error('crashed after the append');
    };
    await expect(deliver(completed)).rejects.toThrow('crashed after the append');
    expect(marked(email) || marked(user)).toBe(false);
    expect((await readRecorded(h, notificationStreamId(tenantId))).map((e) => e.id)).toEqual([email, user]);

    // Something else notified the tenant meanwhile: the ids are no longer at the stream's end.
    const other = await completedScoring(tenantId);
    await deliver(other);
    expect(await readRecorded(h, notificationStreamId(tenantId))).toHaveLength(4);

    // Redelivery: the same ids again, in one append the store acknowledges without writing; now marked.
    await deliver(completed, 1);
    expect(appends.map((call) => [call.ids, call.outcome])).toEqual([
      [[email, user], 'Error'],
      [Object.values(idsOf(other)), 'ok'],
      [[email, user], 'ok'],
    ]);
    expect(marked(email) && marked(user)).toBe(true);

    // And once more: the ledger has both, no append is even tried.
    await deliver(completed, 2);
    expect(appends).toHaveLength(3);

    const stream = await readRecorded(h, notificationStreamId(tenantId));
    expect(stream.map((e) => e.id)).toEqual([email, user, ...Object.values(idsOf(other))]);
    expect(transport.sends).toBe(2); // one e-mail per scoring: the e-mail ledger held across the crash
    expect(transport.outbox.count()).toBe(2);
  });

  it('a partial overlap (an older version appended the e-mail event on its own, then crashed) falls back to one by one: exactly one of each', async () => {
    const tenantId = 'partial-overlap-lending';
    const completed = await completedScoring(tenantId);
    const { email, user } = idsOf(completed);

    // As the older version did: notification.email.sent appended alone (its deterministic id), then a crash before the next append.
    nextNotificationAppend = async (original, events) => {
      expect(events.map((event) => event.id)).toEqual([email, user]);
      await original(events.slice(0, 1));
      throw new Error('crashed between the appends');
    };
    await expect(deliver(completed)).rejects.toThrow('crashed between the appends');
    expect((await readRecorded(h, notificationStreamId(tenantId))).map((e) => e.id)).toEqual([email]);
    expect(marked(email)).toBe(false);

    await deliver(completed, 1);

    // The batch was refused (partial overlap), then each went on its own: the e-mail one acknowledged, the user one written.
    expect(appends.slice(1)).toEqual([
      { ids: [email, user], expectedRevision: 'any', outcome: 'WrongExpectedVersionError' },
      { ids: [email], expectedRevision: 'any', outcome: 'ok' },
      { ids: [user], expectedRevision: 'any', outcome: 'ok' },
    ]);
    const stream = await readRecorded(h, notificationStreamId(tenantId));
    expect(stream.map((e) => [e.id, e.type.replace(/\.v\d+$/, '')])).toEqual([
      [email, 'notification.email.sent'],
      [user, 'notification.user.sent'],
    ]);
    expect(marked(email) && marked(user)).toBe(true);
    expect(transport.sends).toBe(1);

    // A further redelivery changes nothing.
    await deliver(completed, 2);
    expect(appends).toHaveLength(4);
    expect(await readRecorded(h, notificationStreamId(tenantId))).toHaveLength(2);
  });
});
