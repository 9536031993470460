import { join } from 'node:path';

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly eventStoreConnectionString?: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly scoringModelUrl?: string;
  readonly smtpUrl?: string;
  readonly production: boolean;
  /** Requests per minute per API key; 0 disables the limit. */
  readonly rateLimitPerMinute: number;
  readonly bodyLimitBytes: number;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly paymentGatewayUrl?: string;
  /** issue 5: MMP_MASTER_KEY, 32 bytes base64 (required in production; see src/security/master-key.ts). */
  readonly masterKey?: string;
  /** MMP_PERSONAL_DATA_FORMAT: the format new events seal personal data in (v2 by default; v1 while older nodes still read). */
  readonly personalDataFormat: PersonalDataFormat;
}

export const PERSONAL_DATA_FORMATS = ['v1', 'v2'] as const;
export type PersonalDataFormat = (typeof PERSONAL_DATA_FORMATS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Settings this engine reads; any other variable with our prefixes is named as unknown (a typo, usually). */
const KNOWN = new Set([
  'HOST',
  'PORT',
  'DATA_DIR',
  'EVENTSTORE_CONNECTION_STRING',
  'LOG_LEVEL',
  'SCORING_MODEL_URL',
  'SMTP_URL',
  'NODE_ENV',
  'MMP_MASTER_KEY',
  'MMP_PERSONAL_DATA_FORMAT',
  'MMP_RATE_LIMIT_PER_MINUTE',
  'MMP_BODY_LIMIT_BYTES',
  'TLS_CERT_FILE',
  'TLS_KEY_FILE',
  'PAYMENT_GATEWAY_URL',
  // Read by the CLI only.
  'MMP_SERVER_URL',
  'MMP_ADMIN_KEY',
]);
const OUR_PREFIXES = ['MMP_', 'EVENTSTORE_', 'SCORING_', 'SMTP_', 'TLS_', 'PAYMENT_'];

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number, problems: string[]): number {
  const text = env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value > max) {
    problems.push(`${name} must be a whole number from 0 to ${max}, got '${text}'`);
    return fallback;
  }
  return value;
}

function isUrl(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Reads and validates the environment; every bad value gets its own clear line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const host = env.HOST ?? '127.0.0.1';
  const portText = env.PORT ?? '3000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) problems.push(`PORT must be a whole number from 0 to 65535, got '${portText}'`);
  const logLevel = (env.LOG_LEVEL ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${env.LOG_LEVEL}'`);
  const connection = env.EVENTSTORE_CONNECTION_STRING?.trim() || undefined;
  if (connection && !/^esdb(\+discover)?:\/\//.test(connection)) problems.push(`EVENTSTORE_CONNECTION_STRING must start with esdb:// or esdb+discover://, got '${connection}'`);
  const scoringModelUrl = env.SCORING_MODEL_URL?.trim() || undefined;
  if (scoringModelUrl && !isUrl(scoringModelUrl, ['http:', 'https:'])) problems.push(`SCORING_MODEL_URL must be an http(s) URL, got '${scoringModelUrl}'`);
  const smtpUrl = env.SMTP_URL?.trim() || undefined;
  if (smtpUrl && !isUrl(smtpUrl, ['smtp:', 'smtps:'])) problems.push(`SMTP_URL must be an smtp:// or smtps:// URL, got '${smtpUrl}'`);
  const rateLimitPerMinute = wholeNumber(env, 'MMP_RATE_LIMIT_PER_MINUTE', 6_000, 10_000_000, problems);
  const bodyLimitBytes = wholeNumber(env, 'MMP_BODY_LIMIT_BYTES', 1_048_576, 64 * 1_048_576, problems);
  const tlsCertFile = env.TLS_CERT_FILE?.trim() || undefined;
  const tlsKeyFile = env.TLS_KEY_FILE?.trim() || undefined;
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) problems.push('TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  const paymentGatewayUrl = env.PAYMENT_GATEWAY_URL?.trim() || undefined;
  if (paymentGatewayUrl && !isUrl(paymentGatewayUrl, ['http:', 'https:'])) problems.push(`PAYMENT_GATEWAY_URL must be an http(s) URL, got '${paymentGatewayUrl}'`);
  // issue 5: the master key of the personal-data keys (src/security).
  const masterKey = env.MMP_MASTER_KEY?.trim() || undefined;
  if (masterKey !== undefined && !(/^[A-Za-z0-9+/]+={0,2}$/.test(masterKey) && Buffer.from(masterKey, 'base64').length === 32)) {
    problems.push('MMP_MASTER_KEY must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)');
  }
  if (masterKey === undefined && env.NODE_ENV === 'production') {
    problems.push("MMP_MASTER_KEY is required when NODE_ENV=production: 32 random bytes in base64 (e.g. `openssl rand -base64 32`); it wraps the keys of the borrowers' personal data");
  }
  const personalDataFormat = (env.MMP_PERSONAL_DATA_FORMAT?.trim() || 'v2') as PersonalDataFormat;
  if (!PERSONAL_DATA_FORMATS.includes(personalDataFormat)) problems.push(`MMP_PERSONAL_DATA_FORMAT must be one of ${PERSONAL_DATA_FORMATS.join(', ')}, got '${env.MMP_PERSONAL_DATA_FORMAT}'`);
  for (const name of Object.keys(env)) {
    if (OUR_PREFIXES.some((prefix) => name.startsWith(prefix)) && !KNOWN.has(name)) problems.push(`unknown setting ${name}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    host,
    port,
    dataDir: env.DATA_DIR ?? join('.', 'data'),
    ...(connection ? { eventStoreConnectionString: connection } : {}),
    logLevel,
    ...(scoringModelUrl ? { scoringModelUrl } : {}),
    ...(smtpUrl ? { smtpUrl } : {}),
    production: env.NODE_ENV === 'production',
    rateLimitPerMinute,
    bodyLimitBytes,
    ...(tlsCertFile && tlsKeyFile ? { tlsCertFile, tlsKeyFile } : {}),
    ...(paymentGatewayUrl ? { paymentGatewayUrl } : {}),
    ...(masterKey ? { masterKey } : {}), // issue 5
    personalDataFormat,
  };
}
