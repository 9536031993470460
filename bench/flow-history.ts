import { scoringRequestDecider } from '../src/aggregates/scoring-request.js';
import { scoringStreamId, usageStreamFor } from '../src/aggregates/streams.js';
import { usageContextOf, type UsageSubscriptionContext } from '../src/aggregates/subscription.js';
import { usagePeriodDecider, type UsagePeriodState } from '../src/aggregates/usage-period.js';
import type { ScoringResult } from '../src/contracts/events/ai.js';
import { encodeEvent, toEventData } from '../src/contracts/events/codec.js';
import type { EventEnvelope } from '../src/contracts/events/metadata.js';
import { newId } from '../src/contracts/ids.js';
import { EXAMPLE_SCORING_REQUEST, type ScoringRequest } from '../src/contracts/scoring-request.js';
import type { EngineDeps } from '../src/engine/engine-deps.js';
import type { EventData, EventStore, ExpectedRevision } from '../src/eventstore/port.js';
import { toContractResult, toScoringInput } from '../src/integrations/scoring-model/contract-adapter.js';
import { InProcessUnderwritingModel } from '../src/integrations/scoring-model/model.js';
import { fallbackContactEmail } from '../src/integrations/email/tenant-contacts.js';
import { notificationIdFor, notificationStreamId } from '../src/process-managers/notifications.js';

/**
 * A history shaped like the one the scoring flow writes, without running the flow: per scoring
 * the five events the engine appends for it (ai.scoring.requested + ai.scoring.completed on
 * scoring-{id}, billing.usage.recorded on the tenant's usage stream, notification.email.sent +
 * notification.user.sent on notification-{tenant}), built with the real deciders and the codec
 * (so every event validates and personal fields go through the encrypting store). The two scoring
 * events are one append per scoring (they live in their own stream), WRITERS appends in flight;
 * the per-tenant streams are written in batches of BATCH events per append.
 */

export const BATCH = 1_000;
const WRITERS = 32;

export interface HistoryTenant {
  readonly tenantId: string;
  readonly subscription: UsageSubscriptionContext;
}

/** `count` fresh tenants on the enterprise plan, subscribed through the billing service. */
export async function createHistoryTenants(deps: EngineDeps, count: number, prefix: string): Promise<HistoryTenant[]> {
  const tenants: HistoryTenant[] = [];
  for (let i = 0; i < count; i++) {
    const { tenantId } = deps.tenants.createTenant(`Bench history ${i}`, `${prefix}-${i}`);
    const correlationId = newId();
    await deps.billing.create({ tenantId, correlationId, causationId: correlationId }, 'enterprise');
    tenants.push({ tenantId, subscription: usageContextOf(await deps.billing.state(tenantId)) });
  }
  return tenants;
}

/** What the in-process model answers for the example request (what the AI worker would record). */
export async function exampleResult(request: ScoringRequest = EXAMPLE_SCORING_REQUEST): Promise<ScoringResult> {
  return toContractResult(await new InProcessUnderwritingModel().score(toScoringInput(request)), request);
}

/** One stream written in order in batches: appends chained so that they never overlap. */
class BatchedStream {
  #pending: EventData[] = [];
  #chain: Promise<void> = Promise.resolve();
  #revision: ExpectedRevision;

  constructor(
    private readonly store: EventStore,
    readonly stream: string,
    expected: ExpectedRevision,
  ) {
    this.#revision = expected;
  }

