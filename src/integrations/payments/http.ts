/**
 * A payment gateway behind HTTP: POST {url} with the ChargeRequest as JSON and an
 * Idempotency-Key header `{paymentId}:{attempt}`; expects 2xx with
 * `{ outcome: 'succeeded', gatewayReference }` or `{ outcome: 'failed', code, message }`.
 * 5xx / 408 / 429, network errors, timeouts and unreadable 2xx bodies → PaymentGatewayUnavailableError
 * (transient: the charge is idempotent, so retrying is safe); other 4xx → PaymentRequestRejectedError.
 * No retries and no breaker here: the payment saga wraps the gateway in both.
 */
import { PaymentGatewayUnavailableError, PaymentRequestRejectedError } from './errors.js';
import { normaliseFailureCode, type ChargeRequest, type ChargeResult, type PaymentGateway, type PaymentGatewayName } from './gateway.js';

export interface HttpPaymentGatewayOptions {
  /** The charge endpoint; defaults to process.env.PAYMENT_GATEWAY_URL. */
  readonly url?: string;
  readonly name?: PaymentGatewayName;
  /** Per call, ms. Default 10,000. */
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch?: typeof fetch;
}

const REFERENCE_RE = /^[\x21-\x7e]{1,255}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseResult(body: unknown): ChargeResult | undefined {
  if (!isRecord(body)) return undefined;
  if (body['outcome'] === 'succeeded' && typeof body['gatewayReference'] === 'string' && REFERENCE_RE.test(body['gatewayReference'])) {
    return { outcome: 'succeeded', gatewayReference: body['gatewayReference'] };
  }
  if (body['outcome'] === 'failed' && typeof body['code'] === 'string') {
    const message = typeof body['message'] === 'string' ? body['message'].slice(0, 1000) : '';
    const reference = body['gatewayReference'];
    return {
      outcome: 'failed',
      code: normaliseFailureCode(body['code']),
      message,
      ...(typeof reference === 'string' && REFERENCE_RE.test(reference) ? { gatewayReference: reference } : {}),
    };
  }
  return undefined;
}

export class HttpPaymentGateway implements PaymentGateway {
  readonly name: PaymentGatewayName;
  readonly endpoint: string;
  readonly #timeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #fetch: typeof fetch;

  constructor(options: HttpPaymentGatewayOptions = {}) {
    const url = options.url ?? process.env.PAYMENT_GATEWAY_URL;
    if (url === undefined || url.trim() === '') throw new TypeError('HttpPaymentGateway needs options.url or the PAYMENT_GATEWAY_URL environment variable');
    this.endpoint = new URL(url.trim()).toString();
    this.name = options.name ?? 'stripe';
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#headers = options.headers ?? {};
    this.#fetch = options.fetch ?? fetch;
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': `${request.paymentId}:${request.attempt}`, ...this.#headers },
        body: JSON.stringify(request),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw new PaymentGatewayUnavailableError(`Payment gateway did not answer within ${this.#timeoutMs} ms`, { reason: 'timeout', cause: error });
      const detail = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      throw new PaymentGatewayUnavailableError(`Payment gateway unreachable at ${this.endpoint}: ${detail}`, { reason: 'network', cause: error });
    }
    const text = await response.text().catch(() => '');
    const status = response.status;
    if (status >= 500 || status === 408 || status === 429) {
      throw new PaymentGatewayUnavailableError(`Payment gateway responded ${status}: ${text.slice(0, 300)}`, { reason: status === 429 ? 'rate-limited' : 'upstream-5xx', status });
    }
    if (status >= 400) throw new PaymentRequestRejectedError(`Payment gateway rejected the charge request (${status}): ${text.slice(0, 300)}`, { status });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new PaymentGatewayUnavailableError(`Payment gateway returned a non-JSON body (${status})`, { reason: 'other', status, cause: error });
    }
    const result = parseResult(body);
    if (!result) throw new PaymentGatewayUnavailableError(`Payment gateway returned an unexpected body (${status}): ${text.slice(0, 300)}`, { reason: 'other', status });
    return result;
  }
}
