import { BusinessError, TransientError, type TransientReason } from '../../engine/failures.js';

/** The gateway could not be reached or answered 5xx / 408 / 429, or timed out: retry (the charge is idempotent). */
export class PaymentGatewayUnavailableError extends TransientError {
  readonly status: number | undefined;
  constructor(message: string, options: { readonly reason?: TransientReason; readonly status?: number; readonly cause?: unknown } = {}) {
    super(message, { reason: options.reason ?? 'network', cause: options.cause });
    this.status = options.status;
  }
}

/** The gateway refused the request itself (4xx, invalid amount or currency): retrying fails the same way. */
export class PaymentRequestRejectedError extends BusinessError {
  readonly status: number | undefined;
  constructor(message: string, options: { readonly status?: number; readonly cause?: unknown } = {}) {
    super('PAYMENT_REQUEST_REJECTED', message, { cause: options.cause });
    this.status = options.status;
  }
}
