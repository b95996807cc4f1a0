import {
  BUCKET_NAME_PATTERN,
  envIssues,
  metricsTokenEnvShape,
  trialLimitsEnvShape,
  logEnvShape,
  redisEnvShape,
  redisSentinelOptions,
  requireSentinelPair,
  s3EnvShape,
  s3SettingsFromEnv,
  webhookEnvShape,
  type LogLevel,
  type RedisSentinelOptions,
  type S3Settings,
  withoutBlankValues,
} from '@setrain/protocol';
import { z } from 'zod';

import { ConfigError } from './config-error.js';

import { DEFAULT_SWEEP_RETENTION_SECONDS } from './sweep-archive.js';

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '0.0.0.0';
/** Spec bodies are small; 1 MiB leaves room for huge grids without inviting abuse. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_RECONCILE_INTERVAL_MS = 5000;
export const DEFAULT_PRESIGN_EXPIRES_SECONDS = 3600;

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
  HOST: z.string().min(1).default(DEFAULT_HOST),
  ...redisEnvShape,
  ...s3EnvShape,
  ...logEnvShape,
  ...webhookEnvShape,
  SETRAIN_API_KEYS_FILE: z.string().trim().min(1).optional(),
  SETRAIN_API_KEYS: z
    .string()
    .optional()
    .transform((v) => v ?? '')
    .pipe(z.string())
    .transform((v) =>
      v
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k.length > 0),
    )
    .refine(
      (keys) => keys.every((k) => k.length >= 16),
      'every API key must be at least 16 characters long',
    ),
  SETRAIN_ARTIFACTS_BUCKET: z
    .string({ error: 'is required: the bucket trials write their artifacts to' })
    .regex(BUCKET_NAME_PATTERN, 'must be a valid S3 bucket name'),
  ...trialLimitsEnvShape,
  ...metricsTokenEnvShape,
  SETRAIN_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(DEFAULT_BODY_LIMIT_BYTES),
  SETRAIN_RECONCILE_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(DEFAULT_RECONCILE_INTERVAL_MS),
  SETRAIN_PRESIGN_EXPIRES_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(DEFAULT_PRESIGN_EXPIRES_SECONDS),
  SETRAIN_SWEEP_RETENTION_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULT_SWEEP_RETENTION_SECONDS),
});

/** The API's configuration, read once from the environment. */
export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  /** Set with REDIS_SENTINELS and REDIS_SENTINEL_MASTER: connect through Sentinel. */
  readonly redisSentinel?: RedisSentinelOptions | undefined;
  readonly keyPrefix: string;
  /** Admin keys from SETRAIN_API_KEYS (named env-1, env-2, ...). */
  readonly apiKeys: readonly string[];
  /** Keys file with names and scopes (JSON or YAML); reloaded on SIGHUP and when it changes. */
  readonly apiKeysFile?: string | undefined;
  readonly s3: S3Settings;
  readonly artifactsBucket: string;
  /** Buckets datasets and backbone weights may be read from; the artifacts bucket is always one. */
  readonly dataBuckets: readonly string[];
  readonly bodyLimitBytes: number;
  /** Largest estimated memory of one trial a spec may reach (SETRAIN_MAX_TRIAL_MEMORY_BYTES). */
  readonly maxTrialMemoryBytes: number;
  /** Bearer token for the detailed /metrics series (SETRAIN_METRICS_TOKEN); unset: aggregates only. */
  readonly metricsToken?: string | undefined;
  readonly reconcileIntervalMs: number;
  readonly presignExpiresSeconds: number;
  /** Seconds a finished, archived sweep's Redis keys live (0: forever). */
  readonly sweepRetentionSeconds: number;
  readonly logLevel: LogLevel;
  /** SETRAIN_WEBHOOK_*: URLs for every sweep's events, the signing secret, retries. */
  readonly webhooks: {
    readonly urls: readonly string[];
    readonly secret: string | undefined;
    readonly attempts: number;
    readonly backoffMs: number;
    readonly allowedNetworks: readonly string[];
  };
}

/** Every variable the API reads (the compose file's API environment is checked against it). */
export const API_ENV_VARS: readonly string[] = Object.keys(envSchema.shape);

/** Parses the API's environment variables; throws ConfigError naming each bad one. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): ApiConfig {
  const env = withoutBlankValues(source);
  const result = envSchema.superRefine(requireSentinelPair).safeParse(env);
  // Checked apart from the schema so it is reported alongside every other bad variable.
  const noKeys =
    (env['SETRAIN_API_KEYS'] ?? '').split(',').every((k) => k.trim() === '') &&
    (env['SETRAIN_API_KEYS_FILE'] ?? '').trim() === '';
  const keysIssue = {
    variable: 'SETRAIN_API_KEYS',
    message:
      'must list at least one API key (comma-separated), unless SETRAIN_API_KEYS_FILE names a keys file',
  };
  // URLs without a secret would go unsigned: refused with the other bad variables.
  const unsigned =
    (env['SETRAIN_WEBHOOK_URLS'] ?? '').trim() !== '' &&
    env['SETRAIN_WEBHOOK_SECRET'] === undefined;
  const secretIssue = {
    variable: 'SETRAIN_WEBHOOK_SECRET',
    message:
      'must be set (at least 16 characters) when SETRAIN_WEBHOOK_URLS lists URLs: every delivery is signed with it',
  };
  if (!result.success || noKeys || unsigned) {
    throw new ConfigError([
      ...(result.success ? [] : envIssues(result.error)),
      ...(noKeys ? [keysIssue] : []),
      ...(unsigned ? [secretIssue] : []),
    ]);
  }
  const e = result.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisSentinel: redisSentinelOptions(e),
    keyPrefix: e.SETRAIN_KEY_PREFIX,
    apiKeys: Object.freeze([...e.SETRAIN_API_KEYS]),
    apiKeysFile: e.SETRAIN_API_KEYS_FILE,
    s3: s3SettingsFromEnv(e),
    artifactsBucket: e.SETRAIN_ARTIFACTS_BUCKET,
    dataBuckets: Object.freeze([
      ...new Set([e.SETRAIN_ARTIFACTS_BUCKET, ...e.SETRAIN_DATA_BUCKETS]),
    ]),
    bodyLimitBytes: e.SETRAIN_BODY_LIMIT_BYTES,
    maxTrialMemoryBytes: e.SETRAIN_MAX_TRIAL_MEMORY_BYTES,
    metricsToken: e.SETRAIN_METRICS_TOKEN,
    reconcileIntervalMs: e.SETRAIN_RECONCILE_INTERVAL_MS,
    presignExpiresSeconds: e.SETRAIN_PRESIGN_EXPIRES_SECONDS,
    sweepRetentionSeconds: e.SETRAIN_SWEEP_RETENTION_SECONDS,
    logLevel: e.LOG_LEVEL,
    webhooks: Object.freeze({
      urls: Object.freeze([...e.SETRAIN_WEBHOOK_URLS]),
      secret: e.SETRAIN_WEBHOOK_SECRET,
      attempts: e.SETRAIN_WEBHOOK_ATTEMPTS,
      backoffMs: e.SETRAIN_WEBHOOK_BACKOFF_MS,
      allowedNetworks: Object.freeze([...e.SETRAIN_WEBHOOK_ALLOWED_NETWORKS]),
    }),
  });
}
