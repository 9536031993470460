/**
 * Test harness for the AI process managers: real deps on the in-memory embedded store
 * (createEngineDeps), the AI handlers in a subscription runner with tiny retry delays.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { EXAMPLE_SCORING_REQUEST, type ScoringRequest } from '../../../src/contracts/scoring-request.js';
import type { DecodedEvent } from '../../../src/contracts/events/codec.js';
import { decodeOrThrow } from '../../../src/engine/command-handler.js';
import type { EngineDeps } from '../../../src/engine/engine-deps.js';
import type { Clock, CommandContext } from '../../../src/engine/request-context.js';
import { createSubscriptionRunner, type EventHandler, type SubscriptionRunner, type SubscriptionRunnerOptions } from '../../../src/engine/subscription-runner.js';
import { StreamNotFoundError } from '../../../src/eventstore/errors.js';
import { InProcessUnderwritingModel, type ScoringModel } from '../../../src/integrations/scoring-model/model.js';
import type { ScoringInput, ScoringResult } from '../../../src/integrations/scoring-model/types.js';
import { createAiProcessManagers, type AiProcessManagerOptions, type AiProcessManagers } from '../../../src/process-managers/index-ai.js';
import { createEngineDeps } from '../../../src/wiring.js';

export const IDLE = { timeout: 20_000 } as const;
export const WAIT = { timeout: 20_000, interval: 20 } as const;

/** Wraps a model: counts calls; version and cost can be changed between calls. */
export class TestModel implements ScoringModel {
  calls = 0;
  version: string;
  costCents: number | undefined;
  constructor(
    private readonly inner: ScoringModel = new InProcessUnderwritingModel(),
    options: { readonly version?: string; readonly costCents?: number } = {},
  ) {
    this.version = options.version ?? inner.version;
    this.costCents = options.costCents;
  }

  async score(input: ScoringInput): Promise<ScoringResult> {
    this.calls += 1;
    const result = await this.inner.score(input);
    return { ...result, modelVersion: this.version, ...(this.costCents === undefined ? {} : { costCents: this.costCents }) };
  }
}

export interface Harness {
  readonly deps: EngineDeps;
  readonly ai: AiProcessManagers;
  readonly runner: SubscriptionRunner;
  handler(name: string): EventHandler;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<AiProcessManagerOptions> {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly runner?: Partial<SubscriptionRunnerOptions>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const { clock, logger, runner: runnerOptions, ...aiOptions } = options;
  const deps = await createEngineDeps({ dataDir: ':memory:', ...(clock ? { clock } : {}), ...(logger ? { logger } : {}) });
  const ai = createAiProcessManagers(deps, { model: new TestModel(), ...aiOptions });
  deps.scoring.addAdmissionCheck(ai.admission);
  const runner = createSubscriptionRunner({
    store: deps.store,
    handlers: ai.handlers,
    metrics: deps.metrics,
    retryPolicy: { retryDelay: 5, maxRetryDelay: 20 },
    pausePolicy: { retryDelay: 10, maxRetryDelay: 50 },
    statsInterval: 0,
    ...runnerOptions,
  });
  await runner.start();
  return {
    deps,
    ai,
    runner,
    handler(name) {
      const found = ai.handlers.find((h) => h.name === name);
      if (!found) throw new Error(`no handler ${name}`);
      return found;
    },
    async close() {
      await runner.stop({ timeout: 2_000 });
      deps.breakers.shutdown();
      await deps.store.close();
      deps.readDb.close();
    },
  };
}

export function contextFor(tenantId: string): CommandContext {
  const id = randomUUID();
  return { tenantId, correlationId: id, causationId: id, userId: 'user-1' };
}

export function request(overrides: Partial<ScoringRequest> = {}): ScoringRequest {
  return { ...structuredClone(EXAMPLE_SCORING_REQUEST as ScoringRequest), ...overrides };
}

/** Every decoded event of a stream (empty if it does not exist). */
export async function streamEvents(deps: EngineDeps, stream: string): Promise<DecodedEvent[]> {
  const events: DecodedEvent[] = [];
  try {
    for await (const recorded of deps.store.readStream(stream)) events.push(decodeOrThrow(recorded));
  } catch (error) {
    if (!(error instanceof StreamNotFoundError)) throw error;
  }
  return events;
}

/** Every decoded event of one type in $all. */
export async function eventsOfType<K extends DecodedEvent['type']>(deps: EngineDeps, type: K): Promise<Extract<DecodedEvent, { type: K }>[]> {
  const events: Extract<DecodedEvent, { type: K }>[] = [];
  for await (const recorded of deps.store.readAll({ filter: { on: 'eventType', prefixes: [`${type}.v`] } })) {
    const event = decodeOrThrow(recorded);
    if (event.type === type) events.push(event as Extract<DecodedEvent, { type: K }>);
  }
  return events;
}
