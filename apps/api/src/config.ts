import {
  DEFAULT_KEY_PREFIX,
  redisSentinelEnvShape,
  redisSentinelOptions,
  requireSentinelPair,
  type RedisSentinelOptions,
} from '@setrain/protocol';
import { z } from 'zod';

import { ConfigError } from './config-error.js';

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '0.0.0.0';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** Spec bodies are small; 1 MiB leaves room for huge grids without inviting abuse. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_RECONCILE_INTERVAL_MS = 5000;
export const DEFAULT_PRESIGN_EXPIRES_SECONDS = 3600;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const booleanString = z
  .enum(['true', 'false', '1', '0'], { error: 'must be one of true, false, 1, 0' })
  .transform((v) => v === 'true' || v === '1');

const optionalNonEmpty = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
  HOST: z.string().min(1).default(DEFAULT_HOST),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .default(DEFAULT_REDIS_URL),
  REDIS_SENTINELS: redisSentinelEnvShape.REDIS_SENTINELS,
  REDIS_SENTINEL_MASTER: redisSentinelEnvShape.REDIS_SENTINEL_MASTER,
  SETRAIN_KEY_PREFIX: z.string().min(1).default(DEFAULT_KEY_PREFIX),
  SETRAIN_API_KEYS: z
    .string({ error: 'is required: a comma-separated list of bearer API keys' })
    .transform((v) =>
      v
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k.length > 0),
    )
    .refine((keys) => keys.length > 0, 'must list at least one API key (comma-separated)')
    .refine(
      (keys) => keys.every((k) => k.length >= 16),
      'every API key must be at least 16 characters long',
    ),
  S3_ENDPOINT: optionalNonEmpty,
  S3_REGION: optionalNonEmpty,
  S3_FORCE_PATH_STYLE: booleanString.optional(),
  S3_ACCESS_KEY_ID: optionalNonEmpty,
  S3_SECRET_ACCESS_KEY: optionalNonEmpty,
  SETRAIN_ARTIFACTS_BUCKET: z
    .string({ error: 'is required: the bucket trials write their artifacts to' })
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
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
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

/** The API's configuration, read once from the environment. */
export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  /** Set with REDIS_SENTINELS and REDIS_SENTINEL_MASTER: connect through Sentinel. */
  readonly redisSentinel?: RedisSentinelOptions | undefined;
  readonly keyPrefix: string;
  readonly apiKeys: readonly string[];
  readonly s3: {
    readonly endpoint?: string;
    readonly region?: string;
    readonly forcePathStyle?: boolean;
    readonly accessKeyId?: string;
    readonly secretAccessKey?: string;
  };
  readonly artifactsBucket: string;
  readonly bodyLimitBytes: number;
  readonly reconcileIntervalMs: number;
  readonly presignExpiresSeconds: number;
  readonly logLevel: LogLevel;
}

/** Parses the API's environment variables; throws ConfigError naming each bad one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const result = envSchema.superRefine(requireSentinelPair).safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? ''),
        message: issue.message,
      })),
    );
  }
  const e = result.data;
  const s3 = Object.freeze({
    ...(e.S3_ENDPOINT !== undefined ? { endpoint: e.S3_ENDPOINT } : {}),
    ...(e.S3_REGION !== undefined ? { region: e.S3_REGION } : {}),
    ...(e.S3_FORCE_PATH_STYLE !== undefined ? { forcePathStyle: e.S3_FORCE_PATH_STYLE } : {}),
    ...(e.S3_ACCESS_KEY_ID !== undefined ? { accessKeyId: e.S3_ACCESS_KEY_ID } : {}),
    ...(e.S3_SECRET_ACCESS_KEY !== undefined ? { secretAccessKey: e.S3_SECRET_ACCESS_KEY } : {}),
  });
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisSentinel: redisSentinelOptions(e),
    keyPrefix: e.SETRAIN_KEY_PREFIX,
    apiKeys: Object.freeze([...e.SETRAIN_API_KEYS]),
    s3,
    artifactsBucket: e.SETRAIN_ARTIFACTS_BUCKET,
    bodyLimitBytes: e.SETRAIN_BODY_LIMIT_BYTES,
    reconcileIntervalMs: e.SETRAIN_RECONCILE_INTERVAL_MS,
    presignExpiresSeconds: e.SETRAIN_PRESIGN_EXPIRES_SECONDS,
    logLevel: e.LOG_LEVEL,
  });
}
