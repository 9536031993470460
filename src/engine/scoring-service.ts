import { scoringRequestDecider, type ScoringCommand, type ScoringEvent, type ScoringState } from '../aggregates/scoring-request.js';
import { scoringStreamId } from '../aggregates/streams.js';
import type { ScoringRequestView } from '../contracts/api/scoring.js';
import type { ScoringRequest } from '../contracts/scoring-request.js';
import type { Logger } from 'pino';
import { decodeEvent } from '../contracts/events/codec.js';
import { ConditionFailedError, StreamNotFoundError } from '../eventstore/errors.js';
import type { AppendCondition, EventStore } from '../eventstore/port.js';
import { evolveScoringView } from '../projections/scoring-view.js';
import { type CommandHandler, type CommandOutcome } from './command-handler.js';
import { envelopeOf, type Clock, type CommandContext } from './request-context.js';
import { newId } from '../contracts/ids.js';

/** Decides whether a tenant may submit a scoring now (active subscription, AI quota); throws a typed error if not. */
export type ScoringAdmission = (tenantId: string) => Promise<void>;

/**
 * A ScoringAdmission that may answer from a cached state: it returns the conditions under which
 * its answer holds (AppendWriteOptions.conditions), and the scoring's append commits only if
 * they still hold. `fresh`: decide on the latest state, with no conditions (asked after one failed).
 */
export type ConditionalScoringAdmission = (tenantId: string, options: { readonly fresh: boolean }) => Promise<readonly AppendCondition[]>;

type AdmissionCheck = { readonly conditional: false; readonly check: ScoringAdmission } | { readonly conditional: true; readonly check: ConditionalScoringAdmission };

export class ScoringService {
  private readonly admissionChecks: AdmissionCheck[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly commands: CommandHandler,
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {}

  /** Adds a check every new scoring (and retry) must pass, in order of addition. */
  addAdmissionCheck(check: ScoringAdmission): void {
    this.admissionChecks.push({ conditional: false, check });
  }

  /** addAdmissionCheck for a check that may answer from a cached state (see ConditionalScoringAdmission). */
  addConditionalAdmissionCheck(check: ConditionalScoringAdmission): void {
    this.admissionChecks.push({ conditional: true, check });
  }

  private async admission(tenantId: string, fresh: boolean): Promise<readonly AppendCondition[]> {
    let conditions: AppendCondition[] | undefined;
    for (const entry of this.admissionChecks) {
      if (!entry.conditional) await entry.check(tenantId);
      else {
        const more = await entry.check(tenantId, { fresh });
        if (more.length > 0) (conditions ??= []).push(...more);
      }
    }
    return conditions ?? [];
  }

  /**
   * Runs `command` (appending with the admission's conditions) once the admission checks passed.
   * A failed condition means a cached admission state went stale (the subscription changed, in
   * this process or another): nothing was written, and the checks run again on fresh state.
   */
  private async admitted<T>(tenantId: string, command: (conditions: readonly AppendCondition[]) => Promise<T>): Promise<T> {
    const conditions = await this.admission(tenantId, false);
    if (conditions.length > 0) {
      try {
        return await command(conditions);
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
      await this.admission(tenantId, true);
    }
    return command([]);
  }

  async submit(context: CommandContext, request: ScoringRequest, scoringId: string = newId()): Promise<{ scoringId: string; attempt: number }> {
    const outcome = await this.admitted(context.tenantId, (conditions) => {
      const requestedAt = this.clock().toISOString();
      const command: ScoringCommand = { type: 'RequestScoring', scoringId, tenantId: context.tenantId, request, requestedAt };
      // A new scoring id as a rule: no read of its (missing) stream; the append's no_stream check proves it (see ExecuteOptions).
      return this.commands.execute(scoringStreamId(scoringId), scoringRequestDecider, command, envelopeOf(context, requestedAt), { newStream: true, conditions });
    });
    return { scoringId, attempt: outcome.state.status === 'none' ? 1 : outcome.state.attempt };
  }

  async retry(context: CommandContext, scoringId: string): Promise<{ attempt: number }> {
    const outcome = await this.admitted(context.tenantId, (conditions) => {
      const at = this.clock().toISOString();
      const command: ScoringCommand = { type: 'RetryScoring', scoringId, tenantId: context.tenantId };
      return this.commands.execute(scoringStreamId(scoringId), scoringRequestDecider, command, envelopeOf(context, at), { conditions });
    });
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
