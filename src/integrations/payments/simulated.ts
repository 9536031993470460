/**
 * The default payment gateway: deterministic, in memory, no money moves. Every tenant's charges
 * succeed unless a test sets another behaviour with setOutcome(tenantId, ...):
 *   'succeed'     → { outcome: 'succeeded', gatewayReference: sim_ch_<hash of paymentId> }
 *   'decline'     → { outcome: 'failed', code: 'card_declined' }
 *   'unavailable' → throws PaymentGatewayUnavailableError (transient), remembers nothing.
 * Idempotent as the port demands: a succeeded paymentId answers its success forever; a repeated
 * (paymentId, attempt) answers its first outcome. `charges` lists the charges actually made.
 */
import { createHash } from 'node:crypto';
import { PaymentGatewayUnavailableError, PaymentRequestRejectedError } from './errors.js';
import type { ChargeRequest, ChargeResult, PaymentGateway, PaymentGatewayName } from './gateway.js';

export type SimulatedBehaviour = 'succeed' | 'decline' | 'unavailable';

function reference(prefix: string, key: string): string {
  return `${prefix}_${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
}

export class SimulatedPaymentGateway implements PaymentGateway {
  readonly name: PaymentGatewayName;
  /** Charges that reached the "bank" (not answered from memory, not unavailable). */
  readonly charges: ChargeRequest[] = [];
  /** Every call, including replays and unavailable ones. */
  calls = 0;
  readonly #behaviours = new Map<string, SimulatedBehaviour>();
  readonly #succeeded = new Map<string, ChargeResult>();
  readonly #attempts = new Map<string, ChargeResult>();
  #defaultBehaviour: SimulatedBehaviour;

  constructor(options: { readonly name?: PaymentGatewayName; readonly defaultBehaviour?: SimulatedBehaviour } = {}) {
    this.name = options.name ?? 'stripe';
    this.#defaultBehaviour = options.defaultBehaviour ?? 'succeed';
  }

  setOutcome(tenantId: string, behaviour: SimulatedBehaviour): void {
    this.#behaviours.set(tenantId, behaviour);
  }

  setDefaultOutcome(behaviour: SimulatedBehaviour): void {
    this.#defaultBehaviour = behaviour;
  }

  chargesFor(paymentId: string): ChargeRequest[] {
    return this.charges.filter((c) => c.paymentId === paymentId);
  }

  charge(request: ChargeRequest): Promise<ChargeResult> {
    this.calls += 1;
    if (!Number.isSafeInteger(request.amountCents) || request.amountCents < 1) {
      return Promise.reject(new PaymentRequestRejectedError(`Invalid amount ${request.amountCents}`, { status: 400 }));
    }
    if (!/^[A-Z]{3}$/.test(request.currency)) return Promise.reject(new PaymentRequestRejectedError(`Invalid currency ${request.currency}`, { status: 400 }));
    const succeeded = this.#succeeded.get(request.paymentId);
    if (succeeded) return Promise.resolve(succeeded);
    const attemptKey = `${request.paymentId}/${request.attempt}`;
    const earlier = this.#attempts.get(attemptKey);
    if (earlier) return Promise.resolve(earlier);

    const behaviour = this.#behaviours.get(request.tenantId) ?? this.#defaultBehaviour;
    if (behaviour === 'unavailable') {
      return Promise.reject(new PaymentGatewayUnavailableError('Simulated payment gateway unavailable (503)', { reason: 'upstream-5xx', status: 503 }));
    }
    this.charges.push(request);
    const result: ChargeResult =
      behaviour === 'succeed'
        ? { outcome: 'succeeded', gatewayReference: reference('sim_ch', request.paymentId) }
        : { outcome: 'failed', code: 'card_declined', message: 'Your card was declined.', gatewayReference: reference('sim_decl', attemptKey) };
    this.#attempts.set(attemptKey, result);
    if (result.outcome === 'succeeded') this.#succeeded.set(request.paymentId, result);
    return Promise.resolve(result);
  }
}
