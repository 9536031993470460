/** Public surface of the scoring-model integration. */
export { InProcessUnderwritingModel, type ScoringModel } from './model.js';
export { HttpScoringModel, type HttpScoringModelOptions, type HttpScoreOptions } from './http-model.js';
export {
  createScoringRequestHandler,
  serveScoringModel,
  toScoringServer,
  type ScoringRequestHandlerOptions,
  type ScoringServer,
} from './http-server.js';
export {
  InvalidScoringInputError,
  ModelServiceError,
  isTransientHttpStatus,
  isTransientScoringError,
  type ModelServiceErrorCode,
  type ScoringInputIssue,
} from './errors.js';
export { describeScoringResultProblem, isScoringResult, parseScoringInput, MAX_INPUT_AMOUNT } from './validation.js';
export { underwrite } from './underwriting.js';
export { monthlyPrincipalAndInterest } from './finance.js';
export { MODEL_VERSION } from './constants.js';
export * from './types.js';
