/**
 * The scoring-model port. The engine depends only on `ScoringModel`; resilience (circuit
 * breaker, fallback) is layered around it in src/engine, not inside the implementations.
 */
import { MODEL_VERSION } from './constants.js';
import type { ScoringInput, ScoringResult } from './types.js';
import { underwrite } from './underwriting.js';

export type { EligibleProduct, ProductCode, RiskBand, ScoringInput, ScoringMetrics, ScoringResult } from './types.js';

export interface ScoringModel {
  /** Identifies the model implementation / rule set (for the in-process model, equals result.modelVersion). */
  readonly version: string;
  /**
   * Scores one application. Rejects with InvalidScoringInputError (transient: false) for input
   * violating the contract and, for remote models, ModelServiceError (see its `transient`).
   */
  score(input: ScoringInput): Promise<ScoringResult>;
}

/**
 * The default model: deterministic rules-based underwriting evaluated in-process (pure
 * TypeScript, no I/O). Never fails for valid input.
 */
export class InProcessUnderwritingModel implements ScoringModel {
  readonly version = MODEL_VERSION;

  async score(input: ScoringInput): Promise<ScoringResult> {
    return underwrite(input);
  }
}
