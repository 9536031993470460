/**
 * Shared set-up of the notification / payment saga tests: real engine deps on the in-memory
 * embedded store, a subscription runner with tiny retry delays, and readers for the streams.
 */
import { randomUUID } from 'node:crypto';
import type { DecodedEvent } from '../../../src/contracts/events/codec.js';
import { decodeEvent, toEventData } from '../../../src/contracts/events/codec.js';
import type { EventDataOf, EventType } from '../../../src/contracts/events/catalog.js';
import type { EventEnvelope } from '../../../src/contracts/events/metadata.js';
import type { EngineDeps } from '../../../src/engine/engine-deps.js';
import type { CommandContext } from '../../../src/engine/request-context.js';
import { createSubscriptionRunner, type EventHandler, type HandlerContext, type SubscriptionRunner, type SubscriptionRunnerOptions } from '../../../src/engine/subscription-runner.js';
import { StreamNotFoundError } from '../../../src/eventstore/errors.js';
import type { PersistentSubscriptionSettings, RecordedEvent } from '../../../src/eventstore/port.js';
import { createEngineDeps } from '../../../src/wiring.js';
import type { OutboxEmailTransport } from '../../../src/integrations/email/outbox.js';
import type { EmailMessage, EmailTransport, SentEmail } from '../../../src/integrations/email/transport.js';

export const SETTINGS: Partial<PersistentSubscriptionSettings> = { startFrom: 'start', messageTimeout: 10_000, checkPointAfter: 100, checkPointLowerBound: 1 };
export const TINY_RETRIES = { maxRetries: 3, retryDelay: 2, maxRetryDelay: 10 } as const;
export const OFFICER = 'auth0|officer-1';

export interface Harness {
  readonly deps: EngineDeps;
  runner?: SubscriptionRunner;
  close(): Promise<void>;
}

export async function harness(): Promise<Harness> {
  const deps = await createEngineDeps({ dataDir: ':memory:' });
  const h: Harness = {
    deps,
    async close() {
      await h.runner?.stop({ timeout: 2_000 });
      deps.breakers.shutdown();
      await deps.store.close();
      deps.readDb.close();
    },
  };
  return h;
}

export async function startRunner(h: Harness, handlers: readonly EventHandler[], options: Partial<SubscriptionRunnerOptions> = {}): Promise<SubscriptionRunner> {
  const runner = createSubscriptionRunner({ store: h.deps.store, handlers, retryPolicy: TINY_RETRIES, pausePolicy: { retryDelay: 10, maxRetryDelay: 50 }, statsInterval: 0, ...options });
  h.runner = runner;
  await runner.start();
  return runner;
}

/** Waits for the runner to be idle until `predicate` holds (handlers append events that trigger others). */
export async function until(runner: SubscriptionRunner, predicate: () => boolean | Promise<boolean>, timeoutMs = 25_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await runner.waitForIdle(undefined, { timeout: Math.max(1_000, deadline - Date.now()) });
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function readRecorded(h: Harness, stream: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  try {
    for await (const event of h.deps.store.readStream(stream)) events.push(event);
  } catch (error) {
    if (!(error instanceof StreamNotFoundError)) throw error;
  }
  return events;
}

export async function readDecoded(h: Harness, stream: string): Promise<DecodedEvent[]> {
  return (await readRecorded(h, stream)).map((recorded) => {
    const decoded = decodeEvent(recorded);
    if (!decoded.ok) throw new Error(`undecodable ${recorded.type}`);
    return decoded.event;
  });
}

export function ofType<K extends EventType>(events: readonly DecodedEvent[], type: K): Extract<DecodedEvent, { type: K }>[] {
  return events.filter((event): event is Extract<DecodedEvent, { type: K }> => event.type === type);
}

export function commandContext(tenantId: string, userId: string | undefined = OFFICER): CommandContext {
  const correlationId = randomUUID();
  return { tenantId, correlationId, causationId: correlationId, ...(userId !== undefined ? { userId } : {}) };
}

export function envelope(tenantId: string, userId?: string): EventEnvelope {
  const correlationId = randomUUID();
  return { correlationId, causationId: correlationId, tenantId, occurredAt: new Date().toISOString(), ...(userId !== undefined ? { userId } : {}) };
}

/** Appends one domain event (validated by the codec) and returns it as recorded. */
export async function appendEvent<K extends EventType>(h: Harness, stream: string, type: K, data: EventDataOf<K>, env: EventEnvelope): Promise<RecordedEvent> {
  const id = randomUUID();
  await h.deps.store.append(stream, [toEventData(type, data, env, id)]);
  const recorded = (await readRecorded(h, stream)).find((event) => event.id === id);
  if (!recorded) throw new Error('appended event not found');
  return recorded;
}

export function handlerContext(group: string): HandlerContext {
  return { group, retryCount: 0, attempt: 0, signal: new AbortController().signal };
}

/** The outbox, counting the sends that reach it. */
export class CountingTransport implements EmailTransport {
  readonly provider = 'smtp' as const;
  sends = 0;
  constructor(readonly outbox: OutboxEmailTransport) {}
  send(message: EmailMessage): Promise<SentEmail> {
    this.sends += 1;
    return this.outbox.send(message);
  }
}
