/**
 * Upcasters: pure functions from the payload of one stored version to the next one. Readers get
 * the current version; stored events are never rewritten. Each upcaster receives a payload that
 * passed its own version's schema, and decodeEvent validates the final result against the
 * current schema, so a faulty upcaster surfaces as a decode error, never as a bad event.
 *
 * The one evolution so far: ai.scoring.completed v1 → v2 adds
 * - `modelVersion`: v1 did not record it, so old results get `UNKNOWN_MODEL_VERSION` ('unknown');
 * - `explanation`: derived from the v1 reasons (`explainScoring`), the text a v2 writer may also use.
 */
import type { Static } from 'typebox';
import { UNKNOWN_MODEL_VERSION, type ScoringReasonSchema } from './ai.js';
import type { EventDefinition, LegacyDefinition, VersionedEventDataOf } from './catalog.js';

type VersionedName<D> = D extends { readonly type: infer T extends string; readonly version: infer V extends number } ? `${T}.v${V}` : never;
type Succ = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
type NextDefinition<D> = D extends { readonly type: infer T; readonly version: infer V extends number } ? Extract<EventDefinition, { readonly type: T; readonly version: Succ[V] }> : never;

/** One upcaster per legacy version, typed from the schemas of the version it reads and the next one. */
export type Upcasters = {
  readonly [D in LegacyDefinition as VersionedName<D>]: (data: Static<D['schema']>) => Static<NextDefinition<D>['schema']>;
};

const MAX_EXPLANATION = 2000;

/** Plain-language explanation of a score from its reasons: "Score 78/100, moderate risk: a; b." */
export function explainScoring(matchScore: number, riskBand: string, reasons: readonly Static<typeof ScoringReasonSchema>[]): string {
  const details = reasons.map((r) => r.detail.trim().replace(/[.;]+$/, '')).filter((d) => d.length > 0);
  const text = `Score ${matchScore}/100, ${riskBand.replace(/_/g, ' ')} risk${details.length > 0 ? `: ${details.join('; ')}` : ''}.`;
  return text.length <= MAX_EXPLANATION ? text : `${text.slice(0, MAX_EXPLANATION - 1)}…`;
}

export function upcastScoringCompletedV1(data: VersionedEventDataOf<'ai.scoring.completed.v1'>): VersionedEventDataOf<'ai.scoring.completed.v2'> {
  return {
    ...data,
    modelVersion: UNKNOWN_MODEL_VERSION,
    explanation: explainScoring(data.matchScore, data.riskBand, data.reasons),
  };
}

export const upcasters: Upcasters = Object.freeze({
  'ai.scoring.completed.v1': upcastScoringCompletedV1,
});
