import type { EventEnvelope } from '../contracts/events/metadata.js';

/** Who acts and under which trace: every command carries it, every event it causes inherits it. */
export interface CommandContext {
  readonly tenantId: string;
  readonly userId?: string;
  readonly correlationId: string;
  /** The id of what caused the command: the request (its correlation id) or the handled event. */
  readonly causationId: string;
}

export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export function envelopeOf(context: CommandContext, occurredAt: string): EventEnvelope {
  return {
    correlationId: context.correlationId,
    causationId: context.causationId,
    tenantId: context.tenantId,
    occurredAt,
    ...(context.userId !== undefined ? { userId: context.userId } : {}),
  };
}
