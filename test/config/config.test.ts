import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('configuration from the environment', () => {
  it('has working defaults', () => {
    expect(loadConfig({})).toMatchObject({ host: '127.0.0.1', port: 3000, dataDir: 'data', logLevel: 'info', rateLimitPerMinute: 6000, bodyLimitBytes: 1_048_576, production: false });
  });

  it('names every bad value on its own line, and unknown settings', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      EVENTSTORE_CONNECTION_STRING: 'http://localhost:2113',
      SCORING_MODEL_URL: 'ftp://model',
      MMP_RATE_LIMIT_PER_MINUTE: '-1',
      TLS_CERT_FILE: '/tmp/cert.pem',
      MMP_RATE_LIMT_PER_MINUTE: '5',
    });
    expect(problems).toHaveLength(7);
    expect(problems.join('\n')).toMatch(/PORT must be a whole number/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL must be one of/);
    expect(problems.join('\n')).toMatch(/EVENTSTORE_CONNECTION_STRING must start with esdb:\/\//);
    expect(problems.join('\n')).toMatch(/SCORING_MODEL_URL must be an http\(s\) URL/);
    expect(problems.join('\n')).toMatch(/MMP_RATE_LIMIT_PER_MINUTE must be a whole number/);
    expect(problems.join('\n')).toMatch(/TLS_CERT_FILE and TLS_KEY_FILE must be set together/);
    expect(problems.join('\n')).toMatch(/unknown setting MMP_RATE_LIMT_PER_MINUTE/);
  });

  it('refuses production without a master key for personal data', () => {
    expect(problemsOf({ NODE_ENV: 'production' }).join('\n')).toMatch(/MMP_MASTER_KEY is required when NODE_ENV=production/);
  });

  it('seals personal data in format v2 unless told v1 (a rolling upgrade); nothing else', () => {
    expect(loadConfig({}).personalDataFormat).toBe('v2');
    expect(loadConfig({ MMP_PERSONAL_DATA_FORMAT: 'v1' }).personalDataFormat).toBe('v1');
    expect(problemsOf({ MMP_PERSONAL_DATA_FORMAT: 'v3' })).toEqual(["MMP_PERSONAL_DATA_FORMAT must be one of v1, v2, got 'v3'"]);
  });

  it('accepts an EventStoreDB connection string with TLS', () => {
    expect(loadConfig({ EVENTSTORE_CONNECTION_STRING: 'esdb://node1:2113,node2:2113?tls=true' }).eventStoreConnectionString).toBe('esdb://node1:2113,node2:2113?tls=true');
  });
});
