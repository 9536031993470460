/**
 * A ScoringModel served over HTTP: POST {baseUrl}/score with the ScoringInput as JSON, expecting
 * a ScoringResult as JSON. Every failure becomes a ModelServiceError whose `transient` flag tells
 * the caller's circuit breaker / retry policy whether the service (true) or the request (false)
 * is at fault. No retries and no breaker here: the engine wraps any ScoringModel with those.
 */
import { isTransientHttpStatus, ModelServiceError } from './errors.js';
import type { ScoringModel } from './model.js';
import type { ScoringInput, ScoringResult } from './types.js';
import { describeScoringResultProblem, isScoringResult } from './validation.js';

export interface HttpScoringModelOptions {
  /** Service root, e.g. `http://scoring:8080`. Defaults to process.env.SCORING_MODEL_URL. */
  readonly baseUrl?: string;
  /** Client-side timeout per call, covering connect + response body. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Reported as `version` (the authoritative one is each result's modelVersion). Default 'http'. */
  readonly version?: string;
  /** Extra request headers (e.g. authorization). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Injection point for tests; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
}

export interface HttpScoreOptions {
  /** Aborts the request, e.g. from opossum's `abortController` on breaker timeout. */
  readonly signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const MAX_ERROR_SNIPPET = 300;

function parseRetryAfter(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim());
}

export class HttpScoringModel implements ScoringModel {
  readonly version: string;
  readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly fetchImpl: typeof fetch;

  constructor(options: HttpScoringModelOptions = {}) {
    const baseUrl = options.baseUrl ?? process.env.SCORING_MODEL_URL;
    if (baseUrl === undefined || baseUrl.trim() === '') {
      throw new TypeError('HttpScoringModel needs options.baseUrl or the SCORING_MODEL_URL environment variable');
    }
    // Validates the URL eagerly so misconfiguration fails at startup, not on the first call.
    this.endpoint = new URL(`${baseUrl.trim().replace(/\/+$/, '')}/score`).toString();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    this.version = options.version ?? 'http';
    this.headers = options.headers ?? {};
    this.fetchImpl = options.fetch ?? fetch;
  }

  async score(input: ScoringInput, options: HttpScoreOptions = {}): Promise<ScoringResult> {
    const timeoutSignal = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal === undefined ? timeoutSignal : AbortSignal.any([timeoutSignal, options.signal]);
    try {
      const response = await this.fetchImpl(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...this.headers },
        body: JSON.stringify(input),
        signal,
      });
      if (!response.ok) {
        const snippet = (await response.text()).slice(0, MAX_ERROR_SNIPPET);
        const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
        throw new ModelServiceError(
          `Scoring model service responded ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${snippet ? `: ${snippet}` : ''}`,
          {
            code: 'HTTP_STATUS',
            transient: isTransientHttpStatus(response.status),
            status: response.status,
            ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
          },
        );
      }
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (cause) {
        throw new ModelServiceError('Scoring model service returned a non-JSON body', {
          code: 'INVALID_RESPONSE',
          transient: true,
          status: response.status,
          cause,
        });
      }
      if (!isScoringResult(body)) {
        throw new ModelServiceError(
          `Scoring model service returned an invalid result: ${describeScoringResultProblem(body) ?? 'unknown problem'}`,
          { code: 'INVALID_RESPONSE', transient: true, status: response.status },
        );
      }
      return body;
    } catch (error) {
      if (error instanceof ModelServiceError) throw error;
      if (timeoutSignal.aborted) {
        throw new ModelServiceError(`Scoring model service did not answer within ${this.timeoutMs} ms`, {
          code: 'TIMEOUT',
          transient: true,
          cause: error,
        });
      }
      if (options.signal?.aborted === true) {
        throw new ModelServiceError('Scoring model request was aborted by the caller', {
          code: 'ABORTED',
          transient: true,
          cause: error,
        });
      }
      const detail = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      throw new ModelServiceError(`Scoring model service unreachable at ${this.endpoint}: ${detail}`, {
        code: 'NETWORK',
        transient: true,
        cause: error,
      });
    }
  }
}
