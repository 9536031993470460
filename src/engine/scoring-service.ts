import { randomUUID } from 'node:crypto';
import { scoringRequestDecider, type ScoringCommand, type ScoringEvent, type ScoringState } from '../aggregates/scoring-request.js';
import { scoringStreamId } from '../aggregates/streams.js';
import type { ScoringRequestView } from '../contracts/api/scoring.js';
import type { ScoringRequest } from '../contracts/scoring-request.js';
import type { Logger } from 'pino';
import { decodeEvent } from '../contracts/events/codec.js';
import { StreamNotFoundError } from '../eventstore/errors.js';
import type { EventStore } from '../eventstore/port.js';
import { evolveScoringView } from '../projections/scoring-view.js';
import { type CommandHandler, type CommandOutcome } from './command-handler.js';
import { envelopeOf, type Clock, type CommandContext } from './request-context.js';

/** Decides whether a tenant may submit a scoring now (active subscription, AI quota); throws a typed error if not. */
export type ScoringAdmission = (tenantId: string) => Promise<void>;

export class ScoringService {
  private readonly admissionChecks: ScoringAdmission[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly commands: CommandHandler,
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {}

  /** Adds a check every new scoring (and retry) must pass, in order of addition. */
  addAdmissionCheck(check: ScoringAdmission): void {
    this.admissionChecks.push(check);
  }

  private async admission(tenantId: string): Promise<void> {
    for (const check of this.admissionChecks) await check(tenantId);
  }

  async submit(context: CommandContext, request: ScoringRequest, scoringId: string = randomUUID()): Promise<{ scoringId: string; attempt: number }> {
    await this.admission(context.tenantId);
    const requestedAt = this.clock().toISOString();
    const command: ScoringCommand = { type: 'RequestScoring', scoringId, tenantId: context.tenantId, request, requestedAt };
    // A new scoring id as a rule: no read of its (missing) stream; the append's no_stream check proves it (see ExecuteOptions).
    const outcome = await this.commands.execute(scoringStreamId(scoringId), scoringRequestDecider, command, envelopeOf(context, requestedAt), { newStream: true });
    return { scoringId, attempt: outcome.state.status === 'none' ? 1 : outcome.state.attempt };
  }

  async retry(context: CommandContext, scoringId: string): Promise<{ attempt: number }> {
    await this.admission(context.tenantId);
    const at = this.clock().toISOString();
    const outcome = await this.execute(context, { type: 'RetryScoring', scoringId, tenantId: context.tenantId }, at);
    return { attempt: outcome.state.status === 'none' ? 1 : outcome.state.attempt };
  }

  execute(context: CommandContext, command: ScoringCommand, at: string = this.clock().toISOString()): Promise<CommandOutcome<ScoringEvent, ScoringState>> {
    return this.commands.execute(scoringStreamId(command.scoringId), scoringRequestDecider, command, envelopeOf(context, at));
  }

  /** The current view of one scoring request of `tenantId`, folded from its stream; undefined if unknown or another tenant's. */
  async view(tenantId: string, scoringId: string): Promise<ScoringRequestView | undefined> {
    let view: ScoringRequestView | undefined;
    try {
      for await (const recorded of this.store.readStream(scoringStreamId(scoringId))) {
        const decoded = decodeEvent(recorded);
        if (decoded.ok) view = evolveScoringView(view, decoded.event);
        // A stored event that fails its contract is reported and left out; the consumers park it.
        else this.logger?.warn({ streamId: decoded.error.streamId, revision: decoded.error.revision.toString(), problems: decoded.error.problems }, 'stored event fails its contract; left out of the scoring view');
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
    return view?.tenantId === tenantId ? view : undefined;
  }
}
