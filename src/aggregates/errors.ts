/**
 * Business rule violations raised by deciders. `code` is stable (API clients may switch on it);
 * `kind` tells the HTTP layer how to answer: not_found → 404, conflict → 409, invalid → 422.
 */
import type { FieldError } from '../contracts/common.js';

export type RuleViolationKind = 'not_found' | 'conflict' | 'invalid';

export const BUSINESS_RULES = Object.freeze({
  // Scoring requests
  INVALID_SCORING_REQUEST: { kind: 'invalid', description: 'The request breaks a cross-field rule (see details)' },
  SCORING_ALREADY_REQUESTED: { kind: 'conflict', description: 'This scoring id was already used for a different request' },
  SCORING_NOT_FOUND: { kind: 'not_found', description: 'No such scoring request' },
  SCORING_ALREADY_COMPLETED: { kind: 'conflict', description: 'The scoring is completed; it cannot change' },
  SCORING_IN_PROGRESS: { kind: 'conflict', description: 'The current attempt has not finished' },
  SCORING_NOT_IN_PROGRESS: { kind: 'conflict', description: 'The current attempt already failed; retry first' },
  SCORING_ALREADY_FAILED: { kind: 'conflict', description: 'This attempt already failed differently' },
  STALE_ATTEMPT: { kind: 'conflict', description: 'The outcome is for another attempt than the current one' },
  SCORING_NOT_RETRYABLE: { kind: 'conflict', description: 'The failure is not retryable' },
  RETRY_LIMIT_REACHED: { kind: 'conflict', description: 'No attempts left' },
  // Subscriptions
  SUBSCRIPTION_ALREADY_ACTIVE: { kind: 'conflict', description: 'The tenant already has an active subscription' },
  SUBSCRIPTION_ID_REUSED: { kind: 'conflict', description: 'A cancelled subscription cannot be created again; use a new id' },
  NO_ACTIVE_SUBSCRIPTION: { kind: 'invalid', description: 'The tenant has no active subscription' },
  SUBSCRIPTION_NOT_FOUND: { kind: 'not_found', description: 'The tenant has no subscription' },
  SUBSCRIPTION_CANCELLED: { kind: 'conflict', description: 'The subscription is cancelled' },
  SUBSCRIPTION_ALREADY_CANCELLED: { kind: 'conflict', description: 'The subscription is already cancelled' },
  SAME_PLAN: { kind: 'conflict', description: 'The subscription is already on this plan' },
  SUBSCRIPTION_MISMATCH: { kind: 'conflict', description: "The payment is for another subscription than the tenant's current one" },
  CURRENCY_MISMATCH: { kind: 'invalid', description: "The payment currency is not the plan's currency" },
  PAYMENT_ALREADY_SUCCEEDED: { kind: 'conflict', description: 'A failure was reported for a payment that already succeeded' },
  TENANT_MISMATCH: { kind: 'conflict', description: 'The command is for another tenant than the stream' },
  // Usage
  USAGE_PERIOD_MISMATCH: { kind: 'conflict', description: "The usage time is outside the stream's billing period" },
} as const satisfies Record<string, { kind: RuleViolationKind; description: string }>);

export type BusinessRuleCode = keyof typeof BUSINESS_RULES;

export class BusinessRuleError extends Error {
  readonly kind: RuleViolationKind;
  constructor(
    readonly code: BusinessRuleCode,
    message: string,
    readonly details?: readonly FieldError[],
  ) {
    super(message);
    this.name = 'BusinessRuleError';
    this.kind = BUSINESS_RULES[code].kind;
  }
}

export function isBusinessRuleError(error: unknown): error is BusinessRuleError {
  return error instanceof BusinessRuleError;
}
