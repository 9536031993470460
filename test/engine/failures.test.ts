import CircuitBreaker from 'opossum';
import { describe, expect, it } from 'vitest';
import { ConcurrencyConflictError } from '../../src/engine/command-handler.js';
import { BusinessError, classify, describeError, SystemError, TransientError } from '../../src/engine/failures.js';
import {
  InvalidArgumentError,
  MaximumSubscribersReachedError,
  StoreUnavailableError,
  StreamDeletedError,
  WrongExpectedVersionError,
} from '../../src/eventstore/errors.js';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('classify', () => {
  it('recognises the typed failures', () => {
    expect(classify(new TransientError('socket hang up', { reason: 'network' }))).toBe('transient');
    expect(classify(new BusinessError('SCORE_OUT_OF_RANGE', 'score must be 300..850'))).toBe('business');
    expect(classify(new SystemError('read-model', 'disk full'))).toBe('system');
    expect(new BusinessError('X', 'y')).toMatchObject({ name: 'BusinessError', code: 'X', kind: 'business' });
  });

  it('maps the event store port errors', () => {
    expect(classify(new StoreUnavailableError('closed'))).toBe('system');
    expect(classify(new WrongExpectedVersionError('s-1', 1n, 2n))).toBe('transient');
    expect(classify(new ConcurrencyConflictError('s-1', 5))).toBe('transient');
    expect(classify(new InvalidArgumentError('bad name', 'stream'))).toBe('business');
    expect(classify(new StreamDeletedError('s-1'))).toBe('business');
    expect(classify(new MaximumSubscribersReachedError('$all', 'g'))).toBe('system');
  });

  it("recognises opossum's open-breaker and timeout errors from a real breaker", async () => {
    const slow = new CircuitBreaker(() => new Promise<void>((resolve) => setTimeout(resolve, 200)), { timeout: 10, resetTimeout: 60_000 });
    const timeout = await slow.fire().catch((error: unknown) => error);
    expect(timeout).toMatchObject({ code: 'ETIMEDOUT' });
    expect(classify(timeout)).toBe('transient');
    slow.open();
    const rejected = await slow.fire().catch((error: unknown) => error);
    expect(rejected).toMatchObject({ code: 'EOPENBREAKER' });
    expect(classify(rejected)).toBe('transient');
    slow.shutdown();
  });

  it('treats network codes, timeouts, 5xx, 408 and 429 as transient', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'SQLITE_BUSY']) expect(classify(withCode(code, code))).toBe('transient');
    expect(classify(Object.assign(new Error('bad gateway'), { status: 502 }))).toBe('transient');
    expect(classify(Object.assign(new Error('slow down'), { statusCode: 429 }))).toBe('transient');
    expect(classify(Object.assign(new Error('axios-like'), { response: { status: 503 } }))).toBe('transient');
    expect(classify(new DOMException('timed out', 'TimeoutError'))).toBe('transient');
  });

  it('treats other 4xx and constraint violations as business, other SQLite failures as system', () => {
    expect(classify(Object.assign(new Error('unprocessable'), { status: 422 }))).toBe('business');
    expect(classify(withCode('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE'))).toBe('business');
    expect(classify(withCode('disk I/O error', 'SQLITE_IOERR'))).toBe('system');
  });

  it('follows cause chains (fetch failed → ECONNREFUSED) and defaults to transient', () => {
    expect(classify(new TypeError('fetch failed', { cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED') }))).toBe('transient');
    expect(classify(new Error('wrapped', { cause: new SystemError('db', 'gone') }))).toBe('system');
    expect(classify(new Error('something odd'))).toBe('transient');
    expect(classify('a string')).toBe('transient');
    const cyclic: Error & { cause?: unknown } = new Error('cyclic');
    cyclic.cause = cyclic;
    expect(classify(cyclic)).toBe('transient');
  });

  it('describes errors for park reasons', () => {
    expect(describeError(withCode('refused', 'ECONNREFUSED'))).toBe('Error [ECONNREFUSED]: refused');
    expect(describeError({ a: 1 })).toBe('Non-error thrown: {"a":1}');
  });
});
