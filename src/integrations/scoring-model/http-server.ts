/**
 * Serves any ScoringModel over the same HTTP contract HttpScoringModel consumes:
 *   POST /score   JSON ScoringInput -> 200 ScoringResult
 *                 400 invalid JSON / input, 413 body too large, 415 not JSON,
 *                 503 model raised a transient error, 502 non-transient ModelServiceError, 500 otherwise
 *   GET  /health  -> 200 { status: 'ok', modelVersion }
 * Errors are JSON `{ error, message, issues? }`.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidScoringInputError, ModelServiceError } from './errors.js';
import type { ScoringModel } from './model.js';
import { parseScoringInput } from './validation.js';

export interface ScoringRequestHandlerOptions {
  /** Largest accepted request body. Default 64 KiB. */
  readonly maxBodyBytes?: number;
}

export interface ScoringServer {
  /** `http://host:port` - pass as HttpScoringModel's baseUrl. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Stops accepting connections and drops open ones. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

class BodyTooLargeError extends Error {}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handleScore(model: ScoringModel, req: IncomingMessage, res: ServerResponse, maxBodyBytes: number): Promise<void> {
  const contentType = req.headers['content-type'];
  if (contentType !== undefined && !/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    sendJson(res, 415, { error: 'unsupported_media_type', message: 'expected application/json' });
    return;
  }
  let text: string;
  try {
    text = await readBody(req, maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      sendJson(res, 413, { error: 'payload_too_large', message: `body exceeds ${maxBodyBytes} bytes` }, { connection: 'close' });
    }
    return; // aborted request: nobody to answer
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    sendJson(res, 400, { error: 'invalid_json', message: 'request body is not valid JSON' });
    return;
  }
  try {
    const input = parseScoringInput(body);
    sendJson(res, 200, await model.score(input));
  } catch (error) {
    if (error instanceof InvalidScoringInputError) {
      sendJson(res, 400, { error: 'invalid_input', message: error.message, issues: error.issues });
    } else if (error instanceof ModelServiceError) {
      sendJson(res, error.transient ? 503 : 502, { error: 'model_unavailable', message: error.message });
    } else {
      sendJson(res, 500, { error: 'internal_error', message: 'scoring failed' });
    }
  }
}

/** The request listener behind serveScoringModel, exposed so tests can wrap it (fault injection). */
export function createScoringRequestHandler(model: ScoringModel, options: ScoringRequestHandlerOptions = {}): RequestListener {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/score') {
      if (req.method !== 'POST') {
        sendJson(res, 405, { error: 'method_not_allowed', message: 'use POST' }, { allow: 'POST' });
        return;
      }
      void handleScore(model, req, res, maxBodyBytes).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { error: 'internal_error', message: 'scoring failed' });
      });
      return;
    }
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, 200, { status: 'ok', modelVersion: model.version });
      return;
    }
    sendJson(res, 404, { error: 'not_found', message: `no route ${req.method ?? ''} ${path ?? ''}` });
  };
}

/** Wraps an http.Server already listening into a ScoringServer. */
export function toScoringServer(server: Server): ScoringServer {
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('scoring server is not listening on a TCP port');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Listens on `port` (0 = ephemeral) on `host` (default loopback) and serves `model`. */
export function serveScoringModel(
  model: ScoringModel,
  port: number,
  options: ScoringRequestHandlerOptions & { readonly host?: string } = {},
): Promise<ScoringServer> {
  const server = createServer(createScoringRequestHandler(model, options));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve(toScoringServer(server));
    });
  });
}
