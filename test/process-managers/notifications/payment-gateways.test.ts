/** The payment gateways: the simulated one's idempotency and outcomes, the HTTP one against a loopback server. */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classify } from '../../../src/engine/failures.js';
import { PaymentGatewayUnavailableError, PaymentRequestRejectedError } from '../../../src/integrations/payments/errors.js';
import type { ChargeRequest } from '../../../src/integrations/payments/gateway.js';
import { HttpPaymentGateway } from '../../../src/integrations/payments/http.js';
import { SimulatedPaymentGateway } from '../../../src/integrations/payments/simulated.js';
import { closedPort } from './smtp-server.js';

const request: ChargeRequest = {
  tenantId: 'acme',
  subscriptionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  paymentId: '9b2f4e1a-3c5d-4e6f-8a7b-1c2d3e4f5a6b',
  amountCents: 19_900,
  currency: 'USD',
  billingPeriod: '2025-03',
  attempt: 1,
};

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('SimulatedPaymentGateway', () => {
  it('is deterministic and idempotent by paymentId: a success is never charged again', async () => {
    const gateway = new SimulatedPaymentGateway();
    const first = await gateway.charge(request);
    expect(first).toMatchObject({ outcome: 'succeeded' });
    expect(await gateway.charge(request)).toEqual(first);
    expect(await gateway.charge({ ...request, attempt: 2 })).toEqual(first);
    expect(gateway.charges).toHaveLength(1);
    expect(await new SimulatedPaymentGateway().charge(request)).toEqual(first); // same reference on another instance
  });

  it('declines per tenant (same answer for a repeated attempt, a new try for the next attempt); unavailable throws a transient error', async () => {
    const gateway = new SimulatedPaymentGateway();
    gateway.setOutcome('acme', 'decline');
    const declined = await gateway.charge(request);
    expect(declined).toMatchObject({ outcome: 'failed', code: 'card_declined' });
    expect(await gateway.charge(request)).toEqual(declined);
    gateway.setOutcome('acme', 'succeed');
    expect(await gateway.charge(request)).toEqual(declined); // attempt 1 keeps its outcome
    expect(await gateway.charge({ ...request, attempt: 2 })).toMatchObject({ outcome: 'succeeded' });
    gateway.setOutcome('other', 'unavailable');
    const error = await failure(gateway.charge({ ...request, tenantId: 'other', paymentId: 'e1a4b1b2-3c5d-4e6f-8a7b-1c2d3e4f5a6b' }));
    expect(error).toBeInstanceOf(PaymentGatewayUnavailableError);
    expect(classify(error)).toBe('transient');
    expect(classify(await failure(gateway.charge({ ...request, amountCents: 0 })))).toBe('business');
  });
});

describe('HttpPaymentGateway against a loopback server', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: string } = { status: 200, body: '' };
  const seen: { headers: IncomingMessage['headers']; body: unknown }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: JSON.parse(body) as unknown });
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/charges`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('posts the charge with an idempotency key and maps succeeded / failed bodies', async () => {
    const gateway = new HttpPaymentGateway({ url, name: 'adyen' });
    answer = { status: 200, body: JSON.stringify({ outcome: 'succeeded', gatewayReference: 'psp_123' }) };
    expect(await gateway.charge(request)).toEqual({ outcome: 'succeeded', gatewayReference: 'psp_123' });
    expect(seen[0]?.headers['idempotency-key']).toBe(`${request.paymentId}:1`);
    expect(seen[0]?.body).toEqual(request);
    answer = { status: 200, body: JSON.stringify({ outcome: 'failed', code: 'Insufficient-Funds', message: 'Not enough money' }) };
    expect(await gateway.charge({ ...request, attempt: 2 })).toEqual({ outcome: 'failed', code: 'insufficient_funds', message: 'Not enough money' });
  });

  it('5xx, 429, garbage bodies and refused connections are transient; other 4xx are business errors', async () => {
    const gateway = new HttpPaymentGateway({ url });
    answer = { status: 503, body: 'down' };
    expect(await failure(gateway.charge(request))).toBeInstanceOf(PaymentGatewayUnavailableError);
    answer = { status: 429, body: '' };
    expect(classify(await failure(gateway.charge(request)))).toBe('transient');
    answer = { status: 200, body: '<html>' };
    expect(classify(await failure(gateway.charge(request)))).toBe('transient');
    answer = { status: 400, body: '{"error":"bad currency"}' };
    const rejected = await failure(gateway.charge(request));
    expect(rejected).toBeInstanceOf(PaymentRequestRejectedError);
    expect(classify(rejected)).toBe('business');
    const refused = await failure(new HttpPaymentGateway({ url: `http://127.0.0.1:${await closedPort()}/charges` }).charge(request));
    expect(refused).toBeInstanceOf(PaymentGatewayUnavailableError);
    expect(classify(refused)).toBe('transient');
  });
});
