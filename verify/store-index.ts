/**
 * What the event log says, read straight from the embedded store file (read-only, as a second
 * process may): events by correlation id, each scoring's lifecycle, usage and payments.
 */
import { join } from 'node:path';
import { EmbeddedEventStore } from '../src/eventstore/embedded/sqlite-event-store.js';
import { openEncryptedEventStore } from '../src/security/open.js';
import type { EventStore, RecordedEvent } from '../src/eventstore/port.js';
import { isRecord, numberField, stringField, unversioned } from './common.js';

export interface ScoringLife {
  requested: number;
  completed: number;
  failed: number;
  /** The last lifecycle event: requested | completed | failed. */
  last: string;
  /** Completions per attempt (more than one for an attempt is a duplicate). */
  readonly completedAttempts: Map<number, number>;
  lastFailureRetryable: boolean;
}

export interface StoreIndex {
  events: number;
  head: bigint;
  readonly byCorrelation: Map<string, number>;
  readonly byType: Map<string, number>;
  readonly scorings: Map<string, ScoringLife>;
  /** billing.usage.recorded per scoring id. */
  readonly usage: Map<string, number>;
  /** billing.payment.succeeded per payment id: count and amount, period. */
  readonly payments: Map<string, { count: number; amountCents: number; period: string; subscriptionId: string }>;
  /** ids of every event. */
  readonly ids: Set<string>;
  /** Scorings with a billing.usage.recorded, by subscription and period (`subscriptionId/period`). */
  readonly usageByInvoice: Map<string, Set<string>>;
}

export function emptyIndex(): StoreIndex {
  return { events: 0, head: -1n, byCorrelation: new Map(), byType: new Map(), scorings: new Map(), usage: new Map(), payments: new Map(), ids: new Set(), usageByInvoice: new Map() };
}

function scoringOf(index: StoreIndex, scoringId: string): ScoringLife {
  let life = index.scorings.get(scoringId);
  if (!life) {
    life = { requested: 0, completed: 0, failed: 0, last: 'none', completedAttempts: new Map(), lastFailureRetryable: false };
    index.scorings.set(scoringId, life);
  }
  return life;
}

export function indexEvent(index: StoreIndex, event: RecordedEvent): void {
  index.events += 1;
  index.head = event.position.commit;
  index.ids.add(event.id);
  const type = unversioned(event.type);
  index.byType.set(type, (index.byType.get(type) ?? 0) + 1);
  const correlationId = stringField(event.metadata, 'correlationId');
  if (correlationId !== undefined) index.byCorrelation.set(correlationId, (index.byCorrelation.get(correlationId) ?? 0) + 1);
  const data = event.data;
  if (!isRecord(data)) return;
  const scoringId = stringField(data, 'scoringId');
  switch (type) {
    case 'ai.scoring.requested':
      if (scoringId && event.streamId.startsWith('scoring-')) {
        const life = scoringOf(index, scoringId);
        life.requested += 1;
        life.last = 'requested';
      }
      break;
    case 'ai.scoring.completed':
      if (scoringId && event.streamId.startsWith('scoring-')) {
        const life = scoringOf(index, scoringId);
        life.completed += 1;
        life.last = 'completed';
        const attempt = numberField(data, 'attempt') ?? 0;
        life.completedAttempts.set(attempt, (life.completedAttempts.get(attempt) ?? 0) + 1);
      }
      break;
    case 'ai.scoring.failed':
      if (scoringId && event.streamId.startsWith('scoring-')) {
        const life = scoringOf(index, scoringId);
        life.failed += 1;
        life.last = 'failed';
        life.lastFailureRetryable = data['retryable'] === true;
      }
      break;
    case 'billing.usage.recorded':
      if (scoringId) {
        index.usage.set(scoringId, (index.usage.get(scoringId) ?? 0) + 1);
        const key = `${stringField(data, 'subscriptionId') ?? ''}/${stringField(data, 'period') ?? ''}`;
        let scorings = index.usageByInvoice.get(key);
        if (!scorings) index.usageByInvoice.set(key, (scorings = new Set()));
        scorings.add(scoringId);
      }
      break;
    case 'billing.payment.succeeded': {
      const paymentId = stringField(data, 'paymentId');
      if (paymentId) {
        const seen = index.payments.get(paymentId);
        if (seen) seen.count += 1;
        else
          index.payments.set(paymentId, {
            count: 1,
            amountCents: numberField(data, 'amountCents') ?? 0,
            period: stringField(data, 'billingPeriod') ?? '',
            subscriptionId: stringField(data, 'subscriptionId') ?? '',
          });
      }
      break;
    }
    default:
      break;
  }
}

/** Indexes every event of `store` (all of $all, system events included). */
export async function indexStore(store: EventStore): Promise<StoreIndex> {
  const index = emptyIndex();
  for await (const event of store.readAll()) indexEvent(index, event);
  return index;
}

export function storePath(dataDir: string): string {
  return join(dataDir, 'events.db');
}

/**
 * Opens the store of `dataDir` read-only (the engine may be running on it), through the same
 * personal-data decryption as the engine (src/security): events read as the engine sees them.
 */
export function openReadOnly(dataDir: string): Promise<EventStore> {
  return openEncryptedEventStore({ dataDir }, () => EmbeddedEventStore.open({ path: storePath(dataDir), readOnly: true }));
}

export async function withReadOnlyStore<T>(dataDir: string, use: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await openReadOnly(dataDir);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
