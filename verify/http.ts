/** A small HTTP client for the suite's own load: never throws, a network failure is status 0. */
export interface HttpAnswer {
  /** 0 when no response came (connection refused or reset, timeout). */
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers | undefined;
  readonly error?: string;
}

export interface HttpCall {
  readonly method: string;
  readonly path: string;
  readonly key?: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export async function call(base: string, request: HttpCall): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.key !== undefined) headers['authorization'] = `Bearer ${request.key}`;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers,
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
      signal: AbortSignal.timeout(request.timeoutMs ?? 15_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: response.status, body, headers: response.headers };
  } catch (error) {
    return { status: 0, body: undefined, headers: undefined, error: error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}` : String(error) };
  }
}

export function ok(answer: HttpAnswer): boolean {
  return answer.status >= 200 && answer.status < 300;
}

/** Throws unless 2xx: for setup steps that must work. */
export async function must(base: string, request: HttpCall): Promise<unknown> {
  const answer = await call(base, request);
  if (!ok(answer)) throw new Error(`${request.method} ${request.path} answered ${answer.status}${answer.error ? ` (${answer.error})` : ''}: ${JSON.stringify(answer.body)?.slice(0, 500)}`);
  return answer.body;
}
