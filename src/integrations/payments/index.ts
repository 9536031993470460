/** Public surface of the payment integration. */
import { HttpPaymentGateway } from './http.js';
import { SimulatedPaymentGateway } from './simulated.js';
import type { PaymentGateway, PaymentGatewayName } from './gateway.js';

export { PaymentGatewayUnavailableError, PaymentRequestRejectedError } from './errors.js';
export { normaliseFailureCode, type ChargeRequest, type ChargeResult, type PaymentGateway, type PaymentGatewayName } from './gateway.js';
export { HttpPaymentGateway, type HttpPaymentGatewayOptions } from './http.js';
export { SimulatedPaymentGateway, type SimulatedBehaviour } from './simulated.js';

/** The HTTP gateway when `url` (or PAYMENT_GATEWAY_URL) is set, else the simulated one. */
export function createPaymentGateway(options: { readonly url?: string; readonly name?: PaymentGatewayName } = {}): PaymentGateway {
  const url = options.url ?? process.env.PAYMENT_GATEWAY_URL;
  if (url !== undefined && url.trim() !== '') return new HttpPaymentGateway({ url, ...(options.name !== undefined ? { name: options.name } : {}) });
  return new SimulatedPaymentGateway(options.name !== undefined ? { name: options.name } : {});
}
