import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type RunningEngine } from '../../src/wiring.js';

let opensslMissing = false;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  opensslMissing = true;
  console.log('[https] skipped: no openssl binary to make a test certificate');
}

describe.skipIf(opensslMissing)('HTTPS when a certificate is configured', () => {
  let dir: string;
  let engine: RunningEngine;
  let cert: Buffer;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mmp-https-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    engine = await startEngine({ dataDir: dir, runHandlers: false, http: { https: { cert, key: readFileSync(join(dir, 'key.pem')) } } });
    url = await engine.http.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API over TLS with HSTS', async () => {
    expect(url.startsWith('https://')).toBe(true);
    const { status, hsts } = await new Promise<{ status: number; hsts: string | undefined }>((resolve, reject) => {
      const req = request(`${url}/health/live`, { ca: cert, servername: 'localhost', checkServerIdentity: () => undefined }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, hsts: res.headers['strict-transport-security'] as string | undefined }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(hsts).toMatch(/max-age=/);
  });
});