  push(event: EventData): void {
    this.#pending.push(event);
    if (this.#pending.length >= BATCH) this.flush();
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#chain = this.#chain.then(async () => {
      const result = await this.store.append(this.stream, batch, { expectedRevision: this.#revision });
      if (this.#revision !== 'any') this.#revision = result.nextExpectedRevision;
    });
  }

  async done(): Promise<void> {
    this.flush();
    await this.#chain;
  }
}

interface TenantStreams {
  readonly tenant: HistoryTenant;
  readonly usage: BatchedStream;
  readonly notifications: BatchedStream;
  usageState: UsagePeriodState;
}

export interface HistoryOptions {
  readonly scorings: number;
  readonly result: ScoringResult;
  readonly log?: (line: string) => void;
}

/** Writes the history of `scorings` scorings spread over `tenants`; returns the number of events written. */
export async function writeHistory(store: EventStore, tenants: readonly HistoryTenant[], options: HistoryOptions): Promise<number> {
  const { result, scorings } = options;
  const recordedAt = new Date().toISOString();
  const streams: TenantStreams[] = tenants.map((tenant) => ({
    tenant,
    usage: new BatchedStream(store, usageStreamFor({ tenantId: tenant.tenantId, recordedAt }), 'no_stream'),
    notifications: new BatchedStream(store, notificationStreamId(tenant.tenantId), 'any'),
    usageState: usagePeriodDecider.initialState,
  }));
  if (streams.length === 0) throw new Error('writeHistory needs at least one tenant');
  let next = 0;
  let events = 0;
  const logEvery = Math.max(1, Math.floor(scorings / 5));

  const one = async (index: number): Promise<void> => {
    const target = streams[index % streams.length];
    if (target === undefined) throw new Error('unreachable');
    const { tenantId } = target.tenant;
    // Ids minted as the engine mints them (time-ordered, contracts/ids.ts).
    const scoringId = newId();
    const correlationId = newId();
    const userId = 'key:bench';
    const at = new Date().toISOString();
    const envelope = (causationId: string): EventEnvelope => ({ correlationId, causationId, tenantId, userId, occurredAt: at });

    // The scoring stream: requested then completed (one append: the same stream).
    const [requested] = scoringRequestDecider.decide({ type: 'RequestScoring', scoringId, tenantId, request: EXAMPLE_SCORING_REQUEST, requestedAt: at }, scoringRequestDecider.initialState);
    if (requested === undefined) throw new Error('RequestScoring decided nothing');
    const afterRequest = scoringRequestDecider.evolve(scoringRequestDecider.initialState, requested);
    const [completed] = scoringRequestDecider.decide({ type: 'CompleteScoring', scoringId, attempt: 1, result }, afterRequest);
    if (completed === undefined) throw new Error('CompleteScoring decided nothing');
    const requestedData = encodeEvent(requested, envelope(correlationId), newId());
    const completedData = encodeEvent(completed, envelope(requestedData.id), newId());

    // Usage (the usage-metering worker's decider), batched on the tenant's period stream; the state is folded synchronously, in order.
    const usageEvents = usagePeriodDecider.decide(
      { type: 'RecordUsage', tenantId, scoringId, aiCostCents: result.costCents, recordedAt, subscription: target.tenant.subscription },
      target.usageState,
    );
    for (const event of usageEvents) {
      target.usageState = usagePeriodDecider.evolve(target.usageState, event);
      target.usage.push(encodeEvent(event, envelope(completedData.id), usagePeriodDecider.eventId?.(event) ?? newId()));
    }

    // Notifications of the completion (the notifications worker's events), batched on notification-{tenant}.
    const subject = `Scoring ${scoringId.slice(0, 8)} completed: ${result.matchScore}/100 (${result.riskBand.replace('_', ' ')} risk)`;
    const emailId = notificationIdFor(completedData.id, 'email');
    const userNotificationId = notificationIdFor(completedData.id, 'user');
    target.notifications.push(
      toEventData(
        'notification.email.sent',
        { notificationId: emailId, tenantId, to: fallbackContactEmail(tenantId), template: 'scoring_completed', subject, provider: 'smtp', providerMessageId: `<${emailId}@bench.local>` },
        envelope(completedData.id),
        emailId,
      ),
    );
    target.notifications.push(
      toEventData(
        'notification.user.sent',
        { notificationId: userNotificationId, tenantId, recipientUserId: userId, channel: 'in_app', template: 'scoring_completed', subject, relatedEventId: completedData.id },
        envelope(completedData.id),
        userNotificationId,
      ),
    );
    events += 2 + usageEvents.length + 2;
    await store.append(scoringStreamId(scoringId), [requestedData, completedData], { expectedRevision: 'no_stream' });
  };

  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (;;) {
        const index = next;
        if (index >= scorings) return;
        next += 1;
        await one(index);
        if ((index + 1) % logEvery === 0) options.log?.(`history: ${(index + 1).toLocaleString('en-US')} of ${scorings.toLocaleString('en-US')} scorings`);
      }
    }),
  );
  for (const target of streams) {
    await target.usage.done();
    await target.notifications.done();
  }
  return events;
}
