import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { registerSecurityHeaders, securityHeaders } from '../../src/http/security-headers.js';

/** The headers of the answer as they are on the wire (names in lower case, in order), but Date. */
async function headersSetBy(setup: (app: FastifyInstance) => PromiseLike<unknown> | void): Promise<[string, string][]> {
  const app = Fastify();
  await setup(app);
  app.get('/', async () => ({ ok: true }));
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const raw = await new Promise<string[]>((resolve, reject) => {
      get(address, (response) => {
        response.resume();
        response.on('end', () => resolve(response.rawHeaders));
      }).on('error', reject);
    });
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i] !== 'Date') pairs.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
    return pairs;
  } finally {
    await app.close();
  }
}

const BARE = ['content-type', 'content-length', 'connection', 'keep-alive'];

describe('security headers', () => {
  // The options src/http/app.ts gave @fastify/helmet before the headers were computed once.
  for (const https of [false, true]) {
    it(`are exactly what @fastify/helmet sends with the engine's options (${https ? 'HTTPS' : 'HTTP'})`, async () => {
      const fromHelmet = await headersSetBy((app) => app.register(helmet, { contentSecurityPolicy: false, ...(https ? {} : { hsts: false }) }));
      const ours = await headersSetBy((app) => registerSecurityHeaders(app, { https }));
      // The same headers with the same values (in another order: ours go out with Fastify's own).
      const sorted = (pairs: [string, string][]) => [...pairs].sort(([a], [b]) => a.localeCompare(b));
      expect(sorted(ours)).toEqual(sorted(fromHelmet));
      expect(sorted(ours.filter(([name]) => !BARE.includes(name)))).toEqual(sorted(securityHeaders({ https }).map(([name, value]) => [name, value])));
      expect(ours.some(([name]) => name === 'strict-transport-security')).toBe(https);
    });
  }

  it('are on error answers too (set in onRequest, before authentication)', async () => {
    const app = Fastify();
    registerSecurityHeaders(app, { https: false });
    app.addHook('onRequest', async () => {
      throw Object.assign(new Error('no key'), { statusCode: 401 });
    });
    app.get('/', async () => ({ ok: true }));
    const response = await app.inject({ method: 'GET', url: '/' });
    const missing = await app.inject({ method: 'GET', url: '/nowhere' });
    await app.close();
    expect(response.statusCode).toBe(401);
    for (const answer of [response, missing]) {
      for (const [name, value] of securityHeaders({ https: false })) expect(answer.headers[name]).toBe(value);
    }
  });
});
