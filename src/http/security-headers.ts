import type { FastifyInstance } from 'fastify';

/**
 * The security headers of every response: what @fastify/helmet 13 (helmet 8) sent with the options
 * we gave it (contentSecurityPolicy off: the API answers JSON and the docs page needs Swagger UI's
 * inline scripts and styles; HSTS only when serving HTTPS). Helmet rebuilt its middleware chain and
 * set each header on the raw response for every request, several percent of the API's CPU, while
 * with these options the headers never depend on the request: they are listed here once.
 * (Helmet also removed X-Powered-By, which Fastify never sets.)
 * test/http/security-headers.test.ts checks this list against @fastify/helmet itself.
 */
const BASE_HEADERS: readonly (readonly [string, string])[] = [
  ['cross-origin-opener-policy', 'same-origin'],
  ['cross-origin-resource-policy', 'same-origin'],
  ['origin-agent-cluster', '?1'],
  ['referrer-policy', 'no-referrer'],
  ['x-content-type-options', 'nosniff'],
  ['x-dns-prefetch-control', 'off'],
  ['x-download-options', 'noopen'],
  ['x-frame-options', 'SAMEORIGIN'],
  ['x-permitted-cross-domain-policies', 'none'],
  ['x-xss-protection', '0'],
];

const HSTS: readonly [string, string] = ['strict-transport-security', 'max-age=31536000; includeSubDomains'];

/** The header names (lower case) and values of every response; HSTS only over HTTPS. */
export function securityHeaders(options: { readonly https: boolean }): readonly (readonly [string, string])[] {
  return options.https ? [...BASE_HEADERS.slice(0, 4), HSTS, ...BASE_HEADERS.slice(4)] : BASE_HEADERS;
}

/**
 * Sets the headers first thing in onRequest, as helmet did, so every answer carries them (errors,
 * 401 and 404 included: Fastify's error path keeps the reply's headers). On the reply rather than
 * on the raw response: Fastify hands its reply headers to writeHead in one object, which Node then
 * checks once, whereas one raw setHeader makes every header of the response go through setHeader.
 * Names go out in lower case (helmet capitalised them; header names are case-insensitive).
 */
export function registerSecurityHeaders(app: FastifyInstance, options: { readonly https: boolean }): void {
  const headers = securityHeaders(options);
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.header(name, value);
    done();
  });
}
